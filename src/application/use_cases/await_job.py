"""AwaitJob: wait for one of the caller's jobs to finish, up to a deadline (synchronous APIs)."""

from __future__ import annotations

import asyncio

from application.errors import NotFound
from application.ports import Clock, JobEventSubscriber, UnitOfWorkFactory
from domain.jobs import JobState, JobStatusChanged

#: Re-read the job this often even without events (an event missed on a pub/sub hiccup).
POLL_S = 1.0


class AwaitJob:
    def __init__(self, *, uow: UnitOfWorkFactory, events: JobEventSubscriber, clock: Clock) -> None:
        self._uow, self._events, self._clock = uow, events, clock

    async def __call__(self, user_id: str, job_id: str, *, timeout_s: float) -> JobState:
        """The job's state once terminal, or its latest state when `timeout_s` runs out."""
        deadline = self._clock.now().timestamp() + timeout_s
        async with self._events.subscribe(job_id) as queue:
            state = await self._load(user_id, job_id)
            while not state.status.terminal:
                left = deadline - self._clock.now().timestamp()
                if left <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(POLL_S, left))
                    if not isinstance(event, JobStatusChanged) or not event.status.terminal:
                        continue  # progress only: no need to read the job again
                except TimeoutError:
                    pass
                state = await self._load(user_id, job_id)
        return state

    async def _load(self, user_id: str, job_id: str) -> JobState:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
        if job is None or job.state.user_id != user_id:
            raise NotFound("job", job_id)
        return job.state
