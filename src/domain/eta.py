"""Estimated time to completion from recent processing times of the same model (pure)."""

from __future__ import annotations

import math
import statistics
from datetime import datetime

from domain.jobs import JobState, JobStatus


def estimate_eta_s(job: JobState, *, recent_durations_s: list[float], queue_position: int,
                   concurrency: int, now: datetime) -> int | None:
    """Seconds until `job` is likely done, or None when there is no history to go on.

    A queued job takes one median itself plus `queue_position` x median / concurrency for the
    queue in front (the position counts the job itself, which roughly stands for the jobs the
    workers are busy with); a running job takes what is left of the median (at least 1 s).

    Args:
        job: the job to estimate.
        recent_durations_s: completed_at - started_at of recent completed jobs of its model.
        queue_position: 1-based position among queued jobs (0 when not queued).
        concurrency: jobs processed at once by the workers (at least 1).
        now: the current time.
    """
    if job.status.terminal:
        return 0
    if not recent_durations_s:
        return None
    median = statistics.median(recent_durations_s)
    if job.status is JobStatus.QUEUED:
        return math.ceil(median + queue_position * median / max(concurrency, 1))
    elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
    return max(1, math.ceil(median - elapsed))
