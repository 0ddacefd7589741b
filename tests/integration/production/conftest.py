"""Fixtures of the production-profile tests: emptied tables (the migrated database is
`migrated_postgres` in tests/integration/conftest.py)."""

from __future__ import annotations


from sqlalchemy import inspect

from adapters.persistence.sqlalchemy.tables import metadata


async def empty_tables(engine) -> None:  # type: ignore[no-untyped-def]
    """Delete every row of every table the database has (children first)."""
    async with engine.begin() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        for table in reversed(metadata.sorted_tables):
            if table.name in present:
                await conn.execute(table.delete())
