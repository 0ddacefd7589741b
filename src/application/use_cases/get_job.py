"""GetJob: one job of the caller's, with its queue position, ETA and images."""

from __future__ import annotations

import msgspec

from application.errors import NotFound, ServiceUnavailable
from application.ports import Clock, UnitOfWorkFactory, WorkerCapacity
from domain.eta import estimate_eta_s
from domain.images import StoredImage
from domain.jobs import JobState

#: How many recent completed jobs of the same model the ETA is estimated from.
ETA_SAMPLE = 20


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    job: JobState
    queue_position: int
    images: list[StoredImage]
    eta_seconds: int | None = None


class GetJob:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock | None = None,
                 concurrency: int = 1, capacity: WorkerCapacity | None = None) -> None:
        """`clock` enables the ETA (None leaves it out). The workers' total slots come from
        `capacity` (live heartbeats) when given, else the fixed `concurrency`; with no live
        worker there is no ETA."""
        self._uow = uow
        self._clock = clock
        self._concurrency = concurrency
        self._capacity = capacity

    async def __call__(self, user_id: str, job_id: str) -> JobView:
        """Raise NotFound for a missing job and for another user's job alike."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.state.user_id != user_id:
                raise NotFound("job", job_id)
            position = await uow.jobs.queue_position(job.state)
            images = await uow.images.for_job(job_id)
            eta = None
            slots = self._concurrency
            if self._clock is not None and self._capacity is not None and not job.status.terminal:
                try:
                    slots = await self._capacity.total()
                except ServiceUnavailable:
                    slots = 0  # unknown capacity: no ETA rather than a wrong one
            if self._clock is not None and slots > 0:
                recent = ([] if job.status.terminal else
                          await uow.jobs.recent_processing_seconds(job.state.model, ETA_SAMPLE))
                eta = estimate_eta_s(job.state, recent_durations_s=recent, queue_position=position,
                                     concurrency=slots, now=self._clock.now())
        return JobView(job=job.state, queue_position=position, images=images, eta_seconds=eta)
