"""The ETA estimate: median of recent processing times, scaled by the queue in front."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.eta import estimate_eta_s
from domain.jobs import JobState, JobStatus

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def state(status: JobStatus = JobStatus.QUEUED, started_at: datetime | None = None) -> JobState:
    base = JobState(id="job_1", user_id="u", prompt="p", model="m", provider="local", width=64,
                    height=64, n=1, created_at=T0, updated_at=T0)
    return msgspec.structs.replace(base, status=status, started_at=started_at)


def test_a_queued_job_waits_its_share_of_the_queue_then_one_median() -> None:
    eta = estimate_eta_s(state(), recent_durations_s=[2.0, 10.0, 4.0], queue_position=3,
                         concurrency=2, now=T0)
    assert eta == 4 + 6  # median 4 s, plus 3 x 4 / 2


def test_a_running_job_has_what_is_left_of_the_median_and_never_less_than_a_second() -> None:
    running = state(JobStatus.GENERATING, started_at=T0)
    assert estimate_eta_s(running, recent_durations_s=[10.0], queue_position=0, concurrency=1,
                          now=T0 + timedelta(seconds=3)) == 7
    assert estimate_eta_s(running, recent_durations_s=[10.0], queue_position=0, concurrency=1,
                          now=T0 + timedelta(seconds=30)) == 1


def test_without_history_there_is_no_estimate_and_a_finished_job_needs_none() -> None:
    assert estimate_eta_s(state(), recent_durations_s=[], queue_position=1, concurrency=1,
                          now=T0) is None
    assert estimate_eta_s(state(JobStatus.COMPLETED), recent_durations_s=[], queue_position=0,
                          concurrency=1, now=T0) == 0
