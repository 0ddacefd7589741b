"""/readyz on the production profile: the broker check reuses one Redis client (one connection,
not one per probe) and its result is cached for about 2 s, like the database ping (ADR 0080).

Connections and PINGs are counted by spying on redis-py's asyncio client (the calls still reach
the real Redis)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

from tests.integration.hostile.conftest import profile_api

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"connects": 0, "pings": 0}
    connect, ping = AbstractConnection.connect, aioredis.Redis.ping

    async def counting_connect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self.is_connected:
            counts["connects"] += 1
        return await connect(self, *args, **kwargs)

    def counting_ping(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["pings"] += 1
        return ping(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "connect", counting_connect)
    monkeypatch.setattr(aioredis.Redis, "ping", counting_ping)
    return counts


async def test_readyz_reuses_one_redis_client_and_caches_the_broker_check(
        migrated_postgres: str, tmp_path: Path, redis_calls: dict[str, int]) -> None:
    async with profile_api(migrated_postgres, tmp_path, rate_limit_per_minute=0) as api:
        assert (await api.client.get("/readyz")).json()["broker"] == "ok"
        before = dict(redis_calls)
        answers = [await api.client.get("/readyz") for _ in range(20)]
        burst = {k: redis_calls[k] - before[k] for k in redis_calls}
        await asyncio.sleep(2.2)
        later = await api.client.get("/readyz")
        after_ttl = {k: redis_calls[k] - before[k] - burst[k] for k in redis_calls}
    assert all(a.status_code == 200 and a.json()["broker"] == "ok" for a in answers)
    assert burst == {"connects": 0, "pings": 0}  # cached: no new connection, no PING
    assert later.json()["broker"] == "ok"
    assert after_ttl == {"connects": 0, "pings": 1}  # checked again, on the same connection
