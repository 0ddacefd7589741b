"""Events of the credit ledger and their SHA-256 hash chain.

Every event carries its account, its version (1, 2, ... with no gaps), the hash of the event
before it (`prev_hash`; the genesis value for version 1) and its own `hash`, which is
SHA-256 over the previous hash and the event's canonical bytes. Altering any stored field of
any event changes its hash and breaks every link after it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

GENESIS_HASH = "0" * 64


class LedgerEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every ledger event has."""

    account_id: str
    version: int
    occurred_at: datetime
    prev_hash: str
    hash: str = ""


class CreditsGranted(LedgerEvent, frozen=True, kw_only=True, tag="credits_granted"):
    """Credits added to the account (purchase, starter grant, promotion)."""

    amount: int
    reason: str = ""


class CreditsReserved(LedgerEvent, frozen=True, kw_only=True, tag="credits_reserved"):
    """Credits held for a job until it settles or the reservation expires."""

    job_id: str
    amount: int
    expires_at: datetime


class ReservationCaptured(LedgerEvent, frozen=True, kw_only=True, tag="reservation_captured"):
    """A reservation settled by charging `amount`; `released` (the rest) goes back at once."""

    job_id: str
    amount: int
    released: int


class ReservationReleased(LedgerEvent, frozen=True, kw_only=True, tag="reservation_released"):
    """A reservation settled by giving all of it back."""

    job_id: str
    amount: int
    reason: str = ""


class CreditsAdjusted(LedgerEvent, frozen=True, kw_only=True, tag="credits_adjusted"):
    """A signed correction by an operator; never takes available credits below zero."""

    amount: int
    reason: str = ""


AnyLedgerEvent = CreditsGranted | CreditsReserved | ReservationCaptured | ReservationReleased | CreditsAdjusted

_encoder = msgspec.json.Encoder(order="sorted")
_event_decoder = msgspec.json.Decoder(AnyLedgerEvent)


def canonical_bytes(event: LedgerEvent) -> bytes:
    """The bytes that are hashed: the event with its own hash blanked, keys sorted."""
    return _encoder.encode(msgspec.structs.replace(event, hash=""))


def compute_hash(event: LedgerEvent) -> str:
    """SHA-256 (hex) of the previous hash followed by the event's canonical bytes."""
    digest = hashlib.sha256()
    digest.update(event.prev_hash.encode("ascii"))
    digest.update(canonical_bytes(event))
    return digest.hexdigest()


def sealed(event: LedgerEvent) -> LedgerEvent:
    """Return `event` with its `hash` field filled in."""
    return msgspec.structs.replace(event, hash=compute_hash(event))


def encode_event(event: LedgerEvent) -> bytes:
    """JSON for storage; decode with `decode_event`."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> AnyLedgerEvent:
    """Inverse of `encode_event`."""
    return _event_decoder.decode(data)


def chain_breaks(events: list[AnyLedgerEvent], start_hash: str = GENESIS_HASH) -> list[str]:
    """Describe every broken link in `events` (empty when the chain is intact)."""
    problems: list[str] = []
    expected_prev = start_hash
    for event in events:
        if event.prev_hash != expected_prev:
            problems.append(f"version {event.version}: prev_hash does not match the event before")
        if compute_hash(event) != event.hash:
            problems.append(f"version {event.version}: hash does not match its contents")
        expected_prev = event.hash
    return problems
