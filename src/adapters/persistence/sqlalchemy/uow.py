"""The SQL unit of work: one pooled connection and one transaction per `async with`.

Every repository of a unit shares its connection, so what a unit writes commits or rolls back
together. `lock_account` serialises the units that write one account's ledger (ADR 0045): the
`balances` row ``FOR UPDATE`` on Postgres; on SQLite the engine's single writer (ADR 0046) and
``BEGIN IMMEDIATE``. On SQLite every unit also queues on that writer before its first write.
Ledger events are sealed with HMAC-SHA256 under `ledger_key` (ADR 0047). Leaving the block
without `commit()` rolls back. Job events of the jobs the unit added or saved are written to the outbox (topic `job.event`) in the same transaction, so their
side effects (client webhooks) cannot be lost between the commit and the code after it
(ADR 0051); they also become available from `collect_new_events()` once the commit has
succeeded, for in-process watchers. A commit whose outcome is unknown (the connection dropped
while COMMIT was in flight) raises `CommitOutcomeUnknown` (ADR 0052). `faults` lets tests
inject failures around the commit through the real adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.ledger_chain import hmac_chain
from adapters.persistence import ConflictGuard, JobEventCollector, new_message_id
from adapters.persistence.sqlalchemy.engine import (
    GuardedConnection,
    connect,
    sqlite_writer,
    translated_errors,
)
from adapters.persistence.sqlalchemy.batches import SqlAlchemyBatchRepository
from adapters.persistence.sqlalchemy.images import SqlAlchemyImageRepository
from adapters.persistence.sqlalchemy.jobs import SqlAlchemyJobRepository
from adapters.persistence.sqlalchemy.ledger import SqlAlchemyLedgerStore
from adapters.persistence.sqlalchemy.outbox import SqlAlchemyOutboxRepository
from adapters.persistence.sqlalchemy.provider_deliveries import SqlAlchemyProviderDeliveryLog
from adapters.persistence.sqlalchemy.quotas import SqlAlchemyQuotaRepository
from adapters.persistence.sqlalchemy.users import SqlAlchemyUserRepository
from application.errors import CommitOutcomeUnknown, ServiceUnavailable
from application.ports import UnitOfWork
from domain.jobs import JobStatusChanged


FaultHook = Callable[[Sequence[JobStatusChanged]], Awaitable[None]]


class CommitFaults:
    """Test hooks around a unit's commit, each given the job events the unit is committing.

    `before_commit` runs before COMMIT (raising there rolls the unit back); `after_commit`
    runs once COMMIT succeeded, inside the commit's error translation, so a driver-like error
    raised there (`ConnectionResetError`) looks exactly like a dropped connection at commit,
    and any other exception like a crash right after it.
    """

    def __init__(self, *, before_commit: FaultHook | None = None,
                 after_commit: FaultHook | None = None) -> None:
        self.before_commit, self.after_commit = before_commit, after_commit


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Use a fresh instance per unit (see `SqlAlchemyUnitOfWorkFactory`)."""

    def __init__(self, engine: AsyncEngine, *, signal: object | None = None,
                 faults: CommitFaults | None = None, ledger_key: bytes = b"") -> None:
        """`signal` (an `OutboxSignal`) is notified after a commit that added outbox messages.
        `ledger_key` keys the ledger's hash chain; the wiring always passes the deployment's
        key (an empty key, for tests, still makes an HMAC chain)."""
        self._engine = engine
        self._signal = signal
        self._faults = faults
        self._hasher = hmac_chain(ledger_key)
        self._writer = sqlite_writer(engine)
        self._writing = False
        self._conn: AsyncConnection | None = None
        self._dbapi: Any = None  # Postgres: the DBAPI connection, autocommit until a write
        self._events = JobEventCollector()
        self._guard = ConflictGuard()

    async def __aenter__(self) -> Self:
        """Check out a connection; `ServiceUnavailable` if the database cannot be reached."""
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn = await connect(self._engine)
        try:
            with translated_errors("begin a transaction"):
                await conn.begin()
                self._dbapi = None
                if self._writer is None:  # Postgres: read outside a transaction (ADR 0065)
                    self._dbapi = (await conn.get_raw_connection()).dbapi_connection
                    self._dbapi.autocommit = True
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._guard.reset()
        db = GuardedConnection(conn, self._guard,
                               self._take_writer if self._writer is not None else None,
                               self._begin_transaction if self._dbapi is not None else None)
        self._db = db
        self.jobs = SqlAlchemyJobRepository(db, self._events.track)
        self.ledgers = SqlAlchemyLedgerStore(db, self._hasher)
        self.images = SqlAlchemyImageRepository(db)
        self.quotas = SqlAlchemyQuotaRepository(db)
        self.users = SqlAlchemyUserRepository(db)
        self.batches = SqlAlchemyBatchRepository(db)
        self.outbox = SqlAlchemyOutboxRepository(db)
        self.provider_deliveries = SqlAlchemyProviderDeliveryLog(db)
        return self

    async def __aexit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        self._events.discard()
        if conn is None:
            return
        try:
            with translated_errors("roll back"):
                await conn.rollback()  # a no-op after a commit
        except Exception:
            if exc[0] is None:  # otherwise keep the error that is already on its way out
                raise
        finally:
            try:
                self._begin_transaction()  # the pooled connection goes back as it came
                await conn.close()
            finally:
                self._release_writer()

    def _begin_transaction(self) -> None:
        """Postgres: the next statement opens the unit's transaction (the driver begins lazily),
        so a unit that only reads sends no BEGIN and no ROLLBACK (ADR 0065)."""
        if self._dbapi is not None and self._dbapi.autocommit:
            self._dbapi.autocommit = False

    async def lock_account(self, account_id: str) -> None:
        """Serialise with every other unit writing `account_id` (see the module docstring)."""
        if self._conn is None:
            raise RuntimeError("lock_account() outside `async with`")
        if self._writer is None:
            self._begin_transaction()
            await self.ledgers.lock(account_id)
            return
        await self._take_writer()
        raw = await self._conn.get_raw_connection()
        if not raw.driver_connection.in_transaction:
            with translated_errors(f"lock account {account_id}"):
                await self._conn.exec_driver_sql("BEGIN IMMEDIATE")

    async def _take_writer(self) -> None:
        if not self._writing and self._writer is not None:
            await self._writer.acquire()
            self._writing = True

    def _release_writer(self) -> None:
        if self._writing and self._writer is not None:
            self._writing = False
            self._writer.release()

    async def commit(self) -> None:
        """Commit; `ConcurrencyConflict` if a store of this unit lost a race (nothing is
        written) or the database refuses, `ServiceUnavailable` if it cannot be reached."""
        if self._conn is None:
            raise RuntimeError("commit() outside `async with`")
        self._guard.check()
        events = self._events.pending()
        if events:
            await self.outbox.add_job_events(events, ids=[new_message_id() for _ in events])
            self._guard.check()
        if self._faults is not None and self._faults.before_commit is not None:
            await self._faults.before_commit(events)
        try:
            with translated_errors("commit"):
                await self._conn.commit()
                if self._faults is not None and self._faults.after_commit is not None:
                    await self._faults.after_commit(events)
        except ServiceUnavailable as exc:  # COMMIT was sent; it may have taken effect
            raise CommitOutcomeUnknown(f"the outcome of a commit is unknown: {exc}") from exc
        self._release_writer()
        self._events.committed()
        if self.outbox.added_unclaimed and self._signal is not None:
            self._signal.notify()  # type: ignore[attr-defined]

    def collect_new_events(self) -> list[JobStatusChanged]:
        return self._events.take()


class SqlAlchemyUnitOfWorkFactory:
    """A `UnitOfWorkFactory`: a new `SqlAlchemyUnitOfWork` on the same engine per call."""

    def __init__(self, engine: AsyncEngine, *, signal: object | None = None,
                 faults: CommitFaults | None = None, ledger_key: bytes = b"") -> None:
        self.engine, self.signal, self.faults = engine, signal, faults
        self.ledger_key = ledger_key

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, signal=self.signal, faults=self.faults,
                                    ledger_key=self.ledger_key)


async def reseal_unkeyed_ledgers(engine: AsyncEngine, ledger_key: bytes) -> int:
    """Re-seal with `ledger_key` every account whose chain is still unkeyed and verifies
    (ADR 0047), each in its own unit under the account's lock; return how many were re-sealed.
    Accounts that do not verify are left unkeyed, so the audit keeps reporting them."""
    from sqlalchemy import select

    from adapters.ledger_chain import UNKEYED_CHAIN
    from adapters.persistence.sqlalchemy.ledger import reseal_unkeyed
    from adapters.persistence.sqlalchemy.tables import balances

    async with SqlAlchemyUnitOfWork(engine, ledger_key=ledger_key) as uow:
        query = select(balances.c.account_id).where(balances.c.chain_kind == UNKEYED_CHAIN)
        ids = list((await uow._db.execute("list unkeyed ledgers", query)).scalars())
    resealed = 0
    for account_id in ids:
        async with SqlAlchemyUnitOfWork(engine, ledger_key=ledger_key) as uow:
            await uow.lock_account(account_id)
            if await reseal_unkeyed(uow._db, account_id, uow.ledgers.hasher):
                await uow.commit()
                resealed += 1
    return resealed
