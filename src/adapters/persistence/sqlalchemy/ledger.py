"""The credit ledger in SQL: append-only `ledger_events` plus the `balances` projection.

`append` first moves the projection row by compare-and-set from the version the ledger was
loaded at (an INSERT when that version is 0), then inserts the events; the primary key
``(account_id, version)`` and the one-settlement-per-job index back that up. Any clash raises
`ConcurrencyConflict` and the unit of work rolls everything back. `load` reads the projection
only (one query); `events` is the history an audit replays.

`ledger.pending_events` is cleared as soon as the statements succeed, not at commit: a ledger
can then be appended twice in one unit, and after a failed commit the caller reloads anyway.
"""

from __future__ import annotations

from typing import Any

import msgspec
from datetime import datetime

from sqlalchemy import and_, exists, select, union

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import SETTLEMENT_TYPES, balances, ledger_events
from application.ports import LedgerStore
from domain.credits import CreditLedger, LedgerSnapshot
from domain.ledger_events import AnyLedgerEvent, CreditsReserved, decode_event, encode_event

_snapshot_decoder = msgspec.json.Decoder(LedgerSnapshot)


def _to_row(event: AnyLedgerEvent) -> dict[str, Any]:
    return {
        "account_id": event.account_id, "version": event.version,
        "type": event.__struct_config__.tag, "job_id": getattr(event, "job_id", None),
        "amount": event.amount, "occurred_at": event.occurred_at,
        "prev_hash": event.prev_hash, "hash": event.hash,
        "payload": encode_event(event).decode(),
    }


def _projection_row(snapshot: LedgerSnapshot, event: AnyLedgerEvent) -> dict[str, Any]:
    return {
        "version": snapshot.version, "last_hash": snapshot.last_hash,
        "available": snapshot.available, "reserved": snapshot.reserved,
        "lifetime_spent": snapshot.lifetime_spent,
        "snapshot": msgspec.json.encode(snapshot).decode(), "updated_at": event.occurred_at,
    }


def _to_domain(snapshot_json: str) -> LedgerSnapshot:
    return _snapshot_decoder.decode(snapshot_json)


class SqlAlchemyLedgerStore(LedgerStore):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def load(self, account_id: str) -> CreditLedger:
        snapshot = await self.projection(account_id)
        if snapshot is None:
            return CreditLedger(account_id)
        return CreditLedger.from_snapshot(snapshot)

    async def append(self, ledger: CreditLedger) -> None:
        """Persist `ledger.pending_events`; `ConcurrencyConflict` if the account moved on."""
        events = list(ledger.pending_events)
        if not events:
            return
        expected = ledger.version - len(events)
        projection = _projection_row(ledger.snapshot(), events[-1])
        action = f"append to ledger {ledger.account_id} at version {expected}"
        if expected == 0:
            await self._db.execute(
                action, balances.insert().values(account_id=ledger.account_id, **projection))
        else:
            result = await self._db.execute(action, balances.update().where(
                balances.c.account_id == ledger.account_id, balances.c.version == expected,
            ).values(projection))
            if result.rowcount != 1:
                raise self._db.conflict(f"{action}: another writer got there first")
        await self._db.execute(action, ledger_events.insert(), [_to_row(e) for e in events])
        ledger.pending_events.clear()

    async def events(self, account_id: str, *, after_version: int = 0,
                     limit: int | None = None) -> list[AnyLedgerEvent]:
        query = (select(ledger_events.c.payload)
                 .where(ledger_events.c.account_id == account_id,
                        ledger_events.c.version > after_version)
                 .order_by(ledger_events.c.version).limit(limit))
        payloads = (await self._db.execute(f"read ledger {account_id}", query)).scalars().all()
        return [decode_event(payload) for payload in payloads]

    async def projection(self, account_id: str) -> LedgerSnapshot | None:
        query = select(balances.c.snapshot).where(balances.c.account_id == account_id)
        result = await self._db.execute(f"read balance of {account_id}", query)
        snapshot_json = result.scalar_one_or_none()
        return None if snapshot_json is None else _to_domain(snapshot_json)

    async def account_ids(self) -> list[str]:
        query = union(select(ledger_events.c.account_id), select(balances.c.account_id))
        return sorted((await self._db.execute("list ledger accounts", query)).scalars())

    async def expired_reservations(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(account, job) of open reservations whose expiry has passed, oldest first: the oldest
        `limit` unsettled reservations are read and those already expired are returned."""
        settled = ledger_events.alias("settled")
        is_settled = exists().where(and_(
            settled.c.account_id == ledger_events.c.account_id,
            settled.c.job_id == ledger_events.c.job_id, settled.c.type.in_(SETTLEMENT_TYPES)))
        query = (select(ledger_events.c.payload)
                 .where(ledger_events.c.type == CreditsReserved.__struct_config__.tag, ~is_settled)
                 .order_by(ledger_events.c.occurred_at, ledger_events.c.account_id,
                           ledger_events.c.version).limit(limit))
        rows = (await self._db.execute("select open reservations", query)).scalars().all()
        found = [decode_event(payload) for payload in rows]
        return [(e.account_id, e.job_id) for e in found
                if isinstance(e, CreditsReserved) and e.expires_at <= now]
