"""RetryJob: a failed or cancelled job, submitted again as a new job linked to its predecessor.

The new job is an ordinary submission (new id, new reservation, same parameters) carrying
`retry_of_job_id`; the old job and its settled reservation stay as they were. A job has at
most one retry (a unique index on `retry_of_job_id`): retrying it again, or twice at once,
returns the first retry and reserves nothing more (ADR 0052).
"""

from __future__ import annotations

from application.commands import SubmitJob
from application.errors import NotFound
from application.ports import UnitOfWorkFactory
from application.use_cases.submit_generation import SubmitGeneration, SubmitResult
from domain.errors import InvalidTransition
from domain.jobs import JobStatus

RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})


class RetryJob:
    def __init__(self, *, uow: UnitOfWorkFactory, submit: SubmitGeneration) -> None:
        self._uow, self._submit = uow, submit

    async def __call__(self, user_id: str, job_id: str) -> SubmitResult:
        """Raise NotFound for another user's job, InvalidTransition unless failed or cancelled."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
        if job is None or job.state.user_id != user_id:
            raise NotFound("job", job_id)
        old = job.state
        if old.status not in RETRYABLE:
            raise InvalidTransition(job_id, old.status.value, "retry")
        return await self._submit(SubmitJob(
            user_id=user_id, prompt=old.prompt, model=old.model, size=f"{old.width}x{old.height}",
            n=old.n, seed=old.seed, project_id=old.project_id, parent_job_id=old.parent_job_id,
            input_image_ids=old.input_image_ids, mask_image_id=old.mask_image_id,
            retry_of_job_id=old.id))
