"""Alembic, run programmatically: the same migrations create SQLite and Postgres schemas."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for our migrations folder, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template",
                           "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_heads(engine: AsyncEngine) -> None:
    """Apply every migration not applied yet (``alembic upgrade heads``) in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "heads"))


async def current_heads(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at (empty before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))
