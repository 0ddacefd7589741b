"""Examples of `CreditLedger` rules: reservations, settlements, adjustments and the hash chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from domain.credits import Balance, CreditLedger
from domain.errors import (
    InsufficientCredits,
    LedgerIntegrityError,
    ReservationConflict,
    UnknownReservation,
)
from domain.ledger_events import (
    GENESIS_HASH,
    CreditsGranted,
    CreditsReserved,
    ReservationCaptured,
    ReservationReleased,
    chain_breaks,
    compute_hash,
    decode_event,
    encode_event,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)
EXPIRY = T0 + timedelta(hours=1)


def funded_ledger(credits: int = 100, *, reserve: int | None = None) -> CreditLedger:
    """A ledger granted `credits`, holding `reserve` for job-1 when given."""
    ledger = CreditLedger("acct-1")
    ledger.grant(credits, now=T0, reason="purchase")
    if reserve is not None:
        ledger.reserve("job-1", reserve, expires_at=EXPIRY, now=T0)
    return ledger


# -- reservations and settlements -------------------------------------------------------------
def test_reserving_moves_credits_from_available_to_reserved() -> None:
    ledger = funded_ledger(100, reserve=30)

    assert ledger.balance == Balance(available=70, reserved=30, lifetime_spent=0)
    assert ledger.reservation_for("job-1").amount == 30
    assert isinstance(ledger.pending_events[-1], CreditsReserved)


def test_capture_releases_the_rest_in_the_same_event() -> None:
    ledger = funded_ledger(100, reserve=30)

    ledger.capture("job-1", 20, now=LATER)

    event = ledger.pending_events[-1]
    assert isinstance(event, ReservationCaptured)
    assert (event.amount, event.released, event.version) == (20, 10, 3)
    assert ledger.balance == Balance(available=80, reserved=0, lifetime_spent=20)
    assert ledger.reservation_for("job-1") is None


def test_release_gives_the_whole_reservation_back() -> None:
    ledger = funded_ledger(100, reserve=30)

    ledger.release("job-1", now=LATER, reason="provider_unavailable")

    event = ledger.pending_events[-1]
    assert isinstance(event, ReservationReleased)
    assert (event.amount, event.reason) == (30, "provider_unavailable")
    assert ledger.balance == Balance(available=100, reserved=0, lifetime_spent=0)


def test_repeating_an_identical_capture_is_a_no_op_with_no_new_event() -> None:
    ledger = funded_ledger(100, reserve=30)
    ledger.capture("job-1", 20, now=LATER)
    events, version, head = list(ledger.pending_events), ledger.version, ledger.last_hash

    ledger.capture("job-1", 20, now=LATER + timedelta(seconds=5))

    assert (ledger.pending_events, ledger.version, ledger.last_hash) == (events, version, head)
    assert ledger.balance == Balance(available=80, reserved=0, lifetime_spent=20)


def test_repeating_a_release_is_a_no_op_with_no_new_event() -> None:
    ledger = funded_ledger(100, reserve=30)
    ledger.release("job-1", now=LATER)

    ledger.release("job-1", now=LATER)

    assert len(ledger.pending_events) == 3
    assert ledger.balance.available == 100


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("capture", 20), ("capture", 25)),
        (("capture", 20), ("release", None)),
        (("release", None), ("capture", 5)),
    ],
)
def test_a_differing_second_settlement_raises_reservation_conflict(
        first: tuple[str, int | None], second: tuple[str, int | None]) -> None:
    ledger = funded_ledger(100, reserve=30)

    def settle(how: tuple[str, int | None]) -> None:
        verb, amount = how
        if verb == "capture":
            ledger.capture("job-1", amount, now=LATER)  # type: ignore[arg-type]
        else:
            ledger.release("job-1", now=LATER)

    settle(first)
    before = (ledger.balance, ledger.version, len(ledger.pending_events))

    with pytest.raises(ReservationConflict):
        settle(second)
    assert (ledger.balance, ledger.version, len(ledger.pending_events)) == before


def test_cannot_capture_more_than_was_reserved() -> None:
    ledger = funded_ledger(100, reserve=30)

    with pytest.raises(ReservationConflict, match="only 30 reserved"):
        ledger.capture("job-1", 31, now=LATER)
    assert ledger.reservation_for("job-1") is not None
    assert ledger.version == 2


def test_cannot_capture_a_negative_amount() -> None:
    ledger = funded_ledger(100, reserve=30)

    with pytest.raises(ValueError, match="negative"):
        ledger.capture("job-1", -1, now=LATER)


def test_settling_a_job_with_no_reservation_raises_unknown_reservation() -> None:
    ledger = funded_ledger(100)

    with pytest.raises(UnknownReservation, match="job-9"):
        ledger.capture("job-9", 1, now=LATER)
    with pytest.raises(UnknownReservation):
        ledger.release("job-9", now=LATER)


def test_reserving_more_than_available_raises_insufficient_credits_with_its_figures() -> None:
    ledger = funded_ledger(10)

    with pytest.raises(InsufficientCredits) as refused:
        ledger.reserve("job-1", 11, expires_at=EXPIRY, now=T0)

    assert (refused.value.account_id, refused.value.requested, refused.value.available) == (
        "acct-1", 11, 10)
    assert ledger.balance == Balance(available=10, reserved=0, lifetime_spent=0)
    assert ledger.version == 1


def test_reserving_exactly_what_is_available_is_allowed() -> None:
    ledger = funded_ledger(10, reserve=10)

    assert ledger.balance == Balance(available=0, reserved=10, lifetime_spent=0)


def test_repeating_an_identical_reservation_is_a_no_op() -> None:
    ledger = funded_ledger(100, reserve=30)

    ledger.reserve("job-1", 30, expires_at=EXPIRY, now=LATER)

    assert ledger.version == 2
    assert ledger.balance.reserved == 30


def test_reserving_again_with_another_amount_raises_reservation_conflict() -> None:
    ledger = funded_ledger(100, reserve=30)

    with pytest.raises(ReservationConflict):
        ledger.reserve("job-1", 31, expires_at=EXPIRY, now=LATER)


def test_cannot_reserve_again_for_a_settled_job() -> None:
    ledger = funded_ledger(100, reserve=30)
    ledger.release("job-1", now=LATER)

    with pytest.raises(ReservationConflict, match="already settled"):
        ledger.reserve("job-1", 30, expires_at=EXPIRY, now=LATER)


def test_expired_reservations_are_those_at_or_past_their_expiry() -> None:
    ledger = funded_ledger(100)
    ledger.reserve("early", 1, expires_at=T0 + timedelta(minutes=5), now=T0)
    ledger.reserve("exact", 1, expires_at=T0 + timedelta(minutes=10), now=T0)
    ledger.reserve("late", 1, expires_at=T0 + timedelta(minutes=11), now=T0)
    ledger.reserve("settled", 1, expires_at=T0 + timedelta(minutes=1), now=T0)
    ledger.capture("settled", 1, now=T0)

    expired = ledger.expired_reservations(T0 + timedelta(minutes=10))

    assert sorted(r.job_id for r in expired) == ["early", "exact"]


# -- grants and adjustments ---------------------------------------------------------------
@pytest.mark.parametrize("amount", [0, -5, True, 2.5])
def test_a_grant_must_be_a_positive_integer(amount: object) -> None:
    ledger = CreditLedger("acct-1")

    with pytest.raises(ValueError):
        ledger.grant(amount, now=T0)  # type: ignore[arg-type]
    assert ledger.version == 0


def test_an_adjustment_may_take_credits_away_down_to_zero() -> None:
    ledger = funded_ledger(10)

    ledger.adjust(-10, now=LATER, reason="chargeback")

    assert ledger.balance.available == 0


def test_an_adjustment_below_zero_raises_insufficient_credits() -> None:
    ledger = funded_ledger(10, reserve=4)

    with pytest.raises(InsufficientCredits) as refused:
        ledger.adjust(-7, now=LATER, reason="chargeback")
    assert (refused.value.requested, refused.value.available) == (7, 6)


def test_an_adjustment_of_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        funded_ledger(10).adjust(0, now=LATER, reason="nothing")


# -- events, replay and the hash chain ------------------------------------------------------
def test_the_first_event_links_to_the_genesis_hash_and_each_next_to_the_one_before() -> None:
    ledger = funded_ledger(100, reserve=30)
    first, second = ledger.pending_events

    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert len(first.hash) == 64 and first.hash == compute_hash(first)


def test_events_round_trip_through_json_with_their_hashes_intact() -> None:
    ledger = CreditLedger("acct-1")
    paris = timezone(timedelta(hours=1))
    ledger.grant(50, now=datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=paris), reason="promo")
    ledger.reserve("job-1", 8, expires_at=datetime(2025, 3, 1, 10, 30, tzinfo=paris),
                   now=datetime(2025, 3, 1, 9, 31, tzinfo=paris))
    ledger.capture("job-1", 5, now=datetime(2025, 3, 1, 9, 32, tzinfo=UTC))
    ledger.reserve("job-2", 8, expires_at=EXPIRY, now=T0)
    ledger.release("job-2", now=LATER, reason="cancelled")
    ledger.adjust(-3, now=LATER, reason="support")

    decoded = [decode_event(encode_event(e)) for e in ledger.pending_events]

    assert decoded == ledger.pending_events
    assert [type(e) for e in decoded] == [type(e) for e in ledger.pending_events]
    assert chain_breaks(decoded) == []
    assert CreditLedger.replay("acct-1", decoded).last_hash == ledger.last_hash


def test_encoded_events_carry_their_type_tag() -> None:
    event = funded_ledger(5).pending_events[0]

    assert msgspec.json.decode(encode_event(event))["type"] == "credits_granted"
    assert isinstance(decode_event(encode_event(event)), CreditsGranted)


def test_replay_refuses_another_accounts_events() -> None:
    events = funded_ledger(100, reserve=30).pending_events

    with pytest.raises(LedgerIntegrityError, match="acct-1"):
        CreditLedger.replay("acct-2", events)


def test_a_truncated_history_replays_but_ends_on_an_older_head_hash() -> None:
    """Dropping the newest events leaves a valid chain: an audit must also compare the head."""
    ledger = funded_ledger(100, reserve=30)
    ledger.capture("job-1", 30, now=LATER)

    truncated = CreditLedger.replay("acct-1", ledger.pending_events[:-1])

    assert truncated.last_hash != ledger.last_hash
    assert truncated.version == ledger.version - 1


def test_a_replayed_ledger_still_knows_how_each_reservation_settled() -> None:
    ledger = funded_ledger(100, reserve=30)
    ledger.capture("job-1", 20, now=LATER)
    replayed = CreditLedger.replay("acct-1", ledger.pending_events)

    replayed.capture("job-1", 20, now=LATER)
    with pytest.raises(ReservationConflict):
        replayed.release("job-1", now=LATER)
    assert replayed.pending_events == []


def test_a_snapshot_loaded_ledger_treats_a_repeated_settlement_as_unknown() -> None:
    """Snapshots carry open reservations only, as `LedgerSnapshot` documents."""
    ledger = funded_ledger(100, reserve=30)
    ledger.capture("job-1", 20, now=LATER)
    restored = CreditLedger.from_snapshot(ledger.snapshot())

    with pytest.raises(UnknownReservation):
        restored.capture("job-1", 20, now=LATER)


def test_a_snapshot_loaded_ledger_continues_the_chain() -> None:
    ledger = funded_ledger(100, reserve=30)
    restored = CreditLedger.from_snapshot(ledger.snapshot())

    restored.capture("job-1", 30, now=LATER)
    ledger.capture("job-1", 30, now=LATER)

    assert restored.pending_events == ledger.pending_events[-1:]
    assert chain_breaks(ledger.pending_events) == []
