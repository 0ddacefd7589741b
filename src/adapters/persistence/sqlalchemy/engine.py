"""Engines for SQLite (aiosqlite) and Postgres (asyncpg), schema creation, and the translation of
driver errors into the application's errors.

SQLite connections run in WAL mode with a busy timeout and foreign keys on. The driver's
default transaction handling is kept: a unit of work's reads before its first write run outside
a transaction, and its first write opens one and takes SQLite's single write lock. Within a
process, units of work write one at a time (ADR 0046): before its first write, or when it locks
an account, a unit queues on the engine's `SqliteWriter` (an asyncio lock, no timeout and no
busy-handler back-off), so a unit holding the write lock for longer than the busy timeout
delays the others instead of failing them. Readers run beside the writer on their own pooled
connections. The busy timeout is left for writers in other processes (a CLI beside the server).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Executable, event, literal, select
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from adapters.persistence import ConflictGuard
from adapters.persistence.sqlalchemy.tables import metadata
from application.errors import ConcurrencyConflict, ServiceUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000

#: Postgres serialization failure and deadlock: the transaction lost a race, retrying may win.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
            "postgres": "postgresql+asyncpg"}


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; ``sqlite://`` and ``postgresql://`` get their async driver.

    Nothing connects until first use.
    """
    parsed = make_url(url)
    if parsed.drivername in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    elif engine.dialect.driver == "asyncpg":
        engine.dialect.do_ping = _ping_outside_a_transaction  # type: ignore[method-assign]
    return engine


def _ping_outside_a_transaction(dbapi_connection: Any) -> bool:
    """The pool's pre-ping as one round trip (an empty query), not the driver's default
    BEGIN, query, ROLLBACK (ADR 0065): a pooled connection is never inside a transaction."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.ping()
    finally:
        dbapi_connection.autocommit = autocommit
    return True


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class SqliteWriter:
    """One writing unit of work at a time on a SQLite engine, in this process (ADR 0046).

    Waiters queue in FIFO order on an asyncio lock. A task that already holds it may take it
    again (a unit opened inside another unit of the same task), which keeps such nesting as it
    was rather than deadlocking it.
    """

    __slots__ = ("_lock", "_owner", "_depth")

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


_writers: weakref.WeakKeyDictionary[Any, SqliteWriter] = weakref.WeakKeyDictionary()


def sqlite_writer(engine: AsyncEngine) -> SqliteWriter | None:
    """The writer lock of a SQLite `engine`; None for other databases."""
    if engine.dialect.name != "sqlite":
        return None
    writer = _writers.get(engine.sync_engine)
    if writer is None:
        writer = _writers[engine.sync_engine] = SqliteWriter()
    return writer


async def create_schema(engine: AsyncEngine, *, migrations: bool = True) -> None:
    """Bring the schema up to date: ``alembic upgrade heads`` (about 30 ms on a new SQLite file),
    or with ``migrations=False`` create whatever `metadata` lacks without recording a revision
    (a test shortcut only: a database made so cannot be migrated later)."""
    if migrations:
        from adapters.persistence.sqlalchemy.migrate import upgrade_heads

        await upgrade_heads(engine)
        return
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection from the pool; raise `ServiceUnavailable` if the database cannot be reached."""
    try:
        return await engine.connect()
    except (DBAPIError, OSError, TimeoutError, PoolTimeout) as exc:  # PoolTimeout: pool exhausted
        raise ServiceUnavailable(f"database unreachable: {_reason(exc)}") from exc


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Re-raise driver errors met while doing `action` as application errors.

    Raises:
        ConcurrencyConflict: on any integrity violation (another writer got there first), a
            serialization failure or a deadlock.
        ServiceUnavailable: when the connection is lost or the database refuses to work.
    """
    try:
        yield
    except IntegrityError as exc:
        raise ConcurrencyConflict(f"{action}: {_reason(exc)}") from exc
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            raise ConcurrencyConflict(f"{action}: {_reason(exc)}") from exc
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            raise ServiceUnavailable(f"{action}: {_reason(exc)}") from exc
        raise
    except (OSError, TimeoutError, PoolTimeout) as exc:
        raise ServiceUnavailable(f"{action}: {_reason(exc)}") from exc


class GuardedConnection:
    """A unit's connection as its repositories see it: statements run with driver errors
    translated, and any `ConcurrencyConflict` dooms the unit (see `ConflictGuard`)."""

    __slots__ = ("_conn", "_guard", "_before_write", "_begin")

    def __init__(self, conn: AsyncConnection, guard: ConflictGuard,
                 before_write: Any = None, begin: Any = None) -> None:
        self._conn = conn
        self._guard = guard
        self._before_write = before_write  # awaited before each INSERT/UPDATE/DELETE (SQLite)
        self._begin = begin  # called before a write, a locking read or the driver connection

    @property
    def dialect_name(self) -> str:
        return self._conn.dialect.name

    async def execute(self, action: str, statement: Executable,
                      parameters: list[dict[str, Any]] | None = None) -> CursorResult[Any]:
        """Run `statement` (for `parameters`, if given); errors as in `translated_errors`."""
        if self._begin is not None and (getattr(statement, "is_dml", False)
                                        or getattr(statement, "_for_update_arg", None) is not None):
            self._begin()
        if self._before_write is not None and getattr(statement, "is_dml", False):
            await self._before_write()
        try:
            with translated_errors(action):
                return await self._conn.execute(statement, parameters)
        except ConcurrencyConflict as exc:
            self._guard.record(exc)
            raise

    async def driver_connection(self) -> Any:
        """The driver's own connection (asyncpg's on Postgres) inside this unit's transaction."""
        if self._begin is not None:
            self._begin()
        raw = await self._conn.get_raw_connection()
        driver = raw.driver_connection
        if not getattr(driver, "is_in_transaction", lambda: True)():
            with translated_errors("begin a transaction"):  # the dialect begins lazily
                await self._conn.execute(select(literal(1)))
        return driver

    def conflict(self, message: str) -> ConcurrencyConflict:
        """A conflict found by the caller (a compare-and-set that matched no row), recorded."""
        return self._guard.conflict(message)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).splitlines()[0]
