"""Alembic environment: runs migrations on a connection we are given, or on the configured URL.

`create_schema` / `imagegen migrate` pass an open (sync-facing) connection of the app's async
engine in ``config.attributes["connection"]``; the ``alembic`` CLI falls back to
``sqlalchemy.url`` (or ``DATABASE_URL``) and an async engine of its own.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from adapters.persistence.sqlalchemy.engine import create_engine
from adapters.persistence.sqlalchemy.tables import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_on_url(url))


_main()
