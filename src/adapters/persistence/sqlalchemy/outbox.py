"""The outbox in SQL. On Postgres concurrent relays claim disjoint rows with
``FOR UPDATE SKIP LOCKED``; on SQLite (one writer at a time) a plain select is enough."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.engine import Row

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables_outbox import outbox
from application.ports import OutboxMessage, OutboxRepository


class _Payload(msgspec.Struct, frozen=True, omit_defaults=True):
    not_before: datetime | None = None


def _to_row(message: OutboxMessage) -> dict[str, Any]:
    return {"id": message.id, "job_id": message.job_id, "topic": message.topic,
            "payload": msgspec.json.encode(_Payload(message.not_before)).decode(),
            "created_at": message.created_at, "dispatched_at": message.dispatched_at,
            "attempts": message.attempts}


def _to_domain(row: Row[Any]) -> OutboxMessage:
    payload = msgspec.json.decode(row.payload, type=_Payload)
    return OutboxMessage(id=row.id, job_id=row.job_id, topic=row.topic, created_at=row.created_at,
                         not_before=payload.not_before, attempts=row.attempts,
                         dispatched_at=row.dispatched_at)


class SqlAlchemyOutboxRepository(OutboxRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def add(self, message: OutboxMessage) -> None:
        """Insert the message; `ConcurrencyConflict` if the id exists."""
        await self._db.execute(f"add outbox message {message.id}", outbox.insert().values(_to_row(message)))

    async def claim_undispatched(self, limit: int) -> list[OutboxMessage]:
        query = (select(outbox).where(outbox.c.dispatched_at.is_(None))
                 .order_by(outbox.c.created_at, outbox.c.id).limit(limit))
        if self._db.dialect_name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await self._db.execute("claim outbox messages", query)).all()
        if rows:
            ids = [row.id for row in rows]
            await self._db.execute("count outbox attempts", outbox.update()
                                   .where(outbox.c.id.in_(ids)).values(attempts=outbox.c.attempts + 1))
        return [_to_domain(row) for row in rows]

    async def mark_dispatched(self, ids: Sequence[str], *, at: datetime) -> None:
        if ids:
            await self._db.execute("mark outbox messages dispatched", outbox.update()
                                   .where(outbox.c.id.in_(list(ids))).values(dispatched_at=at))
