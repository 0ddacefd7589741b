"""Job events over Redis pub/sub: the production `JobEventPublisher` and subscriber (ADR 0082).

Every API and worker process publishes committed job changes to `imagegen:job-events`. Each
process holds ONE subscriber connection on that channel, started on the first subscription, and
fans the events out in memory to its watchers (per job, or all jobs). A stream therefore costs
a queue, not a pooled Redis connection: 100 streams once took every connection of the shared
pool and made unrelated requests answer 500. Pub/sub is fire-and-forget: a watcher that is not
connected misses events, so a stream always starts from the job's stored state (the database
stays the truth). A lost subscriber connection is re-established with a short backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import msgspec
import redis.asyncio as aioredis
import structlog

from adapters.events.in_process import InProcessJobEvents
from application.errors import ServiceUnavailable
from application.ports import JobEventPublisher, JobEventSubscriber
from domain.jobs import JobStatusChanged
from domain.previews import JobPreviewReady

CHANNEL = "imagegen:job-events"
QUEUE_SIZE = 64
SUBSCRIBE_TIMEOUT_S = 5.0
RECONNECT_S = 0.5
_decoder = msgspec.json.Decoder(JobStatusChanged | JobPreviewReady)  # tagged: one union
log = structlog.get_logger("imagegen.events.redis")


def channel_for(job_id: str | None) -> str:
    return CHANNEL


class RedisJobEvents(JobEventPublisher, JobEventSubscriber):
    """Publish to the Redis channel; subscribe through one per-process reader and a local hub."""

    def __init__(self, client: aioredis.Redis, *, channel: str = CHANNEL) -> None:
        self._redis = client
        self._channel = channel
        self._local = InProcessJobEvents()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.connections_opened = 0  # subscriber connections made by this process (tests, metrics)

    @classmethod
    def from_url(cls, url: str, **kwargs: str) -> RedisJobEvents:
        return cls(aioredis.Redis.from_url(url), **kwargs)

    async def publish(self, events: Sequence[JobStatusChanged | JobPreviewReady]) -> None:
        if not events:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self._channel, msgspec.json.encode(event))
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, job_id: str | None = None) -> AsyncIterator[asyncio.Queue[JobStatusChanged]]:
        """A queue of the job's events (all jobs when None), live once this returns."""
        async with self._local.subscribe(job_id) as queue:
            await self._ensure_reader()
            yield queue

    @property
    def watchers(self) -> int:
        return self._local.watchers

    async def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._ready.clear()
            self._reader = asyncio.create_task(self._read_forever(), name="job-events-subscriber")
        try:
            await asyncio.wait_for(self._ready.wait(), SUBSCRIBE_TIMEOUT_S)
        except TimeoutError as exc:
            raise ServiceUnavailable("job events are unavailable") from exc

    async def _read_forever(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.connections_opened += 1
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = _decoder.decode(message["data"])
                    except msgspec.DecodeError:
                        continue
                    await self._local.publish([event])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: watchers keep heartbeats, we reconnect
                self._ready.clear()
                log.warning("events.subscriber_lost", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(RECONNECT_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        await self._redis.aclose()
