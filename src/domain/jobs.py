"""The Job aggregate: a generation request moving through an explicit state machine.

    queued -> processing -> generating -> uploading -> completed
                                 |-> awaiting_callback -> uploading      (async providers)
    any live state -> failed (with failure_stage) | cancelled
    processing / generating / awaiting_callback / uploading -> queued  (retry or lost lease)
    uploading -> awaiting_callback  (an async job whose uploader died: fetch the result again)

Every attempt is fenced (ADR 0040): `start` and `claim_resume` hand out an `Attempt` (the job's
attempt number and the worker), and a use case calls `fence(attempt)` before any later write
of that attempt; the repository's compare-and-set on `revision` makes the check and the write
one step.

Nothing assigns a status directly: one method per transition checks the table and raises
`InvalidTransition` otherwise. State is held in an immutable `JobState`, which adapters persist;
every change is also recorded in `pending_events` for progress streams and webhooks.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

from domain.errors import InvalidTransition, StaleAttempt
from domain.failures import ErrorClass


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    GENERATING = "generating"
    AWAITING_CALLBACK = "awaiting_callback"
    UPLOADING = "uploading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
LIVE = frozenset(JobStatus) - TERMINAL


class FailureStage(enum.StrEnum):
    GENERATING = "generating"
    UPLOADING = "uploading"
    PERSISTING = "persisting"


_S = JobStatus
TRANSITIONS: dict[str, frozenset[JobStatus]] = {
    "start": frozenset({_S.QUEUED}),
    "begin_generation": frozenset({_S.PROCESSING}),
    "await_callback": frozenset({_S.GENERATING}),
    "begin_upload": frozenset({_S.GENERATING, _S.AWAITING_CALLBACK}),
    "return_to_provider": frozenset({_S.UPLOADING}),
    "complete": frozenset({_S.UPLOADING}),
    "fail": LIVE,
    "cancel": LIVE,
    "requeue": frozenset({_S.PROCESSING, _S.GENERATING, _S.AWAITING_CALLBACK, _S.UPLOADING}),
    "report_progress": frozenset({_S.PROCESSING, _S.GENERATING, _S.AWAITING_CALLBACK, _S.UPLOADING}),
}

_STEP_TEXT = {
    _S.QUEUED: ("Waiting in the queue", 0),
    _S.PROCESSING: ("Preparing the request", 5),
    _S.GENERATING: ("Generating the image", 15),
    _S.AWAITING_CALLBACK: ("Waiting for the provider", 20),
    _S.UPLOADING: ("Storing the result", 85),
    _S.COMPLETED: ("Done", 100),
}


class JobState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything persisted about a job. Build new states only through `Job`."""

    id: str
    user_id: str
    prompt: str
    model: str
    provider: str
    width: int
    height: int
    n: int
    created_at: datetime
    updated_at: datetime
    status: JobStatus = JobStatus.QUEUED
    seed: int | None = None
    project_id: str | None = None
    parent_job_id: str | None = None
    kind: str = "generate"
    estimated_credits: int = 0
    charged_credits: int | None = None
    provider_cost_micros: int = 0
    attempts: int = 0
    progress_percent: int = 0
    current_step: str = "Waiting in the queue"
    error_class: str | None = None
    error_message: str | None = None
    failure_stage: FailureStage | None = None
    provider_job_id: str | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    next_attempt_at: datetime | None = None
    started_at: datetime | None = None
    generating_at: datetime | None = None
    uploading_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    image_ids: tuple[str, ...] = ()
    input_image_ids: tuple[str, ...] = ()
    mask_image_id: str | None = None
    revision: int = 0
    retry_of_job_id: str | None = None
    dispatched_at: datetime | None = None


class Attempt(msgspec.Struct, frozen=True):
    """The fencing token of one attempt: the job's attempt number when it was claimed, and the
    claiming worker (one worker id may run many attempts at once in threads)."""

    number: int
    worker_id: str


class JobStatusChanged(msgspec.Struct, frozen=True, kw_only=True, tag="job.status_changed"):
    """Recorded on every change a client could watch."""

    job_id: str
    user_id: str
    status: JobStatus
    progress_percent: int
    current_step: str
    occurred_at: datetime
    error_class: str | None = None  # set on failed (and on a requeue after a failure)


class Job:
    """Behaviour over a `JobState`; the only way a job's status changes."""

    __slots__ = ("_state", "pending_events")

    def __init__(self, state: JobState) -> None:
        self._state = state
        self.pending_events: list[JobStatusChanged] = []

    @classmethod
    def submit(cls, state: JobState) -> Job:
        """A new job, queued; `state` must be fresh (status queued, no attempts)."""
        if state.status is not JobStatus.QUEUED or state.attempts:
            raise ValueError("a submitted job starts queued with no attempts")
        job = cls(state)
        job._emit(state.created_at)
        return job

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def id(self) -> str:
        return self._state.id

    @property
    def status(self) -> JobStatus:
        return self._state.status

    # -- transitions ---------------------------------------------------------------------
    def start(self, *, now: datetime, worker_id: str, lease_expires_at: datetime) -> None:
        """A worker takes the job: one more attempt, under a lease."""
        self._move("start", _S.PROCESSING, now, attempts=self._state.attempts + 1,
                   worker_id=worker_id, lease_expires_at=lease_expires_at,
                   started_at=self._state.started_at or now, next_attempt_at=None)

    @property
    def attempt(self) -> Attempt:
        """The token of the attempt that holds the job now."""
        return Attempt(self._state.attempts, self._state.worker_id or "")

    def fence(self, attempt: Attempt) -> None:
        """Raise `StaleAttempt` unless `attempt` still holds this live job."""
        if self.status.terminal:
            raise StaleAttempt(self.id, attempt.number, f"the job is {self.status.value}")
        if self._state.attempts != attempt.number or self._state.worker_id != attempt.worker_id:
            raise StaleAttempt(self.id, attempt.number, f"attempt {self._state.attempts} of "
                               f"{self._state.worker_id or 'nobody'} holds it now")

    def held_at(self, now: datetime) -> bool:
        """True while a worker holds the job under a lease that has not lapsed."""
        lease = self._state.lease_expires_at
        return self._state.worker_id is not None and lease is not None and lease >= now

    def claim_resume(self, *, now: datetime, worker_id: str, lease_expires_at: datetime,
                     step: str) -> None:
        """A worker takes a job parked at an async provider to fetch its result: a new attempt
        (a new fence), under a lease, without generating again."""
        if self._state.status is not _S.AWAITING_CALLBACK or self.held_at(now):
            raise InvalidTransition(self.id, self._state.status.value, "claim to resume")
        self._move("report_progress", _S.AWAITING_CALLBACK, now, attempts=self._state.attempts + 1,
                   worker_id=worker_id, lease_expires_at=lease_expires_at, current_step=step)

    def release_claim(self, *, now: datetime, step: str) -> None:
        """Drop a resume claim: the provider is still working, the job keeps waiting."""
        if self._state.status is not _S.AWAITING_CALLBACK:
            raise InvalidTransition(self.id, self._state.status.value, "release the claim of")
        self._move("report_progress", _S.AWAITING_CALLBACK, now, worker_id=None,
                   lease_expires_at=None, current_step=step)

    def return_to_provider(self, *, now: datetime) -> None:
        """An async job whose upload lapsed: its result is still at the provider, so wait for
        it again instead of generating (and paying) again."""
        if not self._state.provider_job_id:
            raise InvalidTransition(self.id, self._state.status.value, "return to the provider")
        self._move("return_to_provider", _S.AWAITING_CALLBACK, now, worker_id=None,
                   lease_expires_at=None)

    def mark_dispatched(self, *, now: datetime) -> None:
        """Record that a queued job's message was (re)sent, so other reapers do not send it too."""
        if self._state.status is not _S.QUEUED:
            raise InvalidTransition(self.id, self._state.status.value, "dispatch")
        self._state = msgspec.structs.replace(self._state, dispatched_at=now)

    def begin_generation(self, *, now: datetime) -> None:
        self._move("begin_generation", _S.GENERATING, now, generating_at=now)

    def await_callback(self, *, now: datetime, provider_job_id: str) -> None:
        """An async provider accepted the work; its webhook or the poller resumes the job."""
        self._move("await_callback", _S.AWAITING_CALLBACK, now, provider_job_id=provider_job_id,
                   worker_id=None, lease_expires_at=None)

    def begin_upload(self, *, now: datetime, provider_cost_micros: int,
                     lease_expires_at: datetime | None = None) -> None:
        """Start storing the result; the upload runs under a lease (a fresh one when given)."""
        self._move("begin_upload", _S.UPLOADING, now, uploading_at=now,
                   lease_expires_at=lease_expires_at or self._state.lease_expires_at,
                   provider_cost_micros=self._state.provider_cost_micros + provider_cost_micros)

    def complete(self, *, now: datetime, image_ids: tuple[str, ...], charged_credits: int) -> None:
        if not image_ids:
            raise ValueError("a completed job has at least one image")
        self._move("complete", _S.COMPLETED, now, completed_at=now, image_ids=image_ids,
                   charged_credits=charged_credits, worker_id=None, lease_expires_at=None)

    def fail(self, *, now: datetime, error_class: ErrorClass, message: str, charged_credits: int,
             stage: FailureStage | None = None, provider_cost_micros: int = 0) -> None:
        """End the job as failed; the stage defaults to where the job was."""
        self._move("fail", _S.FAILED, now, failed_at=now,
                   current_step=f"Failed while {(stage or self._stage_now()).value}: {error_class.value}", error_class=error_class.value,
                   error_message=message[:1000], failure_stage=stage or self._stage_now(),
                   charged_credits=charged_credits, worker_id=None, lease_expires_at=None,
                   next_attempt_at=None,
                   provider_cost_micros=self._state.provider_cost_micros + provider_cost_micros)

    def cancel(self, *, now: datetime) -> None:
        self._move("cancel", _S.CANCELLED, now, cancelled_at=now, charged_credits=0,
                   current_step="Cancelled",
                   worker_id=None, lease_expires_at=None, next_attempt_at=None)

    def requeue(self, *, now: datetime, next_attempt_at: datetime, error_class: ErrorClass | None = None,
                message: str | None = None, provider_cost_micros: int = 0) -> None:
        """Back to the queue for another attempt (a retryable failure, or a lapsed lease)."""
        self._move("requeue", _S.QUEUED, now, next_attempt_at=next_attempt_at, worker_id=None,
                   dispatched_at=None,
                   lease_expires_at=None, provider_job_id=None,
                   error_class=error_class.value if error_class else self._state.error_class,
                   error_message=message if message is not None else self._state.error_message,
                   provider_cost_micros=self._state.provider_cost_micros + provider_cost_micros)

    def report_progress(self, *, now: datetime, percent: int, step: str) -> None:
        """Move the progress bar forward within the current status (never backwards)."""
        if not 0 <= percent <= 99:
            raise ValueError("progress of a live job is between 0 and 99")
        self._move("report_progress", self._state.status, now,
                   progress_percent=max(percent, self._state.progress_percent), current_step=step)

    def renew_lease(self, *, attempt: Attempt, lease_expires_at: datetime) -> None:
        """Extend the lease of the attempt holding the job; `StaleAttempt` if it is not `attempt`."""
        self.fence(attempt)
        self._state = msgspec.structs.replace(self._state, lease_expires_at=lease_expires_at)

    # -- internals -----------------------------------------------------------------------
    def _stage_now(self) -> FailureStage:
        if self.status is _S.UPLOADING:
            return FailureStage.UPLOADING
        return FailureStage.GENERATING

    def _move(self, action: str, target: JobStatus, now: datetime, **changes: object) -> None:
        if self._state.status not in TRANSITIONS[action]:
            raise InvalidTransition(self.id, self._state.status.value, action.replace("_", " "))
        if target in _STEP_TEXT and action != "report_progress":
            step, percent = _STEP_TEXT[target]
            if target is not _S.QUEUED:  # only a requeue starts the progress bar over
                percent = max(percent, self._state.progress_percent)
            changes.setdefault("current_step", step)
            changes.setdefault("progress_percent", percent)
        self._state = msgspec.structs.replace(self._state, status=target, updated_at=now, **changes)
        self._emit(now)

    def _emit(self, now: datetime) -> None:
        s = self._state
        self.pending_events.append(JobStatusChanged(
            job_id=s.id, user_id=s.user_id, status=s.status, progress_percent=s.progress_percent,
            current_step=s.current_step, occurred_at=now,
            error_class=s.error_class if s.status in (_S.FAILED, _S.QUEUED) else None))
