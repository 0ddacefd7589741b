"""CancelJob: stop a queued or running job and give its reserved credits back.

A finished job cannot be cancelled (`InvalidTransition`, answered 409). A worker that finishes
after the cancel finds the job cancelled and discards its output without charging. A job
parked at an async provider also has the provider told to stop, after the commit and best
effort: the cancel stands whatever the provider answers.
"""

from __future__ import annotations

import logging

from application.conflicts import retry_on_conflict
from application.errors import NotFound
from application.ports import Clock, JobEventPublisher, ProviderRegistry, UnitOfWorkFactory
from application.use_cases.resume_awaiting_job import async_control
from domain.jobs import JobState

log = logging.getLogger("imagegen.cancel")


class CancelJob:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, publisher: JobEventPublisher,
                 providers: ProviderRegistry | None = None) -> None:
        self._uow, self._clock, self._publisher = uow, clock, publisher
        self._providers = providers

    async def __call__(self, user_id: str, job_id: str) -> JobState:
        async def attempt() -> JobState:
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.lock_account(user_id)  # account, then job (ADR 0045)
                job = await uow.jobs.get(job_id)
                if job is None or job.state.user_id != user_id:
                    raise NotFound("job", job_id)
                parked[:] = [job.state]
                job.cancel(now=now)
                ledger = await uow.ledgers.load(user_id, job_ids=(job_id,))
                ledger.release(job_id, now=now, reason="cancelled")
                await uow.jobs.save(job)
                await uow.ledgers.append(ledger)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return job.state

        parked: list[JobState] = []
        state = await retry_on_conflict(attempt)
        if parked:
            await self._tell_provider(parked[0])
        return state

    async def _tell_provider(self, before: JobState) -> None:
        """Ask the async provider to stop the job's work; failures are logged, not raised."""
        if self._providers is None or not before.provider_job_id:
            return
        provider = async_control(self._providers.provider_for(before.provider))
        if provider is None:
            return
        try:
            await provider.cancel(before.provider_job_id, model=before.model)
        except Exception as exc:  # best effort: the job is cancelled and its credits released
            log.warning("provider cancel failed for job %s: %s", before.id, exc)
