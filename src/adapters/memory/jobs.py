"""Jobs in memory, with the same compare-and-set on `revision` as the SQL repository.

Writes are staged in the unit and checked twice: when made (against committed and staged
state, like an UPDATE ... WHERE revision = n) and again at commit (against what other units
committed meanwhile), so a stale writer gets `ConcurrencyConflict` either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import msgspec

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard, decode_cursor, encode_cursor, stamp_revision
from application.ports import JobPage, JobRepository
from domain.jobs import Job, JobState, JobStatus

_LEASED = frozenset({JobStatus.PROCESSING, JobStatus.GENERATING, JobStatus.UPLOADING})


def _key(state: JobState) -> tuple[datetime, str]:
    return state.created_at, state.id


class InMemoryJobRepository(JobRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard,
                 track: Callable[[Job], None]) -> None:
        self._db = db
        self._guard = guard
        self._track = track
        self._staged: dict[str, bytes] = {}
        self._base: dict[str, int | None] = {}  # committed revision when first staged

    # -- port ------------------------------------------------------------------------------
    async def add(self, job: Job) -> None:
        """Stage the job at revision 0; `ConcurrencyConflict` if the id exists."""
        if self._stored(job.id) is not None:
            raise self._guard.conflict(f"job {job.id} already exists")
        if job.state.retry_of_job_id is not None and await self.retry_of(job.state.retry_of_job_id):
            raise self._guard.conflict(f"job {job.state.retry_of_job_id} already has a retry")
        stamp_revision(job, 0)
        self._stage(job.state, base=None)
        self._track(job)

    async def get(self, job_id: str) -> Job | None:
        state = self._stored(job_id)
        return None if state is None else Job(state)

    async def save(self, job: Job) -> None:
        """Stage the job if it is still at `job.state.revision`, else `ConcurrencyConflict`."""
        loaded = job.state.revision
        stored = self._stored(job.id)
        if stored is None or stored.revision != loaded:
            raise self._guard.conflict(f"job {job.id} changed since revision {loaded} was read")
        self._stage(msgspec.structs.replace(job.state, revision=loaded + 1), base=loaded)
        stamp_revision(job, loaded + 1)
        self._track(job)

    async def list_for_user(self, user_id: str, *, status: JobStatus | None, limit: int,
                            cursor: str | None) -> JobPage:
        after = decode_cursor(cursor) if cursor is not None else None
        found = sorted((s for s in self._all() if s.user_id == user_id
                        and (status is None or s.status is status)
                        and (after is None or _key(s) < after)), key=_key, reverse=True)
        items = found[:limit]
        next_cursor = None
        if len(found) > limit and items:
            next_cursor = encode_cursor(items[-1].created_at, items[-1].id)
        return JobPage(items=items, next_cursor=next_cursor)

    async def queue_position(self, job: JobState) -> int:
        if job.status is not JobStatus.QUEUED:
            return 0
        return 1 + sum(1 for s in self._all()
                       if s.status is JobStatus.QUEUED and _key(s) < _key(job))

    async def due_for_dispatch(self, now: datetime, limit: int) -> list[str]:
        due = [s for s in self._all() if (
            s.status is JobStatus.QUEUED and (s.next_attempt_at is None or s.next_attempt_at <= now)
        ) or (s.status in _LEASED and s.lease_expires_at is not None and s.lease_expires_at < now)]
        return [s.id for s in sorted(due, key=_key)[:limit]]

    async def lapsed_leases(self, now: datetime, limit: int) -> list[str]:
        lapsed = [s for s in self._all() if s.status in _LEASED
                  and (s.lease_expires_at is None or s.lease_expires_at < now)]
        lapsed.sort(key=lambda s: (s.lease_expires_at is not None, s.lease_expires_at or now, *_key(s)))
        return [s.id for s in lapsed[:limit]]

    async def queued_to_resend(self, now: datetime, sent_before: datetime, limit: int) -> list[str]:
        due = [s for s in self._all() if s.status is JobStatus.QUEUED
               and (s.next_attempt_at is None or s.next_attempt_at <= now)
               and (s.dispatched_at or s.next_attempt_at or s.updated_at) <= sent_before]
        return [s.id for s in sorted(due, key=_key)[:limit]]

    async def awaiting_since_generation(self, before: datetime, limit: int) -> list[str]:
        waiting = [s for s in self._all() if s.status is JobStatus.AWAITING_CALLBACK
                   and (s.generating_at is None or s.generating_at < before)]
        return [s.id for s in sorted(waiting, key=_key)[:limit]]

    async def recent_processing_seconds(self, model: str, limit: int) -> list[float]:
        done = sorted((s for s in self._all() if s.model == model and s.status is JobStatus.COMPLETED
                       and s.started_at is not None and s.completed_at is not None),
                      key=lambda s: (s.completed_at, s.id), reverse=True)
        return [(s.completed_at - s.started_at).total_seconds()  # type: ignore[operator]
                for s in done[:limit]]

    async def by_provider_job_id(self, provider: str, provider_job_id: str) -> Job | None:
        found = [s for s in self._all()
                 if s.provider == provider and s.provider_job_id == provider_job_id]
        return Job(max(found, key=_key)) if found else None

    async def awaiting_callback_since(self, before: datetime, limit: int) -> list[str]:
        waiting = [s for s in self._all()
                   if s.status is JobStatus.AWAITING_CALLBACK and s.updated_at < before]
        return [s.id for s in sorted(waiting, key=_key)[:limit]]

    async def retry_of(self, job_id: str) -> Job | None:
        found = [s for s in self._all() if s.retry_of_job_id == job_id]
        return Job(found[0]) if found else None

    # -- unit of work ----------------------------------------------------------------------
    def check_commit(self) -> None:
        for job_id, base in self._base.items():
            data = self._db.jobs.get(job_id)
            if (None if data is None else decode(data, JobState).revision) != base:
                raise self._guard.conflict(f"job {job_id} was changed by another unit of work")
        retried = {decode(d, JobState).retry_of_job_id for i, d in self._db.jobs.items()
                   if i not in self._staged} - {None}
        for job_id, base in self._base.items():
            retry_of = decode(self._staged[job_id], JobState).retry_of_job_id
            if base is None and retry_of in retried:  # as SQL's unique index on retry_of_job_id
                raise self._guard.conflict(f"job {retry_of} already has a retry")

    def apply_commit(self) -> None:
        self._db.jobs.update(self._staged)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        self._base.clear()

    # -- internals -------------------------------------------------------------------------
    def _stored(self, job_id: str) -> JobState | None:
        data = self._staged.get(job_id, self._db.jobs.get(job_id))
        return None if data is None else decode(data, JobState)

    def _stage(self, state: JobState, *, base: int | None) -> None:
        self._base.setdefault(state.id, base)
        self._staged[state.id] = encode(state)

    def _all(self) -> Iterable[JobState]:
        for data in {**self._db.jobs, **self._staged}.values():
            yield decode(data, JobState)
