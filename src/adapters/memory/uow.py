"""The memory unit of work: stages every write and applies it to the `InMemoryDatabase` at once.

`commit()` first checks every staged write against what other units committed meanwhile
(raising `ConcurrencyConflict`, as the SQL store does, and applying nothing), then applies them
all without yielding to the event loop, so other units see all of it or none. Leaving the block
without committing discards the staged writes. A unit in which a store raised
`ConcurrencyConflict` cannot commit (see `ConflictGuard`).
"""

from __future__ import annotations

import asyncio

from typing import Protocol, Self

from adapters.memory.batches import InMemoryBatchRepository
from adapters.memory.images import InMemoryImageRepository
from adapters.memory.jobs import InMemoryJobRepository
from adapters.memory.ledger import InMemoryLedgerStore
from adapters.memory.outbox import InMemoryOutboxRepository
from adapters.memory.provider_deliveries import InMemoryProviderDeliveryLog
from adapters.memory.quotas import InMemoryQuotaRepository
from adapters.memory.store import InMemoryDatabase
from adapters.memory.users import InMemoryUserRepository
from adapters.persistence import ConflictGuard, JobEventCollector, new_message_id
from application.errors import CommitOutcomeUnknown, ServiceUnavailable
from application.ports import UnitOfWork
from domain.jobs import JobStatusChanged


class _Staging(Protocol):
    def check_commit(self) -> None: ...

    def apply_commit(self) -> None: ...

    def discard(self) -> None: ...


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, db: InMemoryDatabase, *, signal: object | None = None,
                 faults: object | None = None) -> None:
        """`signal` and `faults` as for `SqlAlchemyUnitOfWork` (an `OutboxSignal`, `CommitFaults`)."""
        self._db = db
        self._signal, self._faults = signal, faults
        self._events = JobEventCollector()
        self._guard = guard = ConflictGuard()
        self.jobs = InMemoryJobRepository(db, guard, self._events.track)
        self.ledgers = InMemoryLedgerStore(db, guard)
        self.images = InMemoryImageRepository(db, guard)
        self.users = InMemoryUserRepository(db, guard)
        self.quotas = InMemoryQuotaRepository(db, self.users)
        self.outbox = InMemoryOutboxRepository(db, guard)
        self.batches = InMemoryBatchRepository(db, guard)
        self.provider_deliveries = InMemoryProviderDeliveryLog(db, guard)
        self._locked: list[str] = []
        self._staging: tuple[_Staging, ...] = (
            self.jobs, self.ledgers, self.images, self.users, self.quotas, self.outbox, self.batches,
            self.provider_deliveries)

    async def __aenter__(self) -> Self:
        """Raise `ServiceUnavailable` while the database is marked unavailable."""
        self._ensure_available()
        self._discard()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._discard()
        self._unlock()

    async def lock_account(self, account_id: str) -> None:
        """Hold `account_id`'s lock until the unit ends; other units locking it wait."""
        if account_id in self._locked:
            return
        lock = self._db.account_locks.setdefault(account_id, asyncio.Lock())
        await lock.acquire()
        self._locked.append(account_id)

    def _unlock(self) -> None:
        while self._locked:
            self._db.account_locks[self._locked.pop()].release()

    async def commit(self) -> None:
        """Apply every staged write, or raise `ConcurrencyConflict` and apply none (also when
        a store of this unit already raised it)."""
        self._ensure_available()
        self._guard.check()
        events = self._events.pending()
        if events:  # side effects of the transitions, in the same commit (ADR 0051)
            await self.outbox.add_job_events(events, ids=[new_message_id() for _ in events])
        before = getattr(self._faults, "before_commit", None)
        if before is not None:
            await before(events)
        for staging in self._staging:
            staging.check_commit()
        wake = self.outbox.added_unclaimed
        for staging in self._staging:
            staging.apply_commit()
        after = getattr(self._faults, "after_commit", None)
        if after is not None:
            try:
                await after(events)
            except OSError as exc:  # as SQL: a dropped connection after COMMIT
                raise CommitOutcomeUnknown(f"the outcome of a commit is unknown: {exc}") from exc
        self._events.committed()
        if wake and self._signal is not None:
            self._signal.notify()  # type: ignore[attr-defined]

    def collect_new_events(self) -> list[JobStatusChanged]:
        return self._events.take()

    def _discard(self) -> None:
        for staging in self._staging:
            staging.discard()
        self._events.discard()
        self._guard.reset()

    def _ensure_available(self) -> None:
        if self._db.unavailable:
            raise ServiceUnavailable("the in-memory database is marked unavailable")


class InMemoryUnitOfWorkFactory:
    """A `UnitOfWorkFactory`: a new `InMemoryUnitOfWork` on the same database per call."""

    def __init__(self, db: InMemoryDatabase | None = None, *, signal: object | None = None,
                 faults: object | None = None) -> None:
        self.db = db if db is not None else InMemoryDatabase()
        self.signal, self.faults = signal, faults

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db, signal=self.signal, faults=self.faults)
