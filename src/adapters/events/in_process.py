"""In-process job-event hub: committed job changes fanned out to watchers in this process.

The embedded profile's `JobEventPublisher`; progress streams subscribe per job. A slow
subscriber loses its oldest events rather than blocking publishers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from application.ports import JobEventPublisher, JobEventSubscriber
from domain.jobs import JobStatusChanged

QUEUE_SIZE = 64


class InProcessJobEvents(JobEventPublisher, JobEventSubscriber):
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[JobStatusChanged]]] = defaultdict(set)
        self._listeners: list[asyncio.Queue[JobStatusChanged]] = []

    async def publish(self, events: Sequence[JobStatusChanged]) -> None:
        for event in events:
            for queue in (*self._subscribers.get(event.job_id, ()), *self._listeners):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(event)

    @property
    def watchers(self) -> int:
        """Open subscriptions (per job and all-jobs)."""
        return sum(len(q) for q in self._subscribers.values()) + len(self._listeners)

    @asynccontextmanager
    async def subscribe(self, job_id: str | None = None) -> AsyncIterator[asyncio.Queue[JobStatusChanged]]:
        """A queue of the events of one job (or of every job when `job_id` is None)."""
        queue: asyncio.Queue[JobStatusChanged] = asyncio.Queue(QUEUE_SIZE)
        target = self._listeners if job_id is None else None
        if target is not None:
            target.append(queue)
        else:
            self._subscribers[job_id].add(queue)  # type: ignore[index]
        try:
            yield queue
        finally:
            if target is not None:
                target.remove(queue)
            else:
                subs = self._subscribers[job_id]  # type: ignore[index]
                subs.discard(queue)
                if not subs:
                    del self._subscribers[job_id]  # type: ignore[arg-type]
