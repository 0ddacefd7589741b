"""Worker capacity from heartbeats in Redis: one expiring key per worker process.

Each Dramatiq process sets ``<prefix>:<worker_id>`` to its thread count every few seconds with
a TTL of about three periods; the API sums the live keys. A process that dies stops counting
within the TTL, so the ETA follows the real capacity (processes x threads).
"""

from __future__ import annotations

from typing import Any

from application.errors import ServiceUnavailable
from application.ports import WorkerCapacity


class RedisWorkerCapacity(WorkerCapacity):
    def __init__(self, client: Any, *, prefix: str) -> None:
        self._client, self._prefix = client, prefix

    @classmethod
    def from_url(cls, url: str, *, queue_name: str) -> RedisWorkerCapacity:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return cls(client, prefix=f"imagegen:{queue_name}:workers")

    async def beat(self, worker_id: str, slots: int, ttl_s: float) -> None:
        await self._client.set(f"{self._prefix}:{worker_id}", slots, px=int(ttl_s * 1000))

    async def total(self) -> int:
        """Raises ServiceUnavailable when Redis cannot be asked."""
        import redis.asyncio as aioredis

        try:
            keys = [k async for k in self._client.scan_iter(match=f"{self._prefix}:*", count=500)]
            values = await self._client.mget(keys) if keys else []
        except (aioredis.RedisError, OSError) as exc:
            raise ServiceUnavailable(f"worker heartbeats unreadable: {exc}") from exc
        return sum(int(v) for v in values if v is not None)

    async def aclose(self) -> None:
        await self._client.aclose()
