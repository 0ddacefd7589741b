"""ResumeAwaitingJob: finish a job whose async provider is done, by asking the provider for it.

Runs in a worker (enqueued by a webhook or by the poller). It first claims the job: a new
attempt with its own fence and a lease (ADR 0040), so a webhook and the poller resuming at once
cannot both download and store the result, and a resumer that dies is taken over once its lease
lapses. The claim is dropped when the job keeps waiting. Then it fetches the result by the
provider's job id, under a lease keeper: still running, or the provider cannot be asked
(`ProviderUnreachable`) -> the job keeps waiting, unless it has waited longer than `max_wait_s`,
reachable or not: then it fails with `timeout`, refunded, not retried (resubmitting could bill
twice); failed -> `FailOrRetry`; finished -> `ProcessGeneration.finish` with the claim's attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import logging

from application.errors import ConcurrencyConflict, ProviderUnreachable
from application.ports import (
    AsyncProviderControl, Clock, JobEventPublisher, ProviderRegistry, ProviderResult,
    UnitOfWorkFactory,
)
from application.use_cases.renew_lease import LeaseKeeper
from application.use_cases.settle_failure import FailOrRetry
from domain.errors import StaleAttempt
from domain.failures import ErrorClass, JobFailure
from domain.jobs import Attempt, FailureStage, JobState, JobStatus

log = logging.getLogger("imagegen.worker")

CLAIM_STEP = "Fetching the provider's result"
WAITING_STEP = "Waiting for the provider"

Finish = Callable[[str, ProviderResult, Attempt], Awaitable[JobState | None]]


def async_control(provider: object) -> AsyncProviderControl | None:
    """The provider as `AsyncProviderControl`, or None if it has no fetch/cancel calls.

    Duck-typed rather than `isinstance`: a wrapper that forwards attributes through
    `__getattr__` (the fallback router) is not seen by runtime protocol checks on 3.12+.
    """
    calls = (getattr(provider, "fetch_result", None), getattr(provider, "cancel", None))
    return provider if all(callable(c) for c in calls) else None  # type: ignore[return-value]


class ResumeAwaitingJob:
    def __init__(self, *, uow: UnitOfWorkFactory, providers: ProviderRegistry, finish: Finish,
                 fail_or_retry: FailOrRetry, clock: Clock, publisher: JobEventPublisher,
                 max_wait_s: int = 3600, worker_id: str = "resumer", lease_s: int = 300,
                 lease_keeper: LeaseKeeper | None = None) -> None:
        self._uow, self._providers, self._finish = uow, providers, finish
        self._fail_or_retry, self._clock, self._publisher = fail_or_retry, clock, publisher
        self._max_wait, self._lease = timedelta(seconds=max_wait_s), timedelta(seconds=lease_s)
        self._worker_id, self._keeper = worker_id, lease_keeper

    async def __call__(self, job_id: str) -> JobState | None:
        """Resume the job if it awaits a callback; return its state after (None if skipped)."""
        job = await self._claim_job(job_id)
        if job is None:
            return None
        attempt = Attempt(job.attempts, self._worker_id)
        try:
            if self._keeper is None:
                return await self._resume(job, attempt)
            async with self._keeper.hold(job_id, attempt):
                return await self._resume(job, attempt)
        except StaleAttempt as stale:
            log.warning("job.stale_attempt_stopped", extra={"job_id": job_id, "reason": str(stale)})
            return await self._state(job_id)

    async def _resume(self, job: JobState, attempt: Attempt) -> JobState | None:
        job_id = job.id
        provider = async_control(self._providers.provider_for(job.provider))
        if provider is None or not job.provider_job_id:
            failure = JobFailure(ErrorClass.INVALID_REQUEST,
                                 f"provider {job.provider} cannot be resumed")
            await self._fail_or_retry(job_id, failure, FailureStage.GENERATING, allow_retry=False,
                                      attempt=attempt)
            return await self._state(job_id)
        try:
            result = await provider.fetch_result(job.provider_job_id, model=job.model)
        except ProviderUnreachable:
            result = None  # cannot be asked now: waits like a running job, within its max wait
        except JobFailure as failure:
            await self._fail_or_retry(job_id, failure, FailureStage.GENERATING, attempt=attempt)
            return await self._state(job_id)
        if result is not None:
            return await self._finish(job_id, result, attempt)
        if job.generating_at is not None and self._clock.now() - job.generating_at > self._max_wait:
            failure = JobFailure(ErrorClass.TIMEOUT, f"{job.provider} did not finish within "
                                 f"{int(self._max_wait.total_seconds())} s")
            await self._fail_or_retry(job_id, failure, FailureStage.GENERATING, allow_retry=False,
                                      attempt=attempt)
            return await self._state(job_id)
        return await self._release(job_id, attempt)

    async def _claim_job(self, job_id: str) -> JobState | None:
        now = self._clock.now()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.status is not JobStatus.AWAITING_CALLBACK or job.held_at(now):
                return None  # not waiting, or another worker is resuming it under a live lease
            job.claim_resume(now=now, worker_id=self._worker_id, lease_expires_at=now + self._lease,
                             step=CLAIM_STEP)
            try:
                await uow.jobs.save(job)
                await uow.commit()
            except ConcurrencyConflict:
                return None
            events = uow.collect_new_events()
        await self._publisher.publish(events)
        return job.state

    async def _release(self, job_id: str, attempt: Attempt) -> JobState | None:
        """Drop the claim of a job that is still waiting, so the next webhook may resume it."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                return None
            job.fence(attempt)
            job.release_claim(now=self._clock.now(), step=WAITING_STEP)
            try:
                await uow.jobs.save(job)
                await uow.commit()
            except ConcurrencyConflict:
                pass  # someone else moved it on; their state stands
            return job.state

    async def _state(self, job_id: str) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            return job.state if job else None
