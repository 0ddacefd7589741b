"""Fixtures for integration tests: a throw-away Postgres database per test session.

`postgres_database` creates a uniquely named database on the server of ``DATABASE_URL`` (via
its admin database) and drops it when the session ends; `migrated_postgres` is its URL after
``alembic upgrade heads``. Tests that cannot reach Postgres skip,
or fail when ``IMAGEGEN_REQUIRE_SERVICES=1``. Redis tests call `services.require_redis()`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.services import PostgresDatabase, require_postgres, with_database


async def _admin(admin_url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A fresh, empty database, dropped at the end of the session."""
    admin_url = require_postgres()
    name = f"imagegen_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield PostgresDatabase(name=name, dsn=with_database(admin_url, name))
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    from adapters.persistence.sqlalchemy import create_engine, create_schema

    engine = create_engine(url)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_postgres(postgres_database: PostgresDatabase) -> str:
    """The SQLAlchemy URL of the session's Postgres database, migrated to heads."""
    asyncio.run(_migrate(postgres_database.sqlalchemy_url))
    return postgres_database.sqlalchemy_url
