"""Fixtures of the production-profile tests: a migrated Postgres database and emptied tables."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.tables import metadata
from tests.integration.services import PostgresDatabase


async def _migrate(url: str) -> None:
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


async def empty_tables(engine) -> None:  # type: ignore[no-untyped-def]
    """Delete every row of every table the database has (children first)."""
    async with engine.begin() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        for table in reversed(metadata.sorted_tables):
            if table.name in present:
                await conn.execute(table.delete())
