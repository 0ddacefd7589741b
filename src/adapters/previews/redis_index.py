"""The production preview index: one Redis key per live job, expiring on its own.

Workers write, API processes read. The key expires after `ttl_s` even if the job's end was
never seen (a crashed process), so a stale preview cannot outlive it by long.
"""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis

from application.ports import PreviewIndex
from domain.previews import JobPreview

PREFIX = "imagegen:preview:"
_decoder = msgspec.json.Decoder(JobPreview)


class RedisPreviewIndex(PreviewIndex):
    def __init__(self, client: aioredis.Redis, *, ttl_s: int = 3600, prefix: str = PREFIX) -> None:
        self._redis, self._ttl, self._prefix = client, ttl_s, prefix

    @classmethod
    def from_url(cls, url: str, *, ttl_s: int = 3600, prefix: str = PREFIX) -> RedisPreviewIndex:
        return cls(aioredis.Redis.from_url(url), ttl_s=ttl_s, prefix=prefix)

    async def put(self, preview: JobPreview) -> None:
        await self._redis.set(self._prefix + preview.job_id, msgspec.json.encode(preview),
                              ex=self._ttl)

    async def get(self, job_id: str) -> JobPreview | None:
        raw = await self._redis.get(self._prefix + job_id)
        return _decoder.decode(raw) if raw else None

    async def delete(self, job_id: str) -> JobPreview | None:
        raw = await self._redis.getdel(self._prefix + job_id)
        return _decoder.decode(raw) if raw else None

    async def close(self) -> None:
        await self._redis.aclose()
