"""Hypothesis properties of `CreditLedger`: any sequence of commands keeps the books balanced.

A plain reference model predicts every outcome (new event, no-op, or which error) on its own;
the ledger must agree with it after every step, and its events must replay to the same state.
Tampering with stored history, deleting or reordering events must break the hash chain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.credits import SettledReservation, CreditLedger, LedgerSnapshot
from domain.errors import (
    DomainError,
    InsufficientCredits,
    LedgerIntegrityError,
    ReservationConflict,
    UnknownReservation,
)
from domain.ledger_events import (
    AnyLedgerEvent,
    CreditsAdjusted,
    CreditsGranted,
    CreditsReserved,
    ReservationCaptured,
    ReservationReleased,
    chain_breaks,
)

pytestmark = pytest.mark.unit

ACCOUNT = "acct-1"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
REASONS = ("", "purchase", "promo", "support ticket 42")


class ReferenceBooks:
    """The ledger's expected state, kept with nothing but dicts and integers."""

    def __init__(self) -> None:
        self.available = 0
        self.spent = 0
        self.granted = 0
        self.adjusted = 0
        self.version = 0
        self.open: dict[str, tuple[int, datetime]] = {}
        self.settled: dict[str, int] = {}  # job id -> credits captured (0 for a release)

    @property
    def reserved(self) -> int:
        return sum(amount for amount, _ in self.open.values())

    def known_jobs(self) -> list[str]:
        return sorted({*self.open, *self.settled})


class CreditLedgerMachine(RuleBasedStateMachine):
    """Drives one ledger with grants, reservations, settlements and adjustments."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = CreditLedger(ACCOUNT)
        self.books = ReferenceBooks()
        self.now = T0
        self.fresh_ids = 0

    # -- helpers -------------------------------------------------------------------------
    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def _fresh_job(self) -> str:
        self.fresh_ids += 1
        return f"job-{self.fresh_ids}"

    def _pick_job(self, data: st.DataObject, *, include_unknown: bool) -> str:
        choices = self.books.known_jobs()
        if include_unknown:
            choices.append("never-reserved")
        if not choices:
            return self._fresh_job()
        return data.draw(st.sampled_from(choices), label="job_id")

    def _expect_error(self, error: type[Exception], call: Callable[[], None]) -> None:
        before = (self.ledger.balance, self.ledger.version, self.ledger.last_hash,
                  len(self.ledger.pending_events), self.ledger.snapshot())
        with pytest.raises(error):
            call()
        after = (self.ledger.balance, self.ledger.version, self.ledger.last_hash,
                 len(self.ledger.pending_events), self.ledger.snapshot())
        assert after == before, "a refused command must leave the ledger untouched"

    def _expect_no_op(self, call: Callable[[], None]) -> None:
        before = (self.ledger.version, self.ledger.last_hash, len(self.ledger.pending_events))
        call()
        assert (self.ledger.version, self.ledger.last_hash,
                len(self.ledger.pending_events)) == before

    def _expect_event(self, kind: type, call: Callable[[], None]) -> AnyLedgerEvent:
        count = len(self.ledger.pending_events)
        call()
        assert len(self.ledger.pending_events) == count + 1
        event = self.ledger.pending_events[-1]
        assert type(event) is kind
        self.books.version += 1
        assert event.version == self.books.version == self.ledger.version
        assert event.occurred_at == self.now
        assert self.ledger.last_hash == event.hash
        return event

    # -- rules ---------------------------------------------------------------------------
    @initialize(amount=st.integers(0, 200))
    def open_the_account(self, amount: int) -> None:
        """Most runs start funded, so reservations and settlements happen early."""
        self.grant(amount, "starter grant")

    @rule(amount=st.integers(-3, 120), reason=st.sampled_from(REASONS))
    def grant(self, amount: int, reason: str) -> None:
        now = self._tick()
        call = partial(self.ledger.grant, amount, now=now, reason=reason)
        if amount <= 0:
            self._expect_error(ValueError, call)
            return
        self._expect_event(CreditsGranted, call)
        self.books.available += amount
        self.books.granted += amount

    @rule(data=st.data(), fresh=st.booleans(), ttl_s=st.integers(1, 20))
    def reserve(self, data: st.DataObject, fresh: bool, ttl_s: int) -> None:
        """Any amount: arbitrary, exactly what is available, one more, or a reserved amount."""
        now = self._tick()
        job = self._fresh_job() if fresh else self._pick_job(data, include_unknown=False)
        edges = [self.books.available, self.books.available + 1,
                 *(amount for amount, _ in self.books.open.values())]
        amount = data.draw(st.integers(-2, 250) | st.sampled_from(edges), label="amount")
        expires_at = now + timedelta(seconds=ttl_s)
        call = partial(self.ledger.reserve, job, amount, expires_at=expires_at, now=now)
        books = self.books
        if amount < 0:  # 0 is a free model's reservation
            self._expect_error(ValueError, call)
        elif job in books.open:
            if books.open[job][0] == amount:
                self._expect_no_op(call)
            else:
                self._expect_error(ReservationConflict, call)
        elif job in books.settled:
            self._expect_error(ReservationConflict, call)
        elif amount > books.available:
            self._expect_error(InsufficientCredits, call)
        else:
            self._expect_event(CreditsReserved, call)
            books.available -= amount
            books.open[job] = (amount, expires_at)

    @rule(data=st.data())
    def capture(self, data: st.DataObject) -> None:
        now = self._tick()
        books = self.books
        job = self._pick_job(data, include_unknown=True)
        held = books.open[job][0] if job in books.open else books.settled.get(job, 10)
        # any amount: within the reservation, at its edges, above it, or negative
        amount = data.draw(st.one_of(st.integers(0, held), st.sampled_from([held, held + 1]),
                                     st.integers(held + 1, held + 50), st.integers(-5, -1)),
                           label="amount")
        call = partial(self.ledger.capture, job, amount, now=now)
        if amount < 0:
            self._expect_error(ValueError, call)
        elif job in books.settled:
            if books.settled[job] == amount:
                self._expect_no_op(call)
            else:
                self._expect_error(ReservationConflict, call)
        elif job not in books.open:
            self._expect_error(UnknownReservation, call)
        elif amount > books.open[job][0]:
            self._expect_error(ReservationConflict, call)
        else:
            event = self._expect_event(ReservationCaptured, call)
            reserved, _ = books.open.pop(job)
            assert (event.amount, event.released) == (amount, reserved - amount)
            books.available += reserved - amount
            books.spent += amount
            books.settled[job] = amount

    @rule(data=st.data(), reason=st.sampled_from(REASONS))
    def release(self, data: st.DataObject, reason: str) -> None:
        now = self._tick()
        books = self.books
        job = self._pick_job(data, include_unknown=True)
        call = partial(self.ledger.release, job, now=now, reason=reason)
        if job in books.settled:
            if books.settled[job] == 0:
                self._expect_no_op(call)
            else:
                self._expect_error(ReservationConflict, call)
        elif job not in books.open:
            self._expect_error(UnknownReservation, call)
        else:
            event = self._expect_event(ReservationReleased, call)
            reserved, _ = books.open.pop(job)
            assert event.amount == reserved
            books.available += reserved
            books.settled[job] = 0

    @rule(amount=st.integers(-150, 150), reason=st.sampled_from(REASONS))
    def adjust(self, amount: int, reason: str) -> None:
        now = self._tick()
        call = partial(self.ledger.adjust, amount, now=now, reason=reason)
        if amount == 0:
            self._expect_error(ValueError, call)
        elif self.books.available + amount < 0:
            self._expect_error(InsufficientCredits, call)
        else:
            self._expect_event(CreditsAdjusted, call)
            self.books.available += amount
            self.books.adjusted += amount

    @precondition(lambda self: bool(self.books.settled))
    @rule(data=st.data())
    def repeat_a_settlement_identically(self, data: st.DataObject) -> None:
        now = self._tick()
        job = data.draw(st.sampled_from(sorted(self.books.settled)), label="job_id")
        captured = self.books.settled[job]
        if captured == 0 and data.draw(st.booleans(), label="as_release"):
            self._expect_no_op(lambda: self.ledger.release(job, now=now))
        else:
            self._expect_no_op(lambda: self.ledger.capture(job, captured, now=now))

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def the_balance_matches_the_reference_books(self) -> None:
        balance = self.ledger.balance
        assert (balance.available, balance.reserved, balance.lifetime_spent) == (
            self.books.available, self.books.reserved, self.books.spent)
        assert self.ledger.version == self.books.version
        for job in self.books.known_jobs():
            held = self.ledger.reservation_for(job)
            actual = None if held is None else (held.amount, held.expires_at)
            assert actual == self.books.open.get(job)

    @invariant()
    def the_books_balance(self) -> None:
        balance = self.ledger.balance
        assert balance.available >= 0
        assert balance.reserved == sum(r.amount for r in self.ledger.snapshot().open_reservations)
        assert balance.available + balance.reserved + balance.lifetime_spent == (
            self.books.granted + self.books.adjusted)

    @invariant()
    def expired_reservations_are_exactly_those_past_their_expiry(self) -> None:
        expired = {r.job_id for r in self.ledger.expired_reservations(self.now)}
        assert expired == {job for job, (_, at) in self.books.open.items() if at <= self.now}

    @invariant()
    def replaying_the_events_rebuilds_the_same_ledger(self) -> None:
        events = list(self.ledger.pending_events)
        assert chain_breaks(events) == []
        replayed = CreditLedger.replay(ACCOUNT, events)
        assert replayed.balance == self.ledger.balance
        assert replayed.version == self.ledger.version
        assert replayed.last_hash == self.ledger.last_hash
        assert replayed.snapshot() == self.ledger.snapshot()

    @invariant()
    def a_snapshot_restores_the_same_ledger(self) -> None:
        snapshot = self.ledger.snapshot()
        stored = msgspec.json.decode(msgspec.json.encode(snapshot), type=LedgerSnapshot)
        for restored in (CreditLedger.from_snapshot(snapshot), CreditLedger.from_snapshot(stored)):
            assert restored.balance == self.ledger.balance
            assert restored.version == self.ledger.version
            assert restored.last_hash == self.ledger.last_hash
            assert restored.snapshot() == snapshot

    @invariant()
    def a_snapshot_told_its_settled_reservations_still_knows_them(self) -> None:
        """Item 19: an identical second settlement is a no-op, a different one a conflict."""
        settled = [SettledReservation(job_id=job, captured=captured, released=0)
                   for job, captured in self.books.settled.items()]
        for job, captured in self.books.settled.items():
            restored = CreditLedger.from_snapshot(self.ledger.snapshot(), settled=settled)
            restored.capture(job, captured, now=self.now)
            assert restored.pending_events == []
            with pytest.raises(ReservationConflict):
                restored.capture(job, captured + 1, now=self.now)


CreditLedgerMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCreditLedgerUnderAnySequenceOfCommands = CreditLedgerMachine.TestCase


# -- tampering with stored history ---------------------------------------------------------
_OPS = st.tuples(st.sampled_from(["grant", "reserve", "capture", "release", "adjust"]),
                 st.integers(0, 3), st.integers(-20, 60), st.sampled_from(REASONS))


@st.composite
def ledger_histories(draw: st.DrawFn) -> list[AnyLedgerEvent]:
    """The events of a ledger after a random run; at least three of them."""
    ledger = CreditLedger(ACCOUNT)
    now = T0
    ledger.grant(draw(st.integers(1, 100)), now=now, reason=draw(st.sampled_from(REASONS)))
    for op, job_no, amount, reason in draw(st.lists(_OPS, max_size=12)):
        now += timedelta(seconds=1)
        job = f"job-{job_no}"
        try:
            if op == "grant":
                ledger.grant(amount, now=now, reason=reason)
            elif op == "reserve":
                ledger.reserve(job, amount, expires_at=now + timedelta(hours=1), now=now)
            elif op == "capture":
                ledger.capture(job, amount, now=now)
            elif op == "release":
                ledger.release(job, now=now, reason=reason)
            else:
                ledger.adjust(amount, now=now, reason=reason)
        except (DomainError, ValueError):
            pass
    while len(ledger.pending_events) < 3:
        now += timedelta(seconds=1)
        ledger.grant(1, now=now)
    return list(ledger.pending_events)


def _tampered(value: object, data: st.DataObject) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + data.draw(st.integers(1, 1000) | st.integers(-1000, -1), label="delta")
    if isinstance(value, str):
        return value + data.draw(st.text(min_size=1, max_size=3), label="suffix")
    if isinstance(value, datetime):
        return value + timedelta(microseconds=data.draw(st.integers(1, 10**7), label="shift"))
    raise AssertionError(f"no way to tamper with {value!r}")


def _assert_history_rejected(events: list[AnyLedgerEvent]) -> None:
    assert chain_breaks(events) != []
    with pytest.raises(LedgerIntegrityError):
        CreditLedger.replay(ACCOUNT, events)


_PROPERTY = settings(max_examples=150, deadline=None)


@_PROPERTY
@given(events=ledger_histories(), data=st.data())
def test_tampering_with_any_field_of_any_event_breaks_the_chain(
        events: list[AnyLedgerEvent], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    event = events[index]
    fields = [f for f in ("amount", "job_id", "reason", "occurred_at", "version", "released",
                          "expires_at", "account_id") if hasattr(event, f)]
    field = data.draw(st.sampled_from(fields), label="field")
    forged = msgspec.structs.replace(event, **{field: _tampered(getattr(event, field), data)})
    _assert_history_rejected([*events[:index], forged, *events[index + 1:]])


@_PROPERTY
@given(events=ledger_histories(), data=st.data())
def test_deleting_any_event_but_the_last_breaks_the_chain(
        events: list[AnyLedgerEvent], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(events) - 2), label="index")
    _assert_history_rejected(events[:index] + events[index + 1:])


@_PROPERTY
@given(events=ledger_histories(), data=st.data())
def test_reordering_events_breaks_the_chain(
        events: list[AnyLedgerEvent], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events), label="order")
    assume([e.version for e in shuffled] != [e.version for e in events])
    _assert_history_rejected(shuffled)


@_PROPERTY
@given(events=ledger_histories(), data=st.data())
def test_replaying_an_event_twice_breaks_the_chain(
        events: list[AnyLedgerEvent], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    _assert_history_rejected([*events[:index + 1], events[index], *events[index + 1:]])
