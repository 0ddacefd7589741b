"""RecoverJobs (the reaper): dispatch queued jobs that are due, and requeue jobs whose worker
lease lapsed, counting the lost attempt against the retry policy like any timeout."""

from __future__ import annotations

from application.ports import Clock, TaskQueue, UnitOfWorkFactory
from application.use_cases.settle_failure import FailOrRetry
from domain.failures import ErrorClass, JobFailure
from domain.jobs import FailureStage, JobStatus


class RecoverJobs:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 fail_or_retry: FailOrRetry) -> None:
        self._uow, self._queue, self._clock, self._fail_or_retry = uow, queue, clock, fail_or_retry

    async def __call__(self, limit: int = 500) -> int:
        """Return how many jobs were dispatched or requeued."""
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.jobs.due_for_dispatch(now, limit)
            jobs = [await uow.jobs.get(job_id) for job_id in due]
        for job in jobs:
            if job is None:
                continue
            if job.status is JobStatus.QUEUED:
                await self._queue.enqueue(job.id)
            else:
                stage = FailureStage.UPLOADING if job.status is JobStatus.UPLOADING else FailureStage.GENERATING
                lost = JobFailure(ErrorClass.TIMEOUT, f"worker {job.state.worker_id} stopped renewing its lease")
                await self._fail_or_retry(job.id, lost, stage, lapsed_worker=job.state.worker_id or "")
        return len(jobs)
