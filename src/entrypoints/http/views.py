"""Mapping domain and use-case results to API bodies."""

from __future__ import annotations

from domain.credits import Balance
from domain.images import StoredImage
from domain.jobs import JobState
from entrypoints.http.schemas import (
    BalanceOut, ImageRef, JobError, JobOut, Progress, TimelineEntry, Timestamps,
)


def balance_out(balance: Balance) -> BalanceOut:
    return BalanceOut(available=balance.available, reserved=balance.reserved,
                      lifetime_spent=balance.lifetime_spent)


def timeline_of(job: JobState) -> list[TimelineEntry]:
    """Each status the job's timestamps record, oldest first (the latest entry of a repeated one)."""
    marks = [("queued", job.created_at), ("processing", job.started_at),
             ("generating", job.generating_at), ("uploading", job.uploading_at),
             ("completed", job.completed_at), ("failed", job.failed_at),
             ("cancelled", job.cancelled_at)]
    return [TimelineEntry(status=s, at=at) for s, at in sorted(
        ((s, at) for s, at in marks if at is not None), key=lambda m: m[1])]


def job_out(job: JobState, *, queue_position: int = 0, images: list[StoredImage] | None = None,
            eta_seconds: int | None = None, preview_url: str | None = None) -> JobOut:
    error = None
    if job.error_class is not None and job.status.value in ("failed", "queued"):
        error = JobError(error_class=job.error_class, message=job.error_message or "",
                         stage=job.failure_stage.value if job.failure_stage else None)
    return JobOut(
        id=job.id, status=job.status.value, kind=job.kind, model=job.model, provider=job.provider,
        prompt=job.prompt, size=f"{job.width}x{job.height}", n=job.n, seed=job.seed,
        project_id=job.project_id, parent_job_id=job.parent_job_id, retry_of_job_id=job.retry_of_job_id,
        progress=Progress(percent=job.progress_percent, step=job.current_step),
        queue_position=queue_position, eta_seconds=eta_seconds, attempts=job.attempts,
        estimated_credits=job.estimated_credits, charged_credits=job.charged_credits,
        provider_cost_micros=job.provider_cost_micros, error=error, preview_url=preview_url,
        images=[ImageRef(id=i.id, index=i.index, content_type=i.content_type, width=i.width,
                         height=i.height, size_bytes=i.size_bytes) for i in images or []],
        timestamps=Timestamps(
            created_at=job.created_at, updated_at=job.updated_at, started_at=job.started_at,
            generating_at=job.generating_at, uploading_at=job.uploading_at,
            completed_at=job.completed_at, failed_at=job.failed_at, cancelled_at=job.cancelled_at),
        timeline=timeline_of(job))
