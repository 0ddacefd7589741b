"""Streaming previews: partial images a provider sends while it works (ADR 0072).

A preview is not a result: it is never charged, never counted against the storage quota,
replaced by the next preview (one object per job), and removed when the job ends. Watchers
learn of each one through a `JobPreviewReady` event on the job-events port.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class JobPreview(msgspec.Struct, frozen=True, kw_only=True):
    """The newest preview of a live job."""

    job_id: str
    user_id: str
    key: str
    index: int
    content_type: str
    updated_at: datetime


class JobPreviewReady(msgspec.Struct, frozen=True, kw_only=True, tag="job.preview_ready"):
    """Published when a job's preview was replaced by a newer partial image."""

    job_id: str
    user_id: str
    index: int
    key: str
    occurred_at: datetime


def preview_key(user_id: str, job_id: str, extension: str = "png") -> str:
    """The one object key a job's previews overwrite, beside its images."""
    return f"users/{user_id}/jobs/{job_id}/preview.{extension}"
