"""The outbox in memory: staged like every memory store, applied at commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import OutboxMessage, OutboxRepository


class InMemoryOutboxRepository(OutboxRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._staged: dict[str, bytes] = {}
        self._new: set[str] = set()

    async def add(self, message: OutboxMessage) -> None:
        """Stage the message; `ConcurrencyConflict` if the id exists."""
        if message.id in self._staged or message.id in self._db.outbox:
            raise self._guard.conflict(f"outbox message {message.id} already exists")
        self._staged[message.id] = encode(message)
        self._new.add(message.id)

    async def claim_undispatched(self, limit: int) -> list[OutboxMessage]:
        """Oldest undispatched first; no locks (one event loop, nothing runs in between)."""
        rows = [decode(d, OutboxMessage) for d in {**self._db.outbox, **self._staged}.values()]
        ready = sorted((m for m in rows if m.dispatched_at is None), key=lambda m: (m.created_at, m.id))
        claimed = ready[:limit]
        for message in claimed:
            self._staged[message.id] = encode(msgspec.structs.replace(message, attempts=message.attempts + 1))
        return claimed

    async def mark_dispatched(self, ids: Sequence[str], *, at: datetime) -> None:
        for message_id in ids:
            data = self._staged.get(message_id, self._db.outbox.get(message_id))
            if data is not None:
                message = decode(data, OutboxMessage)
                self._staged[message_id] = encode(msgspec.structs.replace(message, dispatched_at=at))

    def check_commit(self) -> None:
        """Updates of existing rows win last; only a clashing new id is a conflict."""
        if clash := self._new & self._db.outbox.keys():
            raise self._guard.conflict(f"outbox messages {sorted(clash)} were added by another unit")

    def apply_commit(self) -> None:
        self._db.outbox.update(self._staged)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        self._new.clear()
