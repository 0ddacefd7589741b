"""Jobs in SQL: one row per job, written with compare-and-set on `revision`.

`add` inserts at revision 0; `save` updates only the row still at the revision the job carries
and moves it one up, so a writer holding a stale job gets `ConcurrencyConflict` and nothing
changes. The `Job` object is stamped with its new revision, so it can be saved again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Row

from adapters.persistence import decode_cursor, encode_cursor, stamp_revision
from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import jobs
from application.ports import JobPage, JobRepository
from domain.jobs import FailureStage, Job, JobState, JobStatus

_LEASED = (JobStatus.PROCESSING, JobStatus.GENERATING, JobStatus.UPLOADING)
_ids_decoder = msgspec.json.Decoder(tuple[str, ...])


def _to_row(state: JobState) -> dict[str, Any]:
    row = msgspec.structs.asdict(state)
    row["status"] = state.status.value
    row["failure_stage"] = state.failure_stage.value if state.failure_stage else None
    row["image_ids"] = msgspec.json.encode(state.image_ids).decode()
    row["input_image_ids"] = msgspec.json.encode(state.input_image_ids).decode()
    return row


def _to_domain(row: Row[Any]) -> JobState:
    data = dict(row._mapping)
    data["status"] = JobStatus(data["status"])
    if data["failure_stage"] is not None:
        data["failure_stage"] = FailureStage(data["failure_stage"])
    data["image_ids"] = _ids_decoder.decode(data["image_ids"])
    data["input_image_ids"] = _ids_decoder.decode(data["input_image_ids"])
    return JobState(**data)


def _before(created_at: datetime, job_id: str) -> Any:
    """Rows whose sort key (created_at, id) is smaller than the given one."""
    return or_(jobs.c.created_at < created_at,
               and_(jobs.c.created_at == created_at, jobs.c.id < job_id))


class SqlAlchemyJobRepository(JobRepository):
    """Jobs on one connection; `track` is told about every job added or saved."""

    def __init__(self, db: GuardedConnection, track: Callable[[Job], None]) -> None:
        self._db = db
        self._track = track

    async def add(self, job: Job) -> None:
        """Insert the job at revision 0; `ConcurrencyConflict` if the id exists."""
        stamp_revision(job, 0)
        await self._db.execute(f"add job {job.id}", jobs.insert().values(_to_row(job.state)))
        self._track(job)

    async def get(self, job_id: str) -> Job | None:
        query = select(jobs).where(jobs.c.id == job_id)
        row = (await self._db.execute(f"get job {job_id}", query)).first()
        return None if row is None else Job(_to_domain(row))

    async def save(self, job: Job) -> None:
        """Write the job if the row is still at `job.state.revision`, else `ConcurrencyConflict`."""
        loaded = job.state.revision
        values = _to_row(msgspec.structs.replace(job.state, revision=loaded + 1))
        del values["id"]
        statement = jobs.update().where(jobs.c.id == job.id, jobs.c.revision == loaded)
        result = await self._db.execute(f"save job {job.id}", statement.values(values))
        if result.rowcount != 1:
            raise self._db.conflict(f"job {job.id} changed since revision {loaded} was read")
        stamp_revision(job, loaded + 1)
        self._track(job)

    async def list_for_user(self, user_id: str, *, status: JobStatus | None, limit: int,
                            cursor: str | None) -> JobPage:
        query = select(jobs).where(jobs.c.user_id == user_id)
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if cursor is not None:
            query = query.where(_before(*decode_cursor(cursor)))
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        rows = (await self._db.execute(f"list jobs of {user_id}", query)).all()
        items = [_to_domain(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit and items:
            next_cursor = encode_cursor(items[-1].created_at, items[-1].id)
        return JobPage(items=items, next_cursor=next_cursor)

    async def queue_position(self, job: JobState) -> int:
        if job.status is not JobStatus.QUEUED:
            return 0
        query = select(func.count()).select_from(jobs).where(
            jobs.c.status == JobStatus.QUEUED.value, _before(job.created_at, job.id))
        ahead: int = (await self._db.execute(f"queue position of {job.id}", query)).scalar_one()
        return 1 + ahead

    async def due_for_dispatch(self, now: datetime, limit: int) -> list[str]:
        queued_and_due = and_(
            jobs.c.status == JobStatus.QUEUED.value,
            or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now))
        lease_lapsed = and_(jobs.c.status.in_([s.value for s in _LEASED]),
                            jobs.c.lease_expires_at < now)
        query = (select(jobs.c.id).where(or_(queued_and_due, lease_lapsed))
                 .order_by(jobs.c.created_at, jobs.c.id).limit(limit))
        return list((await self._db.execute("select jobs due for dispatch", query)).scalars())

    async def lapsed_leases(self, now: datetime, limit: int) -> list[str]:
        """Jobs in a leased status whose lease lapsed or was never set, oldest lapse first."""
        query = (select(jobs.c.id)
                 .where(jobs.c.status.in_([s.value for s in _LEASED]),
                        or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now))
                 .order_by(jobs.c.lease_expires_at.is_not(None), jobs.c.lease_expires_at,
                           jobs.c.created_at, jobs.c.id).limit(limit))
        return list((await self._db.execute("select jobs whose lease lapsed", query)).scalars())

    async def queued_to_resend(self, now: datetime, sent_before: datetime, limit: int) -> list[str]:
        """Queued jobs that are due and were last sent (or queued) no later than `sent_before`."""
        last_sent = func.coalesce(jobs.c.dispatched_at, jobs.c.next_attempt_at, jobs.c.updated_at)
        query = (select(jobs.c.id)
                 .where(jobs.c.status == JobStatus.QUEUED.value,
                        or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now),
                        last_sent <= sent_before)
                 .order_by(jobs.c.created_at, jobs.c.id).limit(limit))
        return list((await self._db.execute("select queued jobs to resend", query)).scalars())

    async def awaiting_since_generation(self, before: datetime, limit: int) -> list[str]:
        """Jobs awaiting a callback whose generation began before `before` (past max wait)."""
        query = (select(jobs.c.id)
                 .where(jobs.c.status == JobStatus.AWAITING_CALLBACK.value,
                        or_(jobs.c.generating_at.is_(None), jobs.c.generating_at < before))
                 .order_by(jobs.c.generating_at, jobs.c.id).limit(limit))
        return list((await self._db.execute("select jobs awaiting past their wait", query)).scalars())

    async def recent_processing_seconds(self, model: str, limit: int) -> list[float]:
        query = (select(jobs.c.started_at, jobs.c.completed_at)
                 .where(jobs.c.model == model, jobs.c.status == JobStatus.COMPLETED.value,
                        jobs.c.started_at.is_not(None), jobs.c.completed_at.is_not(None))
                 .order_by(jobs.c.completed_at.desc(), jobs.c.id.desc()).limit(limit))
        rows = (await self._db.execute(f"recent processing times of {model}", query)).all()
        return [(row.completed_at - row.started_at).total_seconds() for row in rows]

    async def by_provider_job_id(self, provider: str, provider_job_id: str) -> Job | None:
        query = (select(jobs).where(jobs.c.provider_job_id == provider_job_id,
                                    jobs.c.provider == provider)
                 .order_by(jobs.c.created_at.desc()).limit(1))
        row = (await self._db.execute(f"find job of {provider} {provider_job_id}", query)).first()
        return None if row is None else Job(_to_domain(row))

    async def awaiting_callback_since(self, before: datetime, limit: int) -> list[str]:
        query = (select(jobs.c.id)
                 .where(jobs.c.status == JobStatus.AWAITING_CALLBACK.value, jobs.c.updated_at < before)
                 .order_by(jobs.c.created_at, jobs.c.id).limit(limit))
        return list((await self._db.execute("select jobs awaiting a callback", query)).scalars())

    async def retry_of(self, job_id: str) -> Job | None:
        """The job retrying `job_id` (at most one: `retry_of_job_id` is unique)."""
        query = select(jobs).where(jobs.c.retry_of_job_id == job_id)
        row = (await self._db.execute(f"find the retry of {job_id}", query)).first()
        return None if row is None else Job(_to_domain(row))
