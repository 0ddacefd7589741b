"""Operational figures read at scrape time: jobs by model and status, credits held and spent."""

from __future__ import annotations

import msgspec
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import translated_errors
from adapters.persistence.sqlalchemy.tables import balances, jobs


class OpsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    jobs: dict[tuple[str, str], int]  # (model, status) -> count
    credits_reserved: int
    credits_spent: int


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
        return OpsSnapshot(jobs={(m, s): int(n) for m, s, n in rows},
                           credits_reserved=int(reserved), credits_spent=int(spent))

    async def ping(self) -> None:
        """SELECT 1; raise ServiceUnavailable when the database does not answer."""
        with translated_errors("ping the database"):
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
