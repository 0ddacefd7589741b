"""The production task queue: Dramatiq messages on Redis, sent without importing the actor.

A message names the actor (`PROCESS_ACTOR`) and carries only the job id; the job row is the
source of truth, so a lost, duplicated or late message costs a delay, never a wrong result.
"""

from __future__ import annotations

import asyncio

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from application.ports import TaskQueue

PROCESS_ACTOR = "process_generation"

#: Dramatiq refuses delays of 7 days or more.
MAX_DELAY_MS = 7 * 24 * 3600 * 1000 - 1


def make_redis_broker(url: str, *, connect_timeout_s: float = 2.0, socket_timeout_s: float = 10.0,
                      heartbeat_timeout_ms: int | None = None, namespace: str = "dramatiq") -> RedisBroker:
    """A Redis broker with bounded socket timeouts (a dead Redis fails a send in seconds)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s,
                                  socket_timeout=socket_timeout_s)
    kwargs = {} if heartbeat_timeout_ms is None else {"heartbeat_timeout": heartbeat_timeout_ms}
    return RedisBroker(client=client, namespace=namespace, **kwargs)


class DramatiqTaskQueue(TaskQueue):
    """Sends `PROCESS_ACTOR(job_id)` on `queue_name`; a delay goes to Dramatiq's delay queue."""

    def __init__(self, broker: dramatiq.Broker, queue_name: str = "imagegen") -> None:
        self.broker = broker
        self.queue_name = queue_name

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        """Send the message (in a thread: the Redis client is synchronous).

        Raises:
            redis.RedisError: when Redis cannot take it (the outbox keeps the job).
        """
        message = dramatiq.Message(queue_name=self.queue_name, actor_name=PROCESS_ACTOR,
                                   args=(job_id,), kwargs={}, options={})
        delay = min(int(delay_s * 1000), MAX_DELAY_MS) if delay_s > 0 else None
        await asyncio.to_thread(self.broker.enqueue, message, delay=delay)

    async def close(self) -> None:
        """Release the broker's Redis connections."""
        await asyncio.to_thread(self.broker.close)
