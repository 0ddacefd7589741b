"""The token bucket: burst, refill rate, Retry-After, and the in-memory limiter on a FakeClock."""

from __future__ import annotations

import pytest

from adapters.clock import FakeClock
from adapters.rate_limit.memory import InMemoryRateLimiter
from domain.rate_limit import BucketState, RateLimit, take

pytestmark = pytest.mark.unit

LIMIT = RateLimit(per_minute=60, burst=3)  # one token a second, three at most


def test_a_fresh_bucket_allows_the_burst_then_refuses_with_a_retry_after() -> None:
    state, decisions = None, []
    for _ in range(4):
        state, decision = take(state, LIMIT, now=100.0)
        decisions.append(decision)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after_s == 1


def test_tokens_come_back_at_the_configured_rate_and_never_exceed_the_burst() -> None:
    empty = BucketState(tokens=0.0, updated_at=0.0)
    _, half = take(empty, LIMIT, now=0.5)
    assert not half.allowed and half.retry_after_s == 1
    _, later = take(empty, LIMIT, now=1.0)
    assert later.allowed and later.remaining == 0
    full, decision = take(empty, LIMIT, now=3600.0)
    assert decision.remaining == LIMIT.burst - 1 and full.tokens == LIMIT.burst - 1


def test_retry_after_is_the_whole_seconds_until_a_token_is_back() -> None:
    slow = RateLimit(per_minute=6, burst=1)  # one token every 10 s
    state, first = take(None, slow, now=0.0)
    _, second = take(state, slow, now=2.0)
    assert first.allowed and not second.allowed and second.retry_after_s == 8


def test_a_clock_going_backwards_refills_nothing() -> None:
    _, decision = take(BucketState(tokens=0.0, updated_at=10.0), LIMIT, now=5.0)
    assert not decision.allowed


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimit(per_minute=0, burst=1)


async def test_the_in_memory_limiter_keeps_one_bucket_per_key_and_refills_with_the_clock() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock)
    assert [(await limiter.acquire("a", LIMIT)).allowed for _ in range(4)] == [True, True, True, False]
    assert (await limiter.acquire("b", LIMIT)).allowed  # another key has its own bucket
    clock.advance(1.0)
    assert (await limiter.acquire("a", LIMIT)).allowed
    assert not (await limiter.acquire("a", LIMIT)).allowed
