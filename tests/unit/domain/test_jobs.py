"""Examples of the `Job` state machine: the happy paths, failures, cancels, retries and leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.errors import InvalidTransition, StaleAttempt
from domain.failures import ErrorClass
from domain.jobs import Attempt, FailureStage, Job, JobState, JobStatus

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "id": "job-1", "user_id": "user-1", "prompt": "a lighthouse at dusk",
        "model": "dall-e-3", "provider": "openai", "width": 1024, "height": 1024, "n": 1,
        "created_at": T0, "updated_at": T0, "estimated_credits": 8, **overrides}
    return Job.submit(JobState(**fields))  # type: ignore[arg-type]


def started_job(worker: str = "worker-1") -> Job:
    job = new_job()
    job.start(now=at(1), worker_id=worker, lease_expires_at=at(61))
    return job


def test_a_submitted_job_is_queued_and_records_one_event() -> None:
    job = new_job()

    assert job.status is JobStatus.QUEUED
    assert [e.status for e in job.pending_events] == [JobStatus.QUEUED]
    assert job.pending_events[0].occurred_at == T0
    assert job.state.current_step == "Waiting in the queue"


@pytest.mark.parametrize("changes", [{"status": JobStatus.PROCESSING}, {"attempts": 1}])
def test_submit_refuses_a_state_that_is_not_fresh(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        new_job(**changes)


def test_the_happy_path_stamps_every_stage() -> None:
    job = new_job()

    job.start(now=at(1), worker_id="worker-1", lease_expires_at=at(61))
    job.begin_generation(now=at(2))
    job.begin_upload(now=at(10), provider_cost_micros=40_000)
    job.complete(now=at(12), image_ids=("img-1",), charged_credits=8)

    s = job.state
    assert s.status is JobStatus.COMPLETED
    assert (s.started_at, s.generating_at, s.uploading_at, s.completed_at) == (
        at(1), at(2), at(10), at(12))
    assert s.updated_at == at(12)
    assert (s.attempts, s.image_ids, s.charged_credits) == (1, ("img-1",), 8)
    assert s.provider_cost_micros == 40_000
    assert (s.worker_id, s.lease_expires_at) == (None, None)
    assert [(e.status, e.progress_percent) for e in job.pending_events] == [
        (JobStatus.QUEUED, 0), (JobStatus.PROCESSING, 5), (JobStatus.GENERATING, 15),
        (JobStatus.UPLOADING, 85), (JobStatus.COMPLETED, 100)]
    assert job.pending_events[-1].current_step == "Done"


def test_an_async_provider_job_waits_for_its_callback_without_a_worker() -> None:
    job = started_job()
    job.begin_generation(now=at(2))

    job.await_callback(now=at(3), provider_job_id="pred-42")

    assert job.status is JobStatus.AWAITING_CALLBACK
    assert job.state.provider_job_id == "pred-42"
    assert (job.state.worker_id, job.state.lease_expires_at) == (None, None)
    assert job.state.current_step == "Waiting for the provider"

    job.begin_upload(now=at(30), provider_cost_micros=3_000)
    job.complete(now=at(31), image_ids=("img-1", "img-2"), charged_credits=16)

    assert job.state.completed_at == at(31)
    assert [e.status for e in job.pending_events][-3:] == [
        JobStatus.AWAITING_CALLBACK, JobStatus.UPLOADING, JobStatus.COMPLETED]


def test_a_job_cannot_complete_without_images() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.begin_upload(now=at(3), provider_cost_micros=0)

    with pytest.raises(ValueError):
        job.complete(now=at(4), image_ids=(), charged_credits=8)
    assert job.status is JobStatus.UPLOADING


def test_a_job_cannot_skip_generation() -> None:
    job = started_job()

    with pytest.raises(InvalidTransition) as refused:
        job.begin_upload(now=at(2), provider_cost_micros=0)
    assert (refused.value.current, refused.value.action) == ("processing", "begin upload")


# -- failures -------------------------------------------------------------------------------
def test_a_failure_while_uploading_defaults_to_the_uploading_stage() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.begin_upload(now=at(3), provider_cost_micros=1_000)

    job.fail(now=at(4), error_class=ErrorClass.STORAGE, message="S3 said no", charged_credits=0,
             provider_cost_micros=500)

    s = job.state
    assert (s.status, s.failure_stage, s.error_class) == (
        JobStatus.FAILED, FailureStage.UPLOADING, "storage")
    assert (s.failed_at, s.error_message, s.provider_cost_micros) == (at(4), "S3 said no", 1_500)


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_a_failure_before_uploading_defaults_to_the_generating_stage(steps: int) -> None:
    job = new_job()
    moves = [lambda: job.start(now=at(1), worker_id="w", lease_expires_at=at(60)),
             lambda: job.begin_generation(now=at(2))]
    for move in moves[:steps]:
        move()

    job.fail(now=at(5), error_class=ErrorClass.CONTENT_POLICY, message="blocked",
             charged_credits=0)

    assert job.state.failure_stage is FailureStage.GENERATING


def test_an_explicit_failure_stage_wins_over_the_default() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.begin_upload(now=at(3), provider_cost_micros=0)

    job.fail(now=at(4), error_class=ErrorClass.INTERNAL, message="db down", charged_credits=0,
             stage=FailureStage.PERSISTING)

    assert job.state.failure_stage is FailureStage.PERSISTING


def test_a_failure_message_is_capped_at_a_thousand_characters() -> None:
    job = started_job()

    job.fail(now=at(2), error_class=ErrorClass.INTERNAL, message="x" * 5000, charged_credits=0)

    assert job.state.error_message == "x" * 1000


# -- cancel ---------------------------------------------------------------------------------
def test_a_queued_job_can_be_cancelled() -> None:
    job = new_job()

    job.cancel(now=at(1))

    assert job.status is JobStatus.CANCELLED
    assert (job.state.cancelled_at, job.state.charged_credits) == (at(1), 0)
    assert job.pending_events[-1].status is JobStatus.CANCELLED


def test_cancelling_a_completed_job_raises_invalid_transition() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.begin_upload(now=at(3), provider_cost_micros=0)
    job.complete(now=at(4), image_ids=("img-1",), charged_credits=8)
    before = job.state

    with pytest.raises(InvalidTransition) as refused:
        job.cancel(now=at(5))

    assert (refused.value.job_id, refused.value.current, refused.value.action) == (
        "job-1", "completed", "cancel")
    assert job.state is before
    assert len(job.pending_events) == 5


# -- retries, progress and leases ------------------------------------------------------------
def test_a_requeued_job_starts_over_in_the_queue_and_counts_a_second_attempt() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.report_progress(now=at(3), percent=40, step="Rendering")

    job.requeue(now=at(4), next_attempt_at=at(6), error_class=ErrorClass.RATE_LIMITED,
                message="429")

    s = job.state
    assert (s.status, s.progress_percent, s.current_step) == (
        JobStatus.QUEUED, 0, "Waiting in the queue")
    assert (s.next_attempt_at, s.error_class, s.worker_id) == (at(6), "rate_limited", None)

    job.start(now=at(6), worker_id="worker-2", lease_expires_at=at(66))

    assert (job.state.attempts, job.state.started_at, job.state.next_attempt_at) == (2, at(1), None)


def test_progress_never_goes_back_when_the_job_moves_on() -> None:
    job = started_job()
    job.report_progress(now=at(2), percent=60, step="Downloading the reference image")

    job.begin_generation(now=at(3))

    assert job.state.progress_percent == 60
    assert job.state.current_step == "Generating the image"


def test_reported_progress_never_goes_backwards() -> None:
    job = started_job()
    job.report_progress(now=at(2), percent=50, step="Rendering")

    job.report_progress(now=at(3), percent=20, step="Still rendering")

    assert (job.state.progress_percent, job.state.current_step) == (50, "Still rendering")


@pytest.mark.parametrize("percent", [-1, 100])
def test_live_progress_stays_between_0_and_99(percent: int) -> None:
    with pytest.raises(ValueError):
        started_job().report_progress(now=at(2), percent=percent, step="x")


def test_a_queued_job_cannot_report_progress() -> None:
    with pytest.raises(InvalidTransition):
        new_job().report_progress(now=at(1), percent=10, step="x")


def test_the_lease_holder_can_renew_its_lease_without_an_event() -> None:
    job = started_job("worker-1")

    job.renew_lease(attempt=Attempt(1, "worker-1"), lease_expires_at=at(120))

    assert job.state.lease_expires_at == at(120)
    assert len(job.pending_events) == 2


def test_renewing_a_lease_held_by_another_worker_raises() -> None:
    job = started_job("worker-1")

    with pytest.raises(StaleAttempt):
        job.renew_lease(attempt=Attempt(1, "worker-2"), lease_expires_at=at(120))
    assert job.state.lease_expires_at == at(61)


def test_a_finished_job_has_no_lease_to_renew() -> None:
    job = started_job("worker-1")
    job.fail(now=at(2), error_class=ErrorClass.AUTH, message="bad key", charged_credits=0)

    with pytest.raises(StaleAttempt):
        job.renew_lease(attempt=Attempt(1, "worker-1"), lease_expires_at=at(120))


def test_a_job_state_round_trips_through_json() -> None:
    job = started_job()
    job.begin_generation(now=at(2))
    job.fail(now=at(3), error_class=ErrorClass.TIMEOUT, message="slow", charged_credits=0)

    restored = msgspec.json.decode(msgspec.json.encode(job.state), type=JobState)

    assert restored == job.state
    assert restored.status is JobStatus.FAILED
    assert restored.failure_stage is FailureStage.GENERATING
