"""The broker check of /readyz: one Redis client for the process, its answer cached.

Each probe used to open (and close) a Redis connection of its own, so a load balancer probing
often, or a burst of /readyz, cost Redis a connection each. `RedisBrokerProbe` keeps one client
(connected lazily, on the event loop that probes) and answers from the last check for `ttl_s`
(ADR 0080's 2 s, as the database ping); concurrent probes share one check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class RedisBrokerProbe:
    def __init__(self, url: str, *, timeout_s: float = 2.0, ttl_s: float = 2.0) -> None:
        self._url, self._timeout, self._ttl = url, timeout_s, ttl_s
        self._client: Any = None
        self._lock: asyncio.Lock | None = None
        self._answer = ""
        self._checked_at = float("-inf")

    async def check(self) -> str:
        """"ok", or "unavailable: <error type>" (cached for `ttl_s` either way)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl:
                self._answer = await self._ping()
                self._checked_at = time.monotonic()
            return self._answer

    async def _ping(self) -> str:
        import redis.asyncio as aioredis

        if self._client is None:
            self._client = aioredis.Redis.from_url(self._url, socket_connect_timeout=self._timeout,
                                                   socket_timeout=self._timeout)
        try:
            await asyncio.wait_for(self._client.ping(), self._timeout)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
