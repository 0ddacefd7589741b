"""Batches: several jobs submitted as one request (many prompts, or one prompt on many models).

A batch is a named group of child jobs; its status and progress are derived from the
children's, never stored, so they cannot disagree.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import msgspec

from domain.jobs import JobState, JobStatus

MAX_BATCH_SIZE = 16


class BatchKind(enum.StrEnum):
    PROMPTS = "prompts"  # many prompts, one model
    COMPARE = "compare"  # one prompt, many models


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """The stored part of a batch: who made it, when, and its children in request order."""

    id: str
    user_id: str
    kind: BatchKind
    created_at: datetime
    job_ids: tuple[str, ...]


class BatchStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BatchSummary(msgspec.Struct, frozen=True, kw_only=True):
    status: BatchStatus
    progress_percent: int
    counts: dict[str, int]


def summarize(children: Sequence[JobState]) -> BatchSummary:
    """Derive a batch's status, progress and per-status counts from its children.

    Any live child makes the batch `processing` (`queued` if none has started). Once all are
    finished: all completed -> `completed`; all cancelled -> `cancelled`; no completed child ->
    `failed`; otherwise `partially_failed`. Progress is the mean of the children's, rounded down.
    """
    if not children:
        raise ValueError("a batch has at least one child")
    counts = Counter(child.status.value for child in children)
    statuses = {child.status for child in children}
    progress = sum(child.progress_percent for child in children) // len(children)
    if statuses == {JobStatus.QUEUED}:
        status = BatchStatus.QUEUED
    elif any(not s.terminal for s in statuses):
        status = BatchStatus.PROCESSING
    elif statuses == {JobStatus.COMPLETED}:
        status = BatchStatus.COMPLETED
    elif statuses == {JobStatus.CANCELLED}:
        status = BatchStatus.CANCELLED
    elif JobStatus.COMPLETED not in statuses:
        status = BatchStatus.FAILED
    else:
        status = BatchStatus.PARTIALLY_FAILED
    return BatchSummary(status=status, progress_percent=progress, counts=dict(counts))
