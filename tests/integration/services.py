"""Reachability of the services integration tests need, and the skip-or-fail rule.

A service that is down skips the test locally; with ``IMAGEGEN_REQUIRE_SERVICES=1`` (or ``CI``
set, as in house style) it fails it, so CI never passes by skipping. URLs come from
``DATABASE_URL`` and ``REDIS_URL``, defaulting to the loopback services of the dev machine.
"""

from __future__ import annotations

import asyncio
import os
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import msgspec
import pytest

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT_S = 3.0


class PostgresDatabase(msgspec.Struct, frozen=True, kw_only=True):
    """A database created for a test session (see the `postgres_database` fixture)."""

    name: str
    dsn: str  # postgresql://... for asyncpg

    @property
    def sqlalchemy_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def services_required() -> bool:
    """True when a missing service must fail the run instead of skipping."""
    flag = os.environ.get("IMAGEGEN_REQUIRE_SERVICES", "")
    if flag:
        return flag == "1"
    return bool(os.environ.get("CI"))


def unavailable(reason: str) -> NoReturn:
    """Skip the current test (locally) or fail it (when services are required)."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(f"service unavailable: {reason}")


def database_url() -> str:
    """The admin Postgres URL, in plain ``postgresql://`` form (what asyncpg takes)."""
    return asyncpg_dsn(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def asyncpg_dsn(url: str) -> str:
    """`url` without a SQLAlchemy driver suffix (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme))


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def postgres_problem(url: str) -> str | None:
    """Why Postgres at `url` cannot be used, or None when a query succeeds."""
    import asyncpg  # type: ignore[import-untyped]

    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"Postgres at {_redacted(url)}: {type(exc).__name__}: {exc}"
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return None


def require_postgres(url: str | None = None) -> str:
    """The admin Postgres URL if reachable; otherwise skip or fail. Call outside an event loop."""
    url = url or database_url()
    problem = asyncio.run(postgres_problem(url))
    if problem:
        unavailable(problem + " (set DATABASE_URL)")
    return url


def require_redis(url: str | None = None) -> str:
    """The Redis URL if it answers PING; otherwise skip or fail."""
    import redis

    url = url or redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                  socket_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis at {_redacted(url)}: {type(exc).__name__}: {exc} (set REDIS_URL)")
    finally:
        client.close()
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
