"""Hypothesis state machine over `Job`: any call order, only the table's edges ever move it.

Every verb is tried from every state. An allowed move (per the table below, written out from
the design's diagram and checked against `domain.jobs.TRANSITIONS`) must land on its target and
record exactly one `JobStatusChanged`; any other must raise `InvalidTransition` and change
nothing. Terminal jobs never change; attempts never drop; progress only drops on requeue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.errors import InvalidTransition, StaleAttempt
from domain.failures import ErrorClass
from domain.jobs import TRANSITIONS, Attempt, FailureStage, Job, JobState, JobStatus

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)
Q, P, G, A, U = (JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.GENERATING,
                 JobStatus.AWAITING_CALLBACK, JobStatus.UPLOADING)
TERMINAL = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
RUNNING = {P, G, A, U}
ALLOWED_FROM: dict[str, set[JobStatus]] = {
    "start": {Q},
    "begin_generation": {P},
    "await_callback": {G},
    "begin_upload": {G, A},
    "return_to_provider": {U},
    "complete": {U},
    "fail": {Q, *RUNNING},
    "cancel": {Q, *RUNNING},
    "requeue": RUNNING,
    "report_progress": RUNNING,
}
WORKERS = ("worker-1", "worker-2")
PROGRESS_FLOOR = {P: 5, G: 15, A: 20, U: 85}  # where each stage's progress bar starts

error_classes = st.sampled_from(list(ErrorClass))
costs = st.integers(0, 50_000)
image_ids = st.lists(st.text("abcdef0123456789", min_size=1, max_size=8), min_size=1,
                     max_size=3).map(tuple)


class JobMachine(RuleBasedStateMachine):
    """Calls every verb of one job in any order, with plausible arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.job = Job.submit(JobState(
            id="job-1", user_id="user-1", prompt="a lighthouse at dusk", model="dall-e-3",
            provider="openai", width=1024, height=1024, n=1, created_at=T0, updated_at=T0,
            estimated_credits=8))
        self.starts = 0
        self.moves = 0
        self.previous = self.job.state

    # -- helpers -------------------------------------------------------------------------
    def _move(self, action: str, call: Callable[[datetime], None],
              target: JobStatus | None) -> tuple[JobState, JobState] | None:
        """Try `call`; return (before, after) when the table allows it, None after a refusal."""
        self.now += timedelta(seconds=1)
        before, count = self.job.state, len(self.job.pending_events)
        if before.status not in ALLOWED_FROM[action]:
            with pytest.raises(InvalidTransition) as refused:
                call(self.now)
            assert refused.value.current == before.status.value
            assert refused.value.job_id == before.id
            assert self.job.state is before
            assert len(self.job.pending_events) == count
            return None
        call(self.now)
        after = self.job.state
        assert after.status is (target or before.status)
        assert after.updated_at == self.now
        assert len(self.job.pending_events) == count + 1
        event = self.job.pending_events[-1]
        assert (event.job_id, event.user_id) == (after.id, after.user_id)
        assert event.status is after.status
        assert (event.progress_percent, event.current_step) == (
            after.progress_percent, after.current_step)
        assert event.occurred_at == self.now
        self.moves += 1
        return before, after

    # -- rules ---------------------------------------------------------------------------
    @rule(worker=st.sampled_from(WORKERS), lease_s=st.integers(1, 120))
    def start(self, worker: str, lease_s: int) -> None:
        lease = self.now + timedelta(seconds=lease_s)
        moved = self._move("start", lambda now: self.job.start(
            now=now, worker_id=worker, lease_expires_at=lease), JobStatus.PROCESSING)
        if moved:
            before, after = moved
            self.starts += 1
            assert after.progress_percent == max(5, before.progress_percent)
            assert after.attempts == before.attempts + 1
            assert (after.worker_id, after.lease_expires_at) == (worker, lease)
            assert after.started_at == (before.started_at or self.now)
            assert after.next_attempt_at is None

    @rule()
    def begin_generation(self) -> None:
        moved = self._move("begin_generation", lambda now: self.job.begin_generation(now=now),
                           JobStatus.GENERATING)
        if moved:
            before, after = moved
            assert after.generating_at == self.now
            assert after.progress_percent == max(15, before.progress_percent)

    @rule(provider_job_id=st.sampled_from(["pred-1", "req-abc"]))
    def await_callback(self, provider_job_id: str) -> None:
        moved = self._move("await_callback", lambda now: self.job.await_callback(
            now=now, provider_job_id=provider_job_id), JobStatus.AWAITING_CALLBACK)
        if moved:
            before, after = moved
            assert after.progress_percent == max(20, before.progress_percent)
            assert after.provider_job_id == provider_job_id
            assert after.worker_id is None and after.lease_expires_at is None

    @rule(cost=costs)
    def begin_upload(self, cost: int) -> None:
        moved = self._move("begin_upload", lambda now: self.job.begin_upload(
            now=now, provider_cost_micros=cost), JobStatus.UPLOADING)
        if moved:
            before, after = moved
            assert after.uploading_at == self.now
            assert after.progress_percent == max(85, before.progress_percent)
            assert after.provider_cost_micros == before.provider_cost_micros + cost

    @rule(ids=image_ids, charged=st.integers(0, 40))
    def complete(self, ids: tuple[str, ...], charged: int) -> None:
        moved = self._move("complete", lambda now: self.job.complete(
            now=now, image_ids=ids, charged_credits=charged), JobStatus.COMPLETED)
        if moved:
            after = moved[1]
            assert (after.image_ids, after.charged_credits) == (ids, charged)
            assert (after.progress_percent, after.current_step) == (100, "Done")

    @rule(error_class=error_classes, stage=st.none() | st.sampled_from(list(FailureStage)),
          charged=st.integers(0, 40), cost=costs, message=st.text(max_size=20))
    def fail(self, error_class: ErrorClass, stage: FailureStage | None, charged: int, cost: int,
             message: str) -> None:
        moved = self._move("fail", lambda now: self.job.fail(
            now=now, error_class=error_class, message=message, charged_credits=charged,
            stage=stage, provider_cost_micros=cost), JobStatus.FAILED)
        if moved:
            before, after = moved
            default = (FailureStage.UPLOADING if before.status is JobStatus.UPLOADING
                       else FailureStage.GENERATING)
            assert after.failure_stage is (stage or default)
            assert (after.error_class, after.error_message) == (error_class.value, message)
            assert after.charged_credits == charged
            assert after.provider_cost_micros == before.provider_cost_micros + cost
            assert after.progress_percent == before.progress_percent

    @rule()
    def cancel(self) -> None:
        moved = self._move("cancel", lambda now: self.job.cancel(now=now), JobStatus.CANCELLED)
        if moved:
            assert moved[1].charged_credits == 0

    @rule(retry_in_s=st.integers(0, 30), error_class=st.none() | error_classes,
          message=st.none() | st.text(max_size=20), cost=costs)
    def requeue(self, retry_in_s: int, error_class: ErrorClass | None, message: str | None,
                cost: int) -> None:
        at = self.now + timedelta(seconds=retry_in_s)
        moved = self._move("requeue", lambda now: self.job.requeue(
            now=now, next_attempt_at=at, error_class=error_class, message=message,
            provider_cost_micros=cost), JobStatus.QUEUED)
        if moved:
            before, after = moved
            assert after.next_attempt_at == at
            assert (after.progress_percent, after.current_step) == (0, "Waiting in the queue")
            assert after.provider_job_id is None
            assert after.error_class == (error_class.value if error_class else before.error_class)
            assert after.error_message == (message if message is not None else before.error_message)
            assert after.attempts == before.attempts

    @rule(percent=st.integers(0, 99), step=st.sampled_from(["Rendering", "Upscaling"]))
    def report_progress(self, percent: int, step: str) -> None:
        moved = self._move("report_progress", lambda now: self.job.report_progress(
            now=now, percent=percent, step=step), None)
        if moved:
            before, after = moved
            assert after.progress_percent == max(percent, before.progress_percent)
            assert after.current_step == step

    @rule(worker=st.sampled_from(WORKERS), lease_s=st.integers(1, 120))
    def renew_lease(self, worker: str, lease_s: int) -> None:
        before, count = self.job.state, len(self.job.pending_events)
        lease = self.now + timedelta(seconds=lease_s)
        if before.worker_id == worker and before.status not in TERMINAL:
            self.job.renew_lease(attempt=Attempt(before.attempts, worker), lease_expires_at=lease)
            assert self.job.state.lease_expires_at == lease
            assert self.job.status is before.status
        else:
            with pytest.raises(StaleAttempt):
                self.job.renew_lease(attempt=Attempt(before.attempts, worker), lease_expires_at=lease)
            assert self.job.state is before
        assert len(self.job.pending_events) == count

    @rule(data=st.data())
    def advance_along_the_happy_path(self, data: st.DataObject) -> None:
        """The next step a healthy job takes; it keeps runs from dying young in a refusal."""
        status = self.job.status
        if status is JobStatus.QUEUED:
            self.start(data.draw(st.sampled_from(WORKERS), label="worker"), 30)
        elif status is JobStatus.PROCESSING:
            self.begin_generation()
        elif status is JobStatus.GENERATING and data.draw(st.booleans(), label="async"):
            self.await_callback("pred-1")
        elif status in (JobStatus.GENERATING, JobStatus.AWAITING_CALLBACK):
            self.begin_upload(1_000)
        elif status is JobStatus.UPLOADING:
            self.complete(("img-1",), 8)
        else:
            self.start(WORKERS[0], 30)  # refused: a finished job never restarts

    @initialize(data=st.data(), steps=st.integers(0, 5))
    def begin_somewhere_along_the_happy_path(self, data: st.DataObject, steps: int) -> None:
        """Start most runs deep in the machine, with progress reported along the way."""
        for _ in range(steps):
            self.advance_along_the_happy_path(data)
            if self.job.status in RUNNING and data.draw(st.booleans(), label="report"):
                self.report_progress(data.draw(st.integers(0, 99), label="percent"), "Rendering")

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def history_only_moves_forward(self) -> None:
        previous, state = self.previous, self.job.state
        if previous.status in TERMINAL:
            assert state == previous, "a terminal job never changes again"
        assert state.attempts >= previous.attempts
        if state.status is not JobStatus.QUEUED:
            assert state.progress_percent >= previous.progress_percent
        self.previous = state

    @invariant()
    def every_move_is_recorded_once(self) -> None:
        events = self.job.pending_events
        assert len(events) == 1 + self.moves
        assert events[0].status is JobStatus.QUEUED
        assert events[-1].status is self.job.status
        assert self.job.state.attempts == self.starts

    @invariant()
    def each_status_carries_its_facts(self) -> None:
        s = self.job.state
        if s.status is JobStatus.COMPLETED:
            assert s.image_ids and s.completed_at is not None and s.charged_credits is not None
        if s.status is JobStatus.FAILED:
            assert s.error_class is not None and s.failure_stage is not None
            assert s.failed_at is not None
        if s.status is JobStatus.CANCELLED:
            assert s.cancelled_at is not None
        if s.status in TERMINAL or s.status in (JobStatus.QUEUED, JobStatus.AWAITING_CALLBACK):
            assert s.worker_id is None and s.lease_expires_at is None
        if s.status in (JobStatus.PROCESSING, JobStatus.GENERATING):
            assert s.worker_id is not None and s.attempts >= 1
        if s.status in PROGRESS_FLOOR:
            assert s.progress_percent >= PROGRESS_FLOOR[s.status]
        assert 0 <= s.progress_percent <= 100


def test_the_transition_table_is_the_one_the_design_draws() -> None:
    assert {action: set(sources) for action, sources in TRANSITIONS.items()} == ALLOWED_FROM
    assert {status for status in JobStatus if status.terminal} == TERMINAL


JobMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestJobUnderAnySequenceOfCalls = JobMachine.TestCase
