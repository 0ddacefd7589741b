"""GetJob: one job of the caller's, with its queue position and images."""

from __future__ import annotations

import msgspec

from application.errors import NotFound
from application.ports import UnitOfWorkFactory
from domain.images import StoredImage
from domain.jobs import JobState


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    job: JobState
    queue_position: int
    images: list[StoredImage]


class GetJob:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, job_id: str) -> JobView:
        """Raise NotFound for a missing job and for another user's job alike."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.state.user_id != user_id:
                raise NotFound("job", job_id)
            position = await uow.jobs.queue_position(job.state)
            images = await uow.images.for_job(job_id)
        return JobView(job=job.state, queue_position=position, images=images)
