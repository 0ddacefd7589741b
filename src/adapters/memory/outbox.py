"""The outbox in memory: staged like every memory store, applied at commit.

Job events are always recorded (the memory store does not know the webhook endpoints); the
relay drops those no endpoint wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import OutboxMessage, OutboxRepository
from domain.jobs import JobStatusChanged

JOB_EVENT = "job.event"


class InMemoryOutboxRepository(OutboxRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._staged: dict[str, bytes] = {}
        self._new: set[str] = set()
        self.added_unclaimed = False

    async def add(self, message: OutboxMessage) -> None:
        """Stage the message; `ConcurrencyConflict` if the id exists."""
        if message.id in self._staged or message.id in self._db.outbox:
            raise self._guard.conflict(f"outbox message {message.id} already exists")
        self._staged[message.id] = encode(message)
        self._new.add(message.id)
        self.added_unclaimed |= message.claimed_until is None

    async def add_job_events(self, events: Sequence[JobStatusChanged], *, ids: Sequence[str]) -> None:
        for event, message_id in zip(events, ids, strict=True):
            await self.add(OutboxMessage(id=message_id, job_id=event.job_id, topic=JOB_EVENT,
                                         created_at=event.occurred_at, event=event))

    async def claim_undispatched(self, limit: int, *, now: datetime,
                                 lease_until: datetime) -> list[OutboxMessage]:
        """Oldest unclaimed first; no locks (one event loop, nothing runs in between)."""
        rows = [decode(d, OutboxMessage) for d in {**self._db.outbox, **self._staged}.values()]
        ready = sorted((m for m in rows if m.dispatched_at is None
                        and (m.claimed_until is None or m.claimed_until <= now)),
                       key=lambda m: (m.created_at, m.id))
        claimed = [msgspec.structs.replace(m, attempts=m.attempts + 1, claimed_until=lease_until)
                   for m in ready[:limit]]
        for message in claimed:
            self._staged[message.id] = encode(message)
        return claimed

    async def release(self, ids: Sequence[str]) -> None:
        self._update(ids, claimed_until=None)
        self.added_unclaimed = True

    async def mark_dispatched(self, ids: Sequence[str], *, at: datetime) -> None:
        self._update(ids, dispatched_at=at)

    def _update(self, ids: Sequence[str], **changes: object) -> None:
        for message_id in ids:
            data = self._staged.get(message_id, self._db.outbox.get(message_id))
            if data is not None:
                message = decode(data, OutboxMessage)
                if "claimed_until" in changes and message.dispatched_at is not None:
                    continue
                self._staged[message_id] = encode(msgspec.structs.replace(message, **changes))

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
        self.added_unclaimed = False
