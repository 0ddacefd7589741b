"""Job events over Redis pub/sub: the production `JobEventPublisher` and subscriber.

Every API and worker process publishes committed job changes to `imagegen:job-events:{job_id}`
and to `imagegen:job-events` (all jobs); a progress stream or the webhook recorder in any
process subscribes. Pub/sub is fire-and-forget: a watcher that is not connected misses events,
so a stream always starts from the job's stored state (the database stays the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import msgspec
import redis.asyncio as aioredis

from application.ports import JobEventPublisher, JobEventSubscriber
from domain.jobs import JobStatusChanged
from domain.previews import JobPreviewReady

CHANNEL = "imagegen:job-events"
QUEUE_SIZE = 64
_decoder = msgspec.json.Decoder(JobStatusChanged | JobPreviewReady)  # tagged: one union


def channel_for(job_id: str | None) -> str:
    return CHANNEL if job_id is None else f"{CHANNEL}:{job_id}"


class RedisJobEvents(JobEventPublisher, JobEventSubscriber):
    """Publish to and subscribe from Redis channels; one client (pool) per process."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> RedisJobEvents:
        return cls(aioredis.Redis.from_url(url))

    async def publish(self, events: Sequence[JobStatusChanged | JobPreviewReady]) -> None:
        if not events:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                data = msgspec.json.encode(event)
                pipe.publish(channel_for(event.job_id), data)
                pipe.publish(CHANNEL, data)
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, job_id: str | None = None) -> AsyncIterator[asyncio.Queue[JobStatusChanged]]:
        """A queue fed from the job's channel (all jobs when None) until the block exits."""
        queue: asyncio.Queue[JobStatusChanged] = asyncio.Queue(QUEUE_SIZE)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel_for(job_id))
        reader = asyncio.create_task(self._pump(pubsub, queue))
        try:
            yield queue
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()

    @staticmethod
    async def _pump(pubsub: aioredis.client.PubSub, queue: asyncio.Queue[JobStatusChanged]) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                event = _decoder.decode(message["data"])
            except msgspec.DecodeError:
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
