"""`InMemoryDatabase`: the committed state of the memory adapters, one dict per table.

Values are msgspec-encoded bytes, so everything a fake stores round-trips through msgspec the
way it round-trips through SQL, and no caller can change stored state by mutating an object.
Each instance is its own database (no class-level state); share one between the units of work
of a test. Set `unavailable` to make every unit fail with `ServiceUnavailable`.
"""

from __future__ import annotations

import asyncio

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}  # a cache of stateless decoders, by type


def decode(data: bytes, type_: type[T]) -> T:
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    return decoder.decode(data)  # type: ignore[no-any-return]


class InMemoryDatabase:
    """Committed rows. Only `InMemoryUnitOfWork.commit` writes here, all at once."""

    def __init__(self) -> None:
        self.jobs: dict[str, bytes] = {}  # job id -> JobState
        self.ledger_events: dict[str, list[bytes]] = {}  # account -> encode_event(e), by version
        self.balances: dict[str, bytes] = {}  # account -> LedgerSnapshot
        self.settlements: set[tuple[str, str]] = set()  # (account, job) with a settlement event
        self.images: dict[str, bytes] = {}  # image id -> StoredImage
        self.storage_usage: dict[str, int] = {}  # user id -> bytes used
        self.storage_held: dict[str, int] = {}  # user id -> bytes counted by units not yet ended
        self.users: dict[str, bytes] = {}  # user id -> User
        self.api_keys: dict[str, bytes] = {}  # key hash -> ApiKey
        self.outbox: dict[str, bytes] = {}  # message id -> OutboxMessage
        self.batches: dict[str, bytes] = {}  # batch id -> Batch
        self.provider_deliveries: dict[str, bytes] = {}  # provider:delivery id -> record
        self.unavailable = False
        self.account_locks: dict[str, asyncio.Lock] = {}  # see InMemoryUnitOfWork.lock_account
