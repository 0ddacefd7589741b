"""Read-only queries for statistics and admin listings, straight on the engine.

Counts and sums are SQL aggregates grouped by (model, day, status). Processing-time
percentiles are computed in Python over the newest `sample_limit` completed jobs of the window
(SQLite has no percentile function; the bound keeps memory and time flat).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import connect, translated_errors
from adapters.persistence.sqlalchemy.tables import balances, jobs
from application.ports import AccountBalance, BalanceLister, ModelStats, StatsReader
from domain.stats import percentile


def _day(engine: AsyncEngine) -> Any:
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", jobs.c.created_at), "YYYY-MM-DD")
    return func.date(jobs.c.created_at)  # SQLite stores UTC text 'YYYY-MM-DD HH:MM:SS...'


class _Acc:
    __slots__ = ("completed", "failed", "cancelled", "credits", "cost", "durations")

    def __init__(self) -> None:
        self.completed = self.failed = self.cancelled = self.credits = self.cost = 0
        self.durations: list[float] = []

    def row(self, model: str, day: str | None) -> ModelStats:
        p50, p95 = percentile(self.durations, 50), percentile(self.durations, 95)
        return ModelStats(model=model, day=day, completed=self.completed, failed=self.failed,
                          cancelled=self.cancelled, credits_spent=self.credits,
                          provider_cost_micros=self.cost,
                          p50_ms=None if p50 is None else round(p50 * 1000),
                          p95_ms=None if p95 is None else round(p95 * 1000))


class SqlAlchemyStatsReader(StatsReader, BalanceLister):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _all(self, action: str, query: Any) -> list[Any]:
        conn = await connect(self._engine)
        try:
            with translated_errors(action):
                return list((await conn.execute(query)).all())
        finally:
            await conn.close()

    async def job_stats(self, user_id: str | None, *, since: datetime,
                        sample_limit: int) -> list[ModelStats]:
        day = _day(self._engine).label("day")
        where = [jobs.c.created_at >= since]
        if user_id is not None:
            where.append(jobs.c.user_id == user_id)
        counts = (select(jobs.c.model, day, jobs.c.status, func.count().label("jobs"),
                         func.coalesce(func.sum(jobs.c.charged_credits), 0).label("credits"),
                         func.coalesce(func.sum(jobs.c.provider_cost_micros), 0).label("cost"))
                  .where(*where).group_by(jobs.c.model, day, jobs.c.status))
        samples = (select(jobs.c.model, day, jobs.c.started_at, jobs.c.completed_at)
                   .where(*where, jobs.c.status == "completed", jobs.c.started_at.is_not(None),
                          jobs.c.completed_at.is_not(None))
                   .order_by(jobs.c.created_at.desc()).limit(sample_limit))
        groups: dict[tuple[str, str | None], _Acc] = defaultdict(_Acc)
        for row in await self._all("aggregate job stats", counts):
            for acc in (groups[(row.model, str(row.day))], groups[(row.model, None)]):
                if row.status in ("completed", "failed", "cancelled"):
                    setattr(acc, row.status, getattr(acc, row.status) + int(row.jobs))
                acc.credits += int(row.credits)
                acc.cost += int(row.cost)
        for row in await self._all("sample processing times", samples):
            seconds = (row.completed_at - row.started_at).total_seconds()
            groups[(row.model, str(row.day))].durations.append(seconds)
            groups[(row.model, None)].durations.append(seconds)
        return [acc.row(model, day) for (model, day), acc in
                sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

    async def balances(self, *, after: str | None, limit: int) -> list[AccountBalance]:
        query = select(balances.c.account_id, balances.c.available, balances.c.reserved,
                       balances.c.lifetime_spent).order_by(balances.c.account_id).limit(limit)
        if after is not None:
            query = query.where(balances.c.account_id > after)
        return [AccountBalance(account_id=r.account_id, available=int(r.available),
                               reserved=int(r.reserved), lifetime_spent=int(r.lifetime_spent))
                for r in await self._all("list balances", query)]
