"""The credit ledger in SQL: append-only `ledger_events`, the `balances` projection and the
`ledger_reservations` rows (ADR 0048).

A unit that writes an account's ledger locks the account first (`lock`, called by the unit of
work's `lock_account`; ADR 0045): on Postgres the `balances` row ``FOR UPDATE``, created first
if missing (``INSERT ... ON CONFLICT DO NOTHING``, an empty row at version 0), so concurrent
writers of one account queue instead of losing a race. `append` still moves the projection
row by compare-and-set from the version the ledger was loaded at and inserts the events; the
primary key ``(account_id, version)`` and the one-settlement-per-job index back that up. Any
clash raises `ConcurrencyConflict` and the unit of work rolls everything back.

Events are sealed with the store's keyed hasher (HMAC-SHA256 with the ledger key, ADR 0047).
The snapshot JSON no longer lists open reservations: a reservation is a row of its own,
inserted when reserved and updated once when settled, so a write is O(1). `load` reads the
projection and the reservation rows the unit asks for (all open ones by default).

`ledger.pending_events` is cleared as soon as the statements succeed, not at commit: a ledger
can then be appended twice in one unit, and after a failed commit the caller reloads anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import msgspec
from datetime import datetime

from sqlalchemy import func, select, tuple_, union
from sqlalchemy.dialects.postgresql import insert as pg_insert

from adapters.ledger_chain import KEYED_CHAIN, UNKEYED_CHAIN
from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import balances, ledger_events
from adapters.persistence.sqlalchemy.tables_ledger import ledger_reservations
from application.ports import LedgerStore, StoredBalance, StoredLedgerEvent
from domain.credits import CreditLedger, LedgerSnapshot, OpenReservation, SettledReservation
from domain.errors import LedgerIntegrityError, ReservationConflict, UnknownReservation
from domain.ledger_events import (
    GENESIS_HASH,
    AnyLedgerEvent,
    ChainHasher,
    CreditsReserved,
    ReservationCaptured,
    ReservationReleased,
    decode_event,
    encode_event,
    sealed,
    sha256_chain,
)

_snapshot_decoder = msgspec.json.Decoder(LedgerSnapshot)
_event_decoder = msgspec.json.Decoder(AnyLedgerEvent)
#: Rows per round trip when the audit streams an account's events (bounded memory).
STREAM_BATCH = 5_000

_EVENT_COLUMNS = ("account_id", "version", "type", "job_id", "amount", "occurred_at",
                  "prev_hash", "hash", "payload")


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
        "snapshot": _encode_snapshot(snapshot), "updated_at": event.occurred_at,
    }


def _encode_snapshot(snapshot: LedgerSnapshot) -> str:
    return msgspec.json.encode(msgspec.structs.replace(snapshot, open_reservations=())).decode()


def _to_domain(snapshot_json: str) -> LedgerSnapshot:
    return _snapshot_decoder.decode(snapshot_json)


def _open(row: Any) -> OpenReservation:
    return OpenReservation(job_id=row.job_id, amount=row.amount, expires_at=row.expires_at)


class SqlAlchemyLedgerStore(LedgerStore):
    def __init__(self, db: GuardedConnection, hasher: ChainHasher = sha256_chain, *,
                 chain_kind: str = KEYED_CHAIN) -> None:
        self._db = db
        self._hasher = self.hasher = hasher
        self._chain_kind = chain_kind
        #: The snapshot read with the lock (the row cannot change until the unit ends), so the
        #: `load` after `lock` reads no second time; dropped when this unit writes the row.
        self._locked: dict[str, str] = {}

    async def lock(self, account_id: str) -> None:
        """Postgres: lock the account's `balances` row until the unit ends, reading its
        snapshot with it; create the row first if it is missing (one statement when it
        exists). (SQLite is locked whole by the unit of work's ``BEGIN IMMEDIATE``.)"""
        action = f"lock account {account_id}"
        locking = (select(balances.c.snapshot).where(balances.c.account_id == account_id)
                   .with_for_update())
        snapshot_json = (await self._db.execute(action, locking)).scalar()
        if snapshot_json is None:
            empty = LedgerSnapshot(account_id=account_id, version=0, last_hash=GENESIS_HASH,
                                   available=0, reserved=0, lifetime_spent=0)
            await self._db.execute(action, pg_insert(balances).values(
                account_id=account_id, version=0, last_hash=GENESIS_HASH, available=0, reserved=0,
                lifetime_spent=0, snapshot=_encode_snapshot(empty), updated_at=func.now(),
                chain_kind=self._chain_kind,
            ).on_conflict_do_nothing(index_elements=["account_id"]))
            snapshot_json = (await self._db.execute(action, locking)).scalar_one()
        self._locked[account_id] = snapshot_json

    async def load(self, account_id: str, *, job_ids: Iterable[str] | None = None) -> CreditLedger:
        """The ledger with every open reservation, or (`job_ids` given) with those jobs'
        reservations only, open or settled (O(len(job_ids)))."""
        snapshot_json = self._locked.get(account_id)
        if snapshot_json is None:
            query = select(balances.c.snapshot).where(balances.c.account_id == account_id)
            snapshot_json = (await self._db.execute(f"read balance of {account_id}", query)).scalar()
        if snapshot_json is None:
            return CreditLedger(account_id, hasher=self._hasher)
        snapshot = _to_domain(snapshot_json)
        if job_ids is None:
            rows = await self._reservations(account_id, open_only=True)
        else:
            wanted = sorted(set(job_ids))
            rows = await self._reservations(account_id, job_ids=wanted) if wanted else []
        return CreditLedger.from_snapshot(
            snapshot, hasher=self._hasher,
            reservations=[_open(r) for r in rows if r.settled_version is None],
            settled=[SettledReservation(job_id=r.job_id, captured=r.captured, released=r.released)
                     for r in rows if r.settled_version is not None])

    async def _reservations(self, account_id: str, *, open_only: bool = False,
                            job_ids: list[str] | None = None) -> list[Any]:
        t = ledger_reservations
        query = select(t).where(t.c.account_id == account_id).order_by(t.c.job_id)
        if open_only:
            query = query.where(t.c.settled_version.is_(None))
        if job_ids is not None:
            query = query.where(t.c.job_id.in_(job_ids))
        return list(await self._db.execute(f"read reservations of {account_id}", query))

    async def append(self, ledger: CreditLedger) -> None:
        """Persist `ledger.pending_events`; `ConcurrencyConflict` if the account moved on."""
        events = list(ledger.pending_events)
        if not events:
            return
        expected = ledger.version - len(events)
        projection = _projection_row(ledger.snapshot(), events[-1])
        action = f"append to ledger {ledger.account_id} at version {expected}"
        self._locked.pop(ledger.account_id, None)
        result = await self._db.execute(action, balances.update().where(
            balances.c.account_id == ledger.account_id, balances.c.version == expected,
        ).values(projection))
        if result.rowcount != 1:
            if expected != 0:
                raise self._db.conflict(f"{action}: another writer got there first")
            await self._db.execute(action, balances.insert().values(
                account_id=ledger.account_id, chain_kind=self._chain_kind, **projection))
        await self._db.execute(action, ledger_events.insert(), [_to_row(e) for e in events])
        await self._write_reservations(action, events)
        ledger.pending_events.clear()

    async def _write_reservations(self, action: str, events: list[AnyLedgerEvent]) -> None:
        t = ledger_reservations
        reserved = [{"account_id": e.account_id, "job_id": e.job_id, "amount": e.amount,
                     "expires_at": e.expires_at, "reserved_version": e.version}
                    for e in events if isinstance(e, CreditsReserved)]
        if reserved:
            await self._db.execute(action, t.insert(), reserved)
        for e in events:
            if isinstance(e, ReservationCaptured | ReservationReleased):
                captured, released = ((e.amount, e.released) if isinstance(e, ReservationCaptured)
                                      else (0, e.amount))
                result = await self._db.execute(action, t.update().where(
                    t.c.account_id == e.account_id, t.c.job_id == e.job_id,
                    t.c.settled_version.is_(None),
                ).values(settled_version=e.version, captured=captured, released=released))
                if result.rowcount != 1:
                    raise self._db.conflict(f"{action}: job {e.job_id} has no open reservation")

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
        if snapshot_json is None:
            return None
        snapshot = _to_domain(snapshot_json)
        rows = await self._reservations(account_id, open_only=True)
        merged = {r.job_id: r for r in snapshot.open_reservations}
        merged.update((r.job_id, _open(r)) for r in rows)
        return msgspec.structs.replace(
            snapshot, open_reservations=tuple(merged[j] for j in sorted(merged)))

    async def account_ids(self) -> list[str]:
        query = union(select(ledger_events.c.account_id), select(balances.c.account_id))
        return sorted((await self._db.execute("list ledger accounts", query)).scalars())

    async def expired_reservations(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(account, job) of open reservations whose expiry has passed, oldest first (the partial
        index on `ledger_reservations.expires_at` serves it)."""
        t = ledger_reservations
        query = (select(t.c.account_id, t.c.job_id)
                 .where(t.c.settled_version.is_(None), t.c.expires_at <= now)
                 .order_by(t.c.expires_at, t.c.account_id, t.c.job_id).limit(limit))
        rows = await self._db.execute("select expired reservations", query)
        return [(row.account_id, row.job_id) for row in rows]

    # -- audit (ADR 0049) ---------------------------------------------------------------------
    async def stored_balances(self, account_ids: Sequence[str]) -> dict[str, StoredBalance]:
        """Every stored column of those accounts' `balances` rows, and their open reservations
        (two queries for the whole batch)."""
        if not account_ids:
            return {}
        ids = list(account_ids)
        rows = await self._db.execute("read balances", select(balances).where(
            balances.c.account_id.in_(ids)))
        t = ledger_reservations
        held: dict[str, dict[str, OpenReservation]] = {}
        for r in await self._db.execute("read open reservations", select(t).where(
                t.c.account_id.in_(ids), t.c.settled_version.is_(None))):
            held.setdefault(r.account_id, {})[r.job_id] = _open(r)
        found = {}
        for row in rows:
            snapshot = _to_domain(row.snapshot)
            open_rows = {r.job_id: r for r in snapshot.open_reservations}
            open_rows.update(held.get(row.account_id, {}))
            found[row.account_id] = StoredBalance(
                account_id=row.account_id, version=row.version, last_hash=row.last_hash,
                available=row.available, reserved=row.reserved,
                lifetime_spent=row.lifetime_spent, snapshot=snapshot,
                keyed=row.chain_kind == KEYED_CHAIN, open_reservations=open_rows)
        return found

    async def accounts_without_events(self) -> list[str]:
        e = ledger_events
        query = (select(balances.c.account_id).where(~select(e.c.version).where(
            e.c.account_id == balances.c.account_id).exists()).order_by(balances.c.account_id))
        return list((await self._db.execute("list accounts without events", query)).scalars())

    async def stream_events(self, account_id: str | None = None
                            ) -> AsyncIterator[list[StoredLedgerEvent]]:
        """Event rows grouped by account in version order, every column and the decoded
        payload, in batches of `STREAM_BATCH` (bounded memory): an asyncpg server-side cursor on
        Postgres, keyset batches on SQLite."""
        e = ledger_events
        if self._db.dialect_name == "postgresql":
            conn = await self._db.driver_connection()  # asyncpg's, in the unit's transaction
            where, args = (("WHERE account_id = $1 ", (account_id,)) if account_id is not None
                           else ("", ()))
            cursor = await conn.cursor(f"SELECT {', '.join(_EVENT_COLUMNS)} FROM ledger_events "
                                       f"{where}ORDER BY account_id, version", *args)
            while records := await cursor.fetch(STREAM_BATCH):
                yield [_stored_event(r) for r in records]
            return
        columns = [e.c[name] for name in _EVENT_COLUMNS]
        after: tuple[str, int] | None = None
        while True:
            query = select(*columns).order_by(e.c.account_id, e.c.version).limit(STREAM_BATCH)
            if account_id is not None:
                query = query.where(e.c.account_id == account_id)
            if after is not None:
                query = query.where(tuple_(e.c.account_id, e.c.version) > after)
            rows = (await self._db.execute("read ledger events", query)).all()
            if rows:
                yield [_stored_event(row) for row in rows]
            if len(rows) < STREAM_BATCH:
                return
            after = (rows[-1].account_id, rows[-1].version)


def _stored_event(row: Any) -> StoredLedgerEvent:
    account_id, version, type_, job_id, amount, occurred_at, prev_hash, hash_, payload = row
    data = payload.encode()
    return StoredLedgerEvent(
        account_id=account_id, version=version, type=type_, job_id=job_id, amount=amount,
        occurred_at=occurred_at, prev_hash=prev_hash, hash=hash_,
        event=_event_decoder.decode(data),
        canonical=data.replace(b'"hash":"' + hash_.encode() + b'"', b'"hash":""', 1))


async def reseal_unkeyed(db: GuardedConnection, account_id: str, hasher: ChainHasher) -> bool:
    """Re-seal an account whose chain is still unkeyed ("sha256") with `hasher`, if its unkeyed
    chain and projection verify; mark it keyed. False (nothing written) if it does not verify,
    so the audit keeps reporting it. The caller holds the account's lock."""
    row = (await db.execute(f"read balance of {account_id}", select(balances).where(
        balances.c.account_id == account_id))).first()
    if row is None or row.chain_kind != UNKEYED_CHAIN:
        return row is not None
    query = (select(ledger_events.c.payload).where(ledger_events.c.account_id == account_id)
             .order_by(ledger_events.c.version))
    events = [decode_event(p) for p in (await db.execute("read ledger", query)).scalars()]
    try:
        replayed = CreditLedger.replay(account_id, events, hasher=sha256_chain)
    except (LedgerIntegrityError, ReservationConflict, UnknownReservation):
        return False
    if (replayed.version, replayed.last_hash) != (row.version, row.last_hash):
        return False
    prev = GENESIS_HASH
    for event in events:
        event = sealed(msgspec.structs.replace(event, prev_hash=prev), hasher)
        prev = event.hash
        await db.execute("re-seal ledger event", ledger_events.update().where(
            ledger_events.c.account_id == account_id,
            ledger_events.c.version == event.version,
        ).values(prev_hash=event.prev_hash, hash=event.hash,
                 payload=encode_event(event).decode()))
    snapshot = msgspec.structs.replace(_to_domain(row.snapshot), last_hash=prev)
    await db.execute("re-seal balance", balances.update().where(
        balances.c.account_id == account_id).values(
        last_hash=prev, snapshot=_encode_snapshot(snapshot), chain_kind=KEYED_CHAIN))
    return True
