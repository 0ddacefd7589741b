"""The outbox in SQL (ADR 0051, 0053).

A claim is one short statement: ``UPDATE outbox SET claimed_until = :lease, attempts =
attempts + 1 WHERE id IN (SELECT id ... WHERE dispatched_at IS NULL AND (claimed_until IS NULL
OR claimed_until <= :now) ORDER BY created_at, id LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING
...``. On Postgres concurrent relays so claim disjoint rows; on SQLite (one writer at a time)
the same statement without the lock clause is enough. The relay commits the claim before it
publishes, so no row lock is held while a message is sent.

`add_job_events` records job events only for users who have a client webhook endpoint: one
``INSERT ... SELECT ... WHERE EXISTS (endpoint of the user)`` per event, decided inside the
transaction of the change itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, exists, literal, or_, select, update
from sqlalchemy.engine import Row

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import UtcDateTime
from adapters.persistence.sqlalchemy.tables_client_webhooks import webhook_endpoints
from adapters.persistence.sqlalchemy.tables_outbox import outbox
from application.ports import OutboxMessage, OutboxRepository
from domain.jobs import JobStatusChanged

#: The topic of job events (client webhooks) in the outbox.
JOB_EVENT = "job.event"


class _Payload(msgspec.Struct, frozen=True, omit_defaults=True):
    not_before: datetime | None = None
    event: JobStatusChanged | None = None


_decode = msgspec.json.Decoder(_Payload).decode


def _payload(message: OutboxMessage) -> str:
    return msgspec.json.encode(_Payload(message.not_before, message.event)).decode()


def _to_row(message: OutboxMessage) -> dict[str, Any]:
    return {"id": message.id, "job_id": message.job_id, "topic": message.topic,
            "payload": _payload(message), "created_at": message.created_at,
            "dispatched_at": message.dispatched_at, "attempts": message.attempts,
            "claimed_until": message.claimed_until}


def _to_domain(row: Row[Any]) -> OutboxMessage:
    payload = _decode(row.payload)
    return OutboxMessage(id=row.id, job_id=row.job_id, topic=row.topic, created_at=row.created_at,
                         not_before=payload.not_before, attempts=row.attempts,
                         dispatched_at=row.dispatched_at, claimed_until=row.claimed_until,
                         event=payload.event)


class SqlAlchemyOutboxRepository(OutboxRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db
        #: Whether this unit added a message no publisher has claimed (the relay is woken then).
        self.added_unclaimed = False

    async def add(self, message: OutboxMessage) -> None:
        """Insert the message; `ConcurrencyConflict` if the id exists."""
        await self._db.execute(f"add outbox message {message.id}", outbox.insert().values(_to_row(message)))
        self.added_unclaimed |= message.claimed_until is None

    async def add_job_events(self, events: Sequence[JobStatusChanged], *, ids: Sequence[str]) -> None:
        for event, message_id in zip(events, ids, strict=True):
            row = _to_row(OutboxMessage(id=message_id, job_id=event.job_id, topic=JOB_EVENT,
                                        created_at=event.occurred_at, event=event))
            has_endpoint = exists().where(webhook_endpoints.c.user_id == event.user_id)
            values = select(literal(row["id"]), literal(row["job_id"]), literal(JOB_EVENT),
                            literal(row["payload"]),
                            bindparam(None, row["created_at"], type_=UtcDateTime)).where(has_endpoint)
            result = await self._db.execute(f"record job event of {event.job_id}", outbox.insert().from_select(
                ["id", "job_id", "topic", "payload", "created_at"], values))
            self.added_unclaimed |= bool(result.rowcount)

    async def claim_undispatched(self, limit: int, *, now: datetime,
                                 lease_until: datetime) -> list[OutboxMessage]:
        due = (select(outbox.c.id)
               .where(outbox.c.dispatched_at.is_(None),
                      or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now))
               .order_by(outbox.c.created_at, outbox.c.id).limit(limit))
        if self._db.dialect_name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (update(outbox).where(outbox.c.id.in_(due.scalar_subquery()))
                     .values(claimed_until=lease_until, attempts=outbox.c.attempts + 1)
                     .returning(*outbox.c))
        rows = (await self._db.execute("claim outbox messages", statement)).all()
        return sorted((_to_domain(row) for row in rows), key=lambda m: (m.created_at, m.id))

    async def release(self, ids: Sequence[str]) -> None:
        if ids:
            await self._db.execute("release outbox messages", update(outbox).where(
                outbox.c.id.in_(list(ids)), outbox.c.dispatched_at.is_(None)).values(claimed_until=None))
            self.added_unclaimed = True

    async def mark_dispatched(self, ids: Sequence[str], *, at: datetime) -> None:
        if ids:
            await self._db.execute("mark outbox messages dispatched", outbox.update()
                                   .where(outbox.c.id.in_(list(ids))).values(dispatched_at=at))
