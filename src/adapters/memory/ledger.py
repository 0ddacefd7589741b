"""The credit ledger in memory, refusing exactly what the SQL store refuses.

An append must start from the stored version (the unique ``(account_id, version)`` of SQL) and
may not add a second settlement event for a job (the partial unique index of SQL); both raise
`ConcurrencyConflict`, when appending and again at commit. `pending_events` is cleared as soon
as the append is staged, as in the SQL store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import LedgerStore, StoredBalance, StoredLedgerEvent
from domain.credits import CreditLedger, LedgerSnapshot, SettledReservation
from domain.ledger_events import (
    AnyLedgerEvent,
    canonical_bytes,
    ReservationCaptured,
    ReservationReleased,
    decode_event,
    encode_event,
    sha256_chain,
)


def _settlements(events: list[AnyLedgerEvent]) -> list[tuple[str, str]]:
    return [(e.account_id, e.job_id) for e in events
            if isinstance(e, ReservationCaptured | ReservationReleased)]


class InMemoryLedgerStore(LedgerStore):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self.hasher = sha256_chain
        self._events: dict[str, list[bytes]] = {}
        self._snapshots: dict[str, bytes] = {}
        self._settlements: set[tuple[str, str]] = set()
        self._base: dict[str, int] = {}  # committed version when first staged

    # -- port ------------------------------------------------------------------------------
    async def load(self, account_id: str, *, job_ids: Iterable[str] | None = None) -> CreditLedger:
        snapshot = await self.projection(account_id)
        if snapshot is None:
            return CreditLedger(account_id)
        wanted = set(job_ids or ())
        settled = [SettledReservation(job_id=e.job_id, captured=e.amount, released=e.released)
                   if isinstance(e, ReservationCaptured) else
                   SettledReservation(job_id=e.job_id, captured=0, released=e.amount)
                   for e in (await self.events(account_id) if wanted else [])
                   if isinstance(e, ReservationCaptured | ReservationReleased) and e.job_id in wanted]
        return CreditLedger.from_snapshot(snapshot, settled=settled)

    async def append(self, ledger: CreditLedger) -> None:
        """Stage `ledger.pending_events`; `ConcurrencyConflict` if the account moved on."""
        events = list(ledger.pending_events)
        if not events:
            return
        account_id, expected = ledger.account_id, ledger.version - len(events)
        stored = await self.projection(account_id)
        if (0 if stored is None else stored.version) != expected:
            raise self._guard.conflict(f"append to ledger {account_id} at version {expected}: "
                                       "another writer got there first")
        settlements = _settlements(events)
        if len(set(settlements)) != len(settlements) or self._settled(settlements):
            raise self._guard.conflict(f"ledger {account_id}: a job may settle only once")
        self._base.setdefault(account_id, expected)
        self._events.setdefault(account_id, []).extend(encode_event(e) for e in events)
        self._snapshots[account_id] = encode(ledger.snapshot())
        self._settlements.update(settlements)
        ledger.pending_events.clear()

    async def events(self, account_id: str, *, after_version: int = 0,
                     limit: int | None = None) -> list[AnyLedgerEvent]:
        stored = self._db.ledger_events.get(account_id, []) + self._events.get(account_id, [])
        events = [e for e in map(decode_event, stored) if e.version > after_version]
        return events if limit is None else events[:limit]

    async def projection(self, account_id: str) -> LedgerSnapshot | None:
        data = self._snapshots.get(account_id, self._db.balances.get(account_id))
        return None if data is None else decode(data, LedgerSnapshot)

    async def account_ids(self) -> list[str]:
        return sorted({*self._db.ledger_events, *self._db.balances, *self._snapshots})

    async def expired_reservations(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        found = []
        for account_id in await self.account_ids():
            snapshot = await self.projection(account_id)
            for reservation in snapshot.open_reservations if snapshot else ():
                if reservation.expires_at <= now:
                    found.append((reservation.expires_at, account_id, reservation.job_id))
        return [(account, job) for _, account, job in sorted(found)[:limit]]

    async def stored_balances(self, account_ids: Sequence[str]) -> dict[str, StoredBalance]:
        found = {}
        for account_id in account_ids:
            snapshot = await self.projection(account_id)
            if snapshot is not None:
                found[account_id] = StoredBalance(
                    account_id=account_id, version=snapshot.version, last_hash=snapshot.last_hash,
                    available=snapshot.available, reserved=snapshot.reserved,
                    lifetime_spent=snapshot.lifetime_spent, snapshot=snapshot, keyed=True,
                    open_reservations={r.job_id: r for r in snapshot.open_reservations})
        return found

    async def accounts_without_events(self) -> list[str]:
        return sorted([a for a in {*self._db.balances, *self._snapshots}
                       if not await self.events(a)])

    async def stream_events(self, account_id: str | None = None
                            ) -> AsyncIterator[list[StoredLedgerEvent]]:
        ids = [account_id] if account_id is not None else sorted(
            {*self._db.ledger_events, *self._events})
        for account in ids:
            yield [StoredLedgerEvent(
                    account_id=e.account_id, version=e.version, type=str(e.__struct_config__.tag),
                    job_id=getattr(e, "job_id", None), amount=e.amount,
                    occurred_at=e.occurred_at, prev_hash=e.prev_hash, hash=e.hash, event=e,
                    canonical=canonical_bytes(e)) for e in await self.events(account)]

    # -- unit of work ----------------------------------------------------------------------
    def check_commit(self) -> None:
        for account_id, base in self._base.items():
            data = self._db.balances.get(account_id)
            if (0 if data is None else decode(data, LedgerSnapshot).version) != base:
                raise self._guard.conflict(f"ledger {account_id} was appended to by another unit")
        if self._settlements & self._db.settlements:
            raise self._guard.conflict("a job settled in another unit of work")

    def apply_commit(self) -> None:
        for account_id, events in self._events.items():
            self._db.ledger_events.setdefault(account_id, []).extend(events)
        self._db.balances.update(self._snapshots)
        self._db.settlements.update(self._settlements)
        self.discard()

    def discard(self) -> None:
        self._events.clear()
        self._snapshots.clear()
        self._settlements.clear()
        self._base.clear()

    def _settled(self, settlements: list[tuple[str, str]]) -> bool:
        return any(s in self._settlements or s in self._db.settlements for s in settlements)
