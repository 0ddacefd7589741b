"""Storage quotas in SQL: bytes used per user in `storage_usage`, the limit from `users.plan`.

A user without a row has the free plan and has used nothing. `add_usage` is one atomic upsert
(``used_bytes = used_bytes + delta``), so concurrent uploads never lose a count.
"""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import storage_usage, users
from application.ports import QuotaRepository
from domain.quota import Plan, StorageQuota


def _insert(dialect_name: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT (same API on both backends)."""
    return postgresql.insert(table) if dialect_name == "postgresql" else sqlite.insert(table)


def _to_domain(plan: str | None, used_bytes: int | None) -> StorageQuota:
    return StorageQuota(plan=Plan(plan) if plan else Plan.FREE, used_bytes=used_bytes or 0)


class SqlAlchemyQuotaRepository(QuotaRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def get(self, user_id: str) -> StorageQuota:
        plan = select(users.c.plan).where(users.c.id == user_id).scalar_subquery()
        used = (select(storage_usage.c.used_bytes)
                .where(storage_usage.c.user_id == user_id).scalar_subquery())
        query = select(plan.label("plan"), used.label("used_bytes"))
        row = (await self._db.execute(f"read storage quota of {user_id}", query)).one()
        return _to_domain(row.plan, row.used_bytes)

    async def add_usage(self, user_id: str, delta_bytes: int) -> None:
        insert = _insert(self._db.dialect_name, storage_usage)
        statement = insert.values(user_id=user_id, used_bytes=delta_bytes).on_conflict_do_update(
            index_elements=[storage_usage.c.user_id],
            set_={"used_bytes": storage_usage.c.used_bytes + insert.excluded.used_bytes})
        await self._db.execute(f"count storage of {user_id}", statement)
