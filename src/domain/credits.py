"""CreditLedger: one account's credits, rebuilt only by folding its append-only events.

Reservations work like two-phase transfers: reserve checks the balance, capture charges at most
what was reserved and releases the rest in the same event, release gives everything back. A
reservation settles exactly once: repeating the same settlement is a no-op, a different one is a
`ReservationConflict`. Because the balance is checked at reservation, settling never takes the
account negative. A reservation of 0 (a free model) is an ordinary reservation that settles for 0.

The events are sealed with the `ChainHasher` the ledger is built with (a store passes its keyed
hasher, ADR 0047). A ledger loaded from a snapshot is told the reservations it may meet (the
store keeps them in rows of their own, ADR 0048), so a settled one stays known.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from domain.errors import (
    InsufficientCredits,
    LedgerIntegrityError,
    ReservationConflict,
    UnknownReservation,
)
from domain.ledger_events import (
    GENESIS_HASH,
    AnyLedgerEvent,
    ChainHasher,
    CreditsAdjusted,
    CreditsGranted,
    CreditsReserved,
    ReservationCaptured,
    ReservationReleased,
    chain_breaks,
    compute_hash,
    sealed,
    sha256_chain,
)


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """What an account holds: spendable, held for running jobs, and charged over its life."""

    available: int
    reserved: int
    lifetime_spent: int


class OpenReservation(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    amount: int
    expires_at: datetime


class SettledReservation(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    captured: int
    released: int


class LedgerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The folded state at a version, so a store can load a ledger without replaying it all.

    Stores keep `open_reservations` empty and hold reservations in rows of their own (a write
    is then O(1)); they pass the ones a unit needs to `CreditLedger.from_snapshot`. Older
    snapshots that still list them load as before.
    """

    account_id: str
    version: int
    last_hash: str
    available: int
    reserved: int
    lifetime_spent: int
    open_reservations: tuple[OpenReservation, ...] = ()


class CreditLedger:
    """The aggregate. Change it only through its methods; read `pending_events` to persist."""

    __slots__ = ("_account_id", "_available", "_reserved", "_spent", "_version", "_last_hash",
                 "_open", "_settled", "_hasher", "_remember_settled", "pending_events")

    def __init__(self, account_id: str, *, hasher: ChainHasher = sha256_chain,
                 remember_settled: bool = True) -> None:
        self._account_id = account_id
        self._available = 0
        self._reserved = 0
        self._spent = 0
        self._version = 0
        self._last_hash = GENESIS_HASH
        self._open: dict[str, OpenReservation] = {}
        self._settled: dict[str, SettledReservation] = {}
        self._hasher = hasher
        self._remember_settled = remember_settled
        self.pending_events: list[AnyLedgerEvent] = []

    # -- building ------------------------------------------------------------------------
    @classmethod
    def replay(cls, account_id: str, events: list[AnyLedgerEvent], *,
               hasher: ChainHasher = sha256_chain) -> CreditLedger:
        """Fold `events` (in version order) into a ledger; raise `LedgerIntegrityError` on a gap,
        a foreign event or a broken hash chain."""
        breaks = chain_breaks(events, hasher=hasher)
        if breaks:
            raise LedgerIntegrityError(f"account {account_id}: " + "; ".join(breaks))
        ledger = cls(account_id, hasher=hasher)
        for event in events:
            ledger._check_next(event)
            ledger._apply(event)
        return ledger

    @classmethod
    def from_snapshot(cls, snapshot: LedgerSnapshot, *,
                      reservations: Iterable[OpenReservation] = (),
                      settled: Iterable[SettledReservation] = (),
                      hasher: ChainHasher = sha256_chain) -> CreditLedger:
        """The ledger at `snapshot`, holding the open `reservations` (and those the snapshot
        lists) and knowing the `settled` ones."""
        ledger = cls(snapshot.account_id, hasher=hasher)
        ledger._version = snapshot.version
        ledger._last_hash = snapshot.last_hash
        ledger._available = snapshot.available
        ledger._reserved = snapshot.reserved
        ledger._spent = snapshot.lifetime_spent
        ledger._open = {r.job_id: r for r in (*snapshot.open_reservations, *reservations)}
        ledger._settled = {s.job_id: s for s in settled}
        return ledger

    def snapshot(self) -> LedgerSnapshot:
        return LedgerSnapshot(
            account_id=self._account_id, version=self._version, last_hash=self._last_hash,
            available=self._available, reserved=self._reserved, lifetime_spent=self._spent,
            open_reservations=tuple(sorted(self._open.values(), key=lambda r: r.job_id)),
        )

    # -- reading -------------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def version(self) -> int:
        return self._version

    @property
    def last_hash(self) -> str:
        return self._last_hash

    @property
    def balance(self) -> Balance:
        return Balance(available=self._available, reserved=self._reserved, lifetime_spent=self._spent)

    def reservation_for(self, job_id: str) -> OpenReservation | None:
        return self._open.get(job_id)

    def expired_reservations(self, now: datetime) -> list[OpenReservation]:
        """Open reservations whose expiry has passed; a reaper releases them."""
        return [r for r in self._open.values() if r.expires_at <= now]

    # -- commands ------------------------------------------------------------------------
    def grant(self, amount: int, *, now: datetime, reason: str = "") -> None:
        """Add credits; `amount` must be positive."""
        _require_positive(amount)
        self._record(CreditsGranted(**self._header(now), amount=amount, reason=reason))

    def adjust(self, amount: int, *, now: datetime, reason: str) -> None:
        """Apply a signed correction; raise `InsufficientCredits` if it would go below zero."""
        if amount == 0:
            raise ValueError("an adjustment must change the balance")
        if self._available + amount < 0:
            raise InsufficientCredits(self._account_id, -amount, self._available)
        self._record(CreditsAdjusted(**self._header(now), amount=amount, reason=reason))

    def reserve(self, job_id: str, amount: int, *, expires_at: datetime, now: datetime) -> None:
        """Hold `amount` for `job_id`. Repeating an identical reservation is a no-op.

        Raises:
            InsufficientCredits: when fewer than `amount` credits are available.
            ReservationConflict: when `job_id` already has a different or settled reservation.
        """
        _require_non_negative(amount)
        existing = self._open.get(job_id)
        if existing is not None:
            if existing.amount == amount:
                return
            raise ReservationConflict(f"job {job_id} already reserved {existing.amount}, not {amount}")
        if job_id in self._settled:
            raise ReservationConflict(f"job {job_id} has already settled its reservation")
        if amount > self._available:
            raise InsufficientCredits(self._account_id, amount, self._available,
                                      reserved=self._reserved, lifetime_spent=self._spent)
        self._record(CreditsReserved(**self._header(now), job_id=job_id, amount=amount,
                                     expires_at=expires_at))

    def capture(self, job_id: str, amount: int, *, now: datetime) -> None:
        """Charge `amount` (<= the reservation) and release the rest, in one event."""
        if amount < 0:
            raise ValueError("a capture cannot be negative")
        if self._settled_identically(job_id, captured=amount):
            return
        reservation = self._open_reservation(job_id)
        if amount > reservation.amount:
            raise ReservationConflict(
                f"job {job_id}: cannot capture {amount}, only {reservation.amount} reserved")
        self._record(ReservationCaptured(**self._header(now), job_id=job_id, amount=amount,
                                         released=reservation.amount - amount))

    def release(self, job_id: str, *, now: datetime, reason: str = "") -> None:
        """Give the whole reservation back."""
        if self._settled_identically(job_id, captured=0):
            return
        reservation = self._open_reservation(job_id)
        self._record(ReservationReleased(**self._header(now), job_id=job_id,
                                         amount=reservation.amount, reason=reason))

    # -- internals -----------------------------------------------------------------------
    def _settled_identically(self, job_id: str, *, captured: int) -> bool:
        settled = self._settled.get(job_id)
        if settled is None:
            return False
        if settled.captured == captured:
            return True
        raise ReservationConflict(
            f"job {job_id} already settled capturing {settled.captured}, not {captured}")

    def _open_reservation(self, job_id: str) -> OpenReservation:
        reservation = self._open.get(job_id)
        if reservation is None:
            raise UnknownReservation(f"account {self._account_id} holds no reservation for job {job_id}")
        return reservation

    def _header(self, now: datetime) -> dict[str, object]:
        return {"account_id": self._account_id, "version": self._version + 1,
                "occurred_at": now, "prev_hash": self._last_hash}

    def _record(self, event: AnyLedgerEvent) -> None:
        event = sealed(event, self._hasher)  # type: ignore[assignment]
        self._apply(event)
        self.pending_events.append(event)

    def _check_next(self, event: AnyLedgerEvent) -> None:
        if event.account_id != self._account_id:
            raise LedgerIntegrityError(f"event of account {event.account_id} in {self._account_id}")
        if event.version != self._version + 1:
            raise LedgerIntegrityError(
                f"account {self._account_id}: version {event.version} follows {self._version}")

    def _apply(self, event: AnyLedgerEvent) -> None:
        match event:
            case CreditsGranted(amount=amount):
                self._available += amount
            case CreditsAdjusted(amount=amount):
                self._available += amount
            case CreditsReserved(job_id=job_id, amount=amount, expires_at=expires_at):
                self._available -= amount
                self._reserved += amount
                self._open[job_id] = OpenReservation(job_id=job_id, amount=amount, expires_at=expires_at)
            case ReservationCaptured(job_id=job_id, amount=amount, released=released):
                self._settle(job_id, captured=amount, released=released)
            case ReservationReleased(job_id=job_id, amount=amount):
                self._settle(job_id, captured=0, released=amount)
        self._version = event.version
        self._last_hash = event.hash

    def _settle(self, job_id: str, *, captured: int, released: int) -> None:
        reservation = self._open.pop(job_id, None)
        if reservation is None:
            raise LedgerIntegrityError(f"job {job_id}: settled without an open reservation")
        if reservation.amount != captured + released:
            raise LedgerIntegrityError(f"job {job_id}: settlement does not add up to its reservation")
        self._reserved -= captured + released
        self._available += released
        self._spent += captured
        if self._remember_settled:
            self._settled[job_id] = SettledReservation(job_id=job_id, captured=captured,
                                                       released=released)


class LedgerFold:
    """A streaming replay for audits: feed events one at a time in version order, in memory
    bounded by the open reservations (settled ones are not remembered).

    `feed` returns what is wrong with an event (a broken link or hash, a gap, a foreign account,
    a settlement that does not match its reservation) and folds it anyway when it can, so one
    bad event does not hide the rest.
    """

    __slots__ = ("_ledger", "_hasher", "_prev_hash", "events")

    def __init__(self, account_id: str, hasher: ChainHasher) -> None:
        self._ledger = CreditLedger(account_id, hasher=hasher, remember_settled=False)
        self._hasher = hasher
        self._prev_hash = GENESIS_HASH
        self.events = 0

    def feed(self, event: AnyLedgerEvent, canonical: bytes | None = None) -> list[str]:
        """Fold `event`; `canonical`, if given, is its canonical bytes as stored (saves encoding
        them again; any change to them breaks the hash as surely as a change to the event)."""
        problems: list[str] = []
        self.events += 1
        if event.prev_hash != self._prev_hash:
            problems.append(f"version {event.version}: prev_hash does not match the event before")
        digest = (compute_hash(event, self._hasher) if canonical is None
                  else self._hasher(event.prev_hash, canonical))
        if digest != event.hash:
            problems.append(f"version {event.version}: hash does not match its contents")
        self._prev_hash = event.hash
        try:
            self._ledger._check_next(event)
            self._ledger._apply(event)
        except LedgerIntegrityError as exc:
            problems.append(f"version {event.version}: {exc}")
            self._ledger._version = event.version
            self._ledger._last_hash = event.hash
        return problems

    def snapshot(self) -> LedgerSnapshot:
        return self._ledger.snapshot()

    def open_reservations(self) -> dict[str, OpenReservation]:
        return dict(self._ledger._open)


def _require_non_negative(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"amount must be a non-negative integer, got {amount!r}")


def _require_positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"amount must be a positive integer, got {amount!r}")
