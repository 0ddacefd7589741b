"""Storage quotas in SQL: bytes used per user in `storage_usage`, the limit from `users.plan`.

A user without a row has the free plan and has used nothing. `add_usage` checks the quota in
the write itself (ADR 0050): it makes sure the row exists, then runs one conditional
``UPDATE storage_usage SET used_bytes = used_bytes + :n WHERE user_id = :u AND used_bytes + :n
<= <the limit of the user's plan>``, and the row count decides. Concurrent completes and
uploads therefore cannot both squeeze into the last free bytes: the database re-checks the
condition on the row it locked (Postgres) or under its one write lock (SQLite).
"""

from __future__ import annotations

from sqlalchemy import Table, case, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import storage_usage, users
from application.ports import QuotaRepository
from domain.errors import StorageQuotaExceeded
from domain.quota import PLAN_STORAGE_BYTES, Plan, StorageQuota


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
        """Count `delta_bytes` if they fit under the plan's limit, else count nothing and raise
        `StorageQuotaExceeded` (a negative delta, a deletion, always fits and never takes the
        usage below zero)."""
        insert = _insert(self._db.dialect_name, storage_usage)
        await self._db.execute(f"open storage usage of {user_id}", insert.values(
            user_id=user_id, used_bytes=0).on_conflict_do_nothing(index_elements=[storage_usage.c.user_id]))
        used = storage_usage.c.used_bytes + delta_bytes
        if delta_bytes < 0:
            used = case((used < 0, literal(0)), else_=used)
        statement = (update(storage_usage).where(storage_usage.c.user_id == user_id)
                     .values(used_bytes=used))
        if delta_bytes > 0:
            statement = statement.where(
                storage_usage.c.used_bytes + delta_bytes <= _limit_of(user_id))
        result = await self._db.execute(f"count storage of {user_id}", statement)
        if result.rowcount != 1:
            quota = await self.get(user_id)
            raise StorageQuotaExceeded(quota.used_bytes, delta_bytes, quota.limit_bytes)


def _limit_of(user_id: str):  # type: ignore[no-untyped-def]
    """The byte limit of the user's plan, as SQL (the free plan when the user has no row)."""
    plan = select(users.c.plan).where(users.c.id == user_id).scalar_subquery()
    return case(*[(plan == p.value, literal(b)) for p, b in PLAN_STORAGE_BYTES.items()],
                else_=literal(PLAN_STORAGE_BYTES[Plan.FREE]))
