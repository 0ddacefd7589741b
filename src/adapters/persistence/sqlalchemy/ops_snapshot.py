"""Operational figures read at scrape time: jobs by model and status, credits held and spent."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import translated_errors
from adapters.persistence.sqlalchemy.tables import balances, jobs
from domain.jobs import JobStatus


class OpsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    jobs: dict[tuple[str, str], int]  # (model, status) -> count
    credits_reserved: int
    credits_spent: int
    oldest_queued_at: datetime | None = None  # when the longest-waiting queued job entered the queue
    oldest_open_at: datetime | None = None  # creation of the oldest unfinished job (its reservation)


#: Statuses of jobs that still hold a credit reservation.
_OPEN = tuple(s.value for s in JobStatus if not s.terminal)


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive UTC from an aggregate


class SqlAlchemyOpsSnapshot:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def read(self) -> OpsSnapshot:
        by_status = (select(jobs.c.model, jobs.c.status, func.count())
                     .group_by(jobs.c.model, jobs.c.status))
        credits = select(func.coalesce(func.sum(balances.c.reserved), 0),
                         func.coalesce(func.sum(balances.c.lifetime_spent), 0))
        with translated_errors("read operational figures"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(by_status)).all()
                reserved, spent = (await conn.execute(credits)).one()
                queued = (await conn.execute(select(func.min(jobs.c.updated_at))
                                             .where(jobs.c.status == JobStatus.QUEUED.value))).scalar()
                open_ = (await conn.execute(select(func.min(jobs.c.created_at))
                                            .where(jobs.c.status.in_(_OPEN)))).scalar()
        return OpsSnapshot(jobs={(m, s): int(n) for m, s, n in rows},
                           credits_reserved=int(reserved), credits_spent=int(spent),
                           oldest_queued_at=_aware(queued), oldest_open_at=_aware(open_))

    async def ping(self) -> None:
        """SELECT 1; raise ServiceUnavailable when the database does not answer."""
        with translated_errors("ping the database"):
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))


class CachedOpsSnapshot:
    """The snapshot read at most once per `ttl_s` however often /metrics is scraped, and the
    database ping at most once per `ping_ttl_s` for /readyz (ADR 0080: each scrape used to
    aggregate the whole jobs table). Concurrent scrapes share one read."""

    def __init__(self, inner: SqlAlchemyOpsSnapshot, *, ttl_s: float = 15.0, ping_ttl_s: float = 2.0) -> None:
        import asyncio

        self._inner, self._ttl, self._ping_ttl = inner, ttl_s, ping_ttl_s
        self._lock = asyncio.Lock()
        self._value: OpsSnapshot | None = None
        self._read_at = float("-inf")
        self._pinged_at = float("-inf")
        self.reads = 0

    @staticmethod
    def _now() -> float:
        import time

        return time.monotonic()

    async def read(self) -> OpsSnapshot:
        async with self._lock:
            if self._value is None or self._now() - self._read_at >= self._ttl:
                self._value = await self._inner.read()
                self._read_at = self._now()
                self.reads += 1
            return self._value

    async def ping(self) -> None:
        if self._now() - self._pinged_at < self._ping_ttl:
            return
        await self._inner.ping()
        self._pinged_at = self._now()
