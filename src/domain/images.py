"""Stored images: the record of one output of a job, kept in our own object storage."""

from __future__ import annotations

from datetime import datetime

import msgspec


class StoredImage(msgspec.Struct, frozen=True, kw_only=True):
    """One image we hold. `key` is the object-storage key, scoped by user and job."""

    id: str
    job_id: str
    user_id: str
    index: int
    key: str
    content_type: str
    size_bytes: int
    width: int
    height: int
    sha256: str
    created_at: datetime


def image_key(user_id: str, job_id: str, index: int, extension: str = "png", *,
              attempt: int | None = None) -> str:
    """The user-scoped object key: users/{user}/jobs/{job}/{index}.{ext}, or with the attempt
    that made it, users/{user}/jobs/{job}/a{attempt}/{index}.{ext} (what workers write: two
    attempts of one job never share a key, so one cannot delete the other's objects)."""
    if attempt is None:
        return f"users/{user_id}/jobs/{job_id}/{index}.{extension}"
    return f"users/{user_id}/jobs/{job_id}/a{attempt}/{index}.{extension}"
