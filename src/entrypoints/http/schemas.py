"""Request and response bodies of the public API: camelCase msgspec Structs.

Domain structs are never returned directly; `views.py` maps them here.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from entrypoints.http.bounded import Id, ImageIds, Prompt, Seed, Short  # bounds: ADR 0080


class Api(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """Base of every body: camelCase on the wire, unknown fields refused."""


class JobCreate(Api):
    prompt: Prompt
    model: Short | None = None
    size: Short = "1024x1024"
    n: int = 1
    seed: Seed | None = None
    project_id: Id | None = None
    parent_job_id: Id | None = None
    input_image_ids: ImageIds = []
    mask_image_id: Id | None = None


class BalanceOut(Api):
    available: int
    reserved: int
    lifetime_spent: int


class JobCreated(Api):
    id: str
    status: str
    model: str
    estimated_credits: int
    balance: BalanceOut
    created_at: datetime


class Progress(Api):
    percent: int
    step: str


class JobError(Api):
    error_class: str
    message: str
    stage: str | None


class ImageRef(Api):
    id: str
    index: int
    content_type: str
    width: int
    height: int
    size_bytes: int


class Timestamps(Api):
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    generating_at: datetime | None
    uploading_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None


class TimelineEntry(Api):
    status: str
    at: datetime


class JobOut(Api):
    id: str
    status: str
    kind: str
    model: str
    provider: str
    prompt: str
    size: str
    n: int
    seed: int | None
    project_id: str | None
    parent_job_id: str | None
    progress: Progress
    queue_position: int
    attempts: int
    estimated_credits: int
    charged_credits: int | None
    provider_cost_micros: int
    error: JobError | None
    images: list[ImageRef]
    timestamps: Timestamps
    eta_seconds: int | None = msgspec.field(default=None)  # seconds to completion, from recent jobs
    retry_of_job_id: str | None = None  # the failed or cancelled job this one retries
    preview_url: str | None = None  # the newest streamed partial image while the job runs
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)  # from the timestamps, oldest first


class JobPageOut(Api):
    items: list[JobOut]
    next_cursor: str | None


class ImageOut(Api):
    id: str
    job_id: str
    index: int
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    url: str
    expires_in: int
    created_at: datetime


class ErrorDetail(Api, omit_defaults=True):
    """Fields that do not apply are left out, never sent as null."""

    type: str
    message: str
    field: str | None = None
    reason: str | None = None
    balance: BalanceOut | None = None
    required: int | None = None
    request_id: str | None = None  # the X-Request-Id of the request, for support and logs


class ErrorBody(Api):
    """Every 4xx/5xx answer of the API has this shape."""

    error: ErrorDetail


class Health(Api):
    status: str
