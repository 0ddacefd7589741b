"""CancelJob: stop a queued or running job and give its reserved credits back.

A finished job cannot be cancelled (`InvalidTransition`, answered 409). A worker that finishes
after the cancel finds the job cancelled and discards its output without charging.
"""

from __future__ import annotations

from application.conflicts import retry_on_conflict
from application.errors import NotFound
from application.ports import Clock, JobEventPublisher, UnitOfWorkFactory
from domain.jobs import JobState


class CancelJob:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, publisher: JobEventPublisher) -> None:
        self._uow, self._clock, self._publisher = uow, clock, publisher

    async def __call__(self, user_id: str, job_id: str) -> JobState:
        async def attempt() -> JobState:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None or job.state.user_id != user_id:
                    raise NotFound("job", job_id)
                job.cancel(now=now)
                ledger = await uow.ledgers.load(user_id)
                ledger.release(job_id, now=now, reason="cancelled")
                await uow.jobs.save(job)
                await uow.ledgers.append(ledger)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return job.state

        return await retry_on_conflict(attempt)
