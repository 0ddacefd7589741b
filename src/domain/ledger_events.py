"""Events of the credit ledger and their hash chain.

Every event carries its account, its version (1, 2, ... with no gaps), the hash of the event
before it (`prev_hash`; the genesis value for version 1) and its own `hash`, which a
`ChainHasher` computes over the previous hash and the event's canonical bytes. Altering any
stored field of any event changes its hash and breaks every link after it.

The hasher is passed in: stores keep the chain keyed (HMAC-SHA256 with a secret the database
does not hold, ADR 0047), so SQL access alone cannot re-seal a forged chain. `sha256_chain` is
the unkeyed hasher of chains written before the key existed and of the in-memory store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

import msgspec

GENESIS_HASH = "0" * 64

#: ``hasher(prev_hash, canonical_bytes) -> hex digest`` (64 hex characters).
ChainHasher = Callable[[str, bytes], str]


def sha256_chain(prev_hash: str, canonical: bytes) -> str:
    """The unkeyed hasher: SHA-256 (hex) of the previous hash followed by the event's bytes."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical)
    return digest.hexdigest()


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


def compute_hash(event: LedgerEvent, hasher: ChainHasher = sha256_chain) -> str:
    """`hasher` over the previous hash and the event's canonical bytes."""
    return hasher(event.prev_hash, canonical_bytes(event))


def sealed(event: LedgerEvent, hasher: ChainHasher = sha256_chain) -> LedgerEvent:
    """Return `event` with its `hash` field filled in."""
    return msgspec.structs.replace(event, hash=compute_hash(event, hasher))


def encode_event(event: LedgerEvent) -> bytes:
    """JSON for storage; decode with `decode_event`."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> AnyLedgerEvent:
    """Inverse of `encode_event`."""
    return _event_decoder.decode(data)


def chain_breaks(events: list[AnyLedgerEvent], start_hash: str = GENESIS_HASH,
                 hasher: ChainHasher = sha256_chain) -> list[str]:
    """Describe every broken link in `events` (empty when the chain is intact)."""
    problems: list[str] = []
    expected_prev = start_hash
    for event in events:
        if event.prev_hash != expected_prev:
            problems.append(f"version {event.version}: prev_hash does not match the event before")
        if compute_hash(event, hasher) != event.hash:
            problems.append(f"version {event.version}: hash does not match its contents")
        expected_prev = event.hash
    return problems
