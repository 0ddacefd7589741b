"""The Redis token bucket (Lua, atomic): burst, refusal with Retry-After, concurrency, expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.rate_limit.redis import RedisRateLimiter
from application.errors import ServiceUnavailable
from domain.rate_limit import RateLimit
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RedisRateLimiter]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield RedisRateLimiter(client, prefix=f"test:{uuid.uuid4().hex}:")
    finally:
        await client.aclose()


async def test_the_burst_is_allowed_then_refused_with_a_retry_after(limiter: RedisRateLimiter) -> None:
    limit = RateLimit(per_minute=6, burst=3)
    decisions = [await limiter.acquire("a", limit) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 9 <= decisions[3].retry_after_s <= 10
    assert (await limiter.acquire("b", limit)).allowed


async def test_concurrent_requests_never_take_more_than_the_burst(limiter: RedisRateLimiter) -> None:
    limit = RateLimit(per_minute=1, burst=5)  # refill is negligible during the test
    decisions = await asyncio.gather(*(limiter.acquire("hot", limit) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 5


async def test_tokens_come_back_with_time(limiter: RedisRateLimiter) -> None:
    limit = RateLimit(per_minute=600, burst=1)  # a token every 0.1 s
    assert (await limiter.acquire("t", limit)).allowed
    assert not (await limiter.acquire("t", limit)).allowed
    await asyncio.sleep(0.15)
    assert (await limiter.acquire("t", limit)).allowed


async def test_an_unreachable_redis_is_service_unavailable() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        with pytest.raises(ServiceUnavailable):
            await RedisRateLimiter(client).acquire("x", RateLimit(per_minute=1, burst=1))
    finally:
        await client.aclose()
