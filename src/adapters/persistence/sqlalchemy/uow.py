"""The SQL unit of work: one pooled connection and one transaction per `async with`.

Every repository of a unit shares its connection, so what a unit writes commits or rolls back
together. Leaving the block without `commit()` rolls back. Job events of the jobs the unit
added or saved become available from `collect_new_events()` once the commit has succeeded.
"""

from __future__ import annotations

from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.persistence import ConflictGuard, JobEventCollector
from adapters.persistence.sqlalchemy.engine import GuardedConnection, connect, translated_errors
from adapters.persistence.sqlalchemy.batches import SqlAlchemyBatchRepository
from adapters.persistence.sqlalchemy.images import SqlAlchemyImageRepository
from adapters.persistence.sqlalchemy.jobs import SqlAlchemyJobRepository
from adapters.persistence.sqlalchemy.ledger import SqlAlchemyLedgerStore
from adapters.persistence.sqlalchemy.outbox import SqlAlchemyOutboxRepository
from adapters.persistence.sqlalchemy.provider_deliveries import SqlAlchemyProviderDeliveryLog
from adapters.persistence.sqlalchemy.quotas import SqlAlchemyQuotaRepository
from adapters.persistence.sqlalchemy.users import SqlAlchemyUserRepository
from application.ports import UnitOfWork
from domain.jobs import JobStatusChanged


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Use a fresh instance per unit (see `SqlAlchemyUnitOfWorkFactory`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
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
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._guard.reset()
        db = GuardedConnection(conn, self._guard)
        self.jobs = SqlAlchemyJobRepository(db, self._events.track)
        self.ledgers = SqlAlchemyLedgerStore(db)
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
            await conn.close()

    async def commit(self) -> None:
        """Commit; `ConcurrencyConflict` if a store of this unit lost a race (nothing is
        written) or the database refuses, `ServiceUnavailable` if it cannot be reached."""
        if self._conn is None:
            raise RuntimeError("commit() outside `async with`")
        self._guard.check()
        with translated_errors("commit"):
            await self._conn.commit()
        self._events.committed()

    def collect_new_events(self) -> list[JobStatusChanged]:
        return self._events.take()


class SqlAlchemyUnitOfWorkFactory:
    """A `UnitOfWorkFactory`: a new `SqlAlchemyUnitOfWork` on the same engine per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine)
