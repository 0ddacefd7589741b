"""What every persistence adapter shares, whatever its technology: the job-page cursor, the
collector of job events, the revision stamp and the guard that dooms a unit after a conflict.

The cursor is opaque to clients but the same format in every store: base64url (unpadded) of
``<created_at ISO-8601>|<job id>``, the sort key of the last job on the page before. A cursor
that does not decode is an `InvalidRequest` on the ``cursor`` field.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime

import msgspec

from application.errors import ConcurrencyConflict
from domain.errors import InvalidRequest
from domain.jobs import Job, JobStatusChanged

__all__ = [
    "ConflictGuard", "JobEventCollector", "decode_cursor", "encode_cursor", "new_message_id",
    "stamp_revision",
]


def new_message_id() -> str:
    """A unique id for an outbox message a unit of work writes by itself (job events)."""
    return f"evt_{secrets.token_hex(13)}"


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """The cursor that resumes a newest-first listing after the job `(created_at, job_id)`."""
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of `encode_cursor`; raise `InvalidRequest` for anything it did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("cursor", "is not a cursor this service issued") from exc
    if created_at.tzinfo is None or not job_id:
        raise InvalidRequest("cursor", "is not a cursor this service issued")
    return created_at, job_id


class JobEventCollector:
    """Remembers the `Job` objects a unit of work added or saved, and after commit drains their
    `pending_events` (in the order the jobs were first written) for the caller to publish."""

    __slots__ = ("_jobs", "_ready")

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._ready: list[JobStatusChanged] = []

    def track(self, job: Job) -> None:
        self._jobs.setdefault(id(job), job)

    def pending(self) -> list[JobStatusChanged]:
        """The events the tracked jobs will hand over at commit (without taking them)."""
        return [event for job in self._jobs.values() for event in job.pending_events]

    def committed(self) -> None:
        """Move the events of every tracked job to the ready list and forget the jobs."""
        for job in self._jobs.values():
            self._ready.extend(job.pending_events)
            job.pending_events.clear()
        self._jobs.clear()

    def discard(self) -> None:
        """Forget tracked jobs without taking their events (the unit rolled back)."""
        self._jobs.clear()

    def take(self) -> list[JobStatusChanged]:
        ready, self._ready = self._ready, []
        return ready


def stamp_revision(job: Job, revision: int) -> None:
    """Make `job` carry the revision its state now has in the store.

    `Job` has no public way to learn its stored revision, and the use case keeps holding the
    same object, so this is the one place an adapter replaces `Job._state` (only `revision`
    changes). A second `save` of the object then compares against the right revision.
    """
    if job.state.revision != revision:
        job._state = msgspec.structs.replace(job.state, revision=revision)


class ConflictGuard:
    """Dooms a unit of work once any of its stores raised `ConcurrencyConflict`.

    Postgres aborts a transaction on an integrity error and then turns COMMIT into a silent
    ROLLBACK, while SQLite and memory would commit the unit's other writes. So that every
    backend behaves alike, a unit that lost a race refuses to commit at all.
    """

    __slots__ = ("_cause",)

    def __init__(self) -> None:
        self._cause: ConcurrencyConflict | None = None

    def conflict(self, message: str) -> ConcurrencyConflict:
        """Record and return a new conflict, for the caller to raise."""
        return self.record(ConcurrencyConflict(message))

    def record(self, exc: ConcurrencyConflict) -> ConcurrencyConflict:
        self._cause = exc
        return exc

    def check(self) -> None:
        """Raise `ConcurrencyConflict` if this unit already lost a race."""
        if self._cause is not None:
            raise ConcurrencyConflict(
                f"this unit of work lost a race ({self._cause}); roll back and retry"
            ) from self._cause

    def reset(self) -> None:
        self._cause = None
