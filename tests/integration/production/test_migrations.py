"""Alembic owns the schema: `upgrade heads` on an empty database yields what `metadata` says,
on SQLite and on Postgres, and running it again changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.migrate import current_heads

pytestmark = pytest.mark.integration


def describe(sync_conn: Any) -> dict[str, Any]:
    """Tables with their columns (name, nullability), indexes and unique constraints."""
    inspector = inspect(sync_conn)
    schema: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t != "alembic_version"):
        schema[table] = {
            "columns": sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
            "pk": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "uniques": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                          for f in inspector.get_foreign_keys(table)),
        }
    return schema


async def schema_of(url: str, *, migrations: bool) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        await create_schema(engine, migrations=migrations)
        if migrations:
            await create_schema(engine)  # a second upgrade is a no-op
            assert await current_heads(engine)
        async with engine.connect() as conn:
            return await conn.run_sync(describe)
    finally:
        await engine.dispose()


async def test_migrations_build_the_same_sqlite_schema_as_the_metadata(tmp_path: Path) -> None:
    migrated = await schema_of(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}", migrations=True)
    declared = await schema_of(f"sqlite+aiosqlite:///{tmp_path / 'declared.db'}", migrations=False)
    assert migrated == declared


async def test_migrations_build_the_same_postgres_schema_as_the_metadata(postgres_database) -> None:  # type: ignore[no-untyped-def]
    import asyncpg  # type: ignore[import-untyped]

    base = postgres_database.dsn.rsplit("/", 1)[0]
    names = ("imagegen_mig_a", "imagegen_mig_b")
    admin = await asyncpg.connect(postgres_database.dsn)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}"')
        migrated = await schema_of(f"postgresql+asyncpg://{base.split('://', 1)[1]}/{names[0]}", migrations=True)
        declared = await schema_of(f"postgresql+asyncpg://{base.split('://', 1)[1]}/{names[1]}", migrations=False)
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert migrated == declared
