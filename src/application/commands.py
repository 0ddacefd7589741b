"""Input structs for the use cases; entrypoints build them from requests and arguments."""

from __future__ import annotations

import msgspec


class SubmitJob(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    prompt: str
    model: str
    size: str = "1024x1024"
    n: int = 1
    seed: int | None = None
    project_id: str | None = None
    parent_job_id: str | None = None
    input_image_ids: tuple[str, ...] = ()
    mask_image_id: str | None = None
    retry_of_job_id: str | None = None  # set by RetryJob: the failed or cancelled predecessor
    # The job's id when the caller derives it (an Idempotency-Key, ADR 0052): a job that
    # already exists under it is returned instead of a second one being created.
    job_id: str | None = None


class ListJobsQuery(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    status: str | None = None
    limit: int = 20
    cursor: str | None = None
