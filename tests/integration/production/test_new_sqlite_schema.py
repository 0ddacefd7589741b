"""A new embedded database is created from `metadata` and stamped, not migrated (ADR 0063):
it must be the schema Alembic builds, at the heads Alembic knows, and stay migratable."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.persistence.sqlalchemy import create_engine
from adapters.persistence.sqlalchemy import migrate
from tests.integration.production.test_migrations import describe

pytestmark = pytest.mark.integration


async def _schema_and_heads(url: str, build) -> tuple[dict, set[str]]:  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        await build(engine)
        async with engine.connect() as conn:
            schema = await conn.run_sync(describe)
        return schema, await migrate.current_heads(engine)
    finally:
        await engine.dispose()


async def test_a_new_sqlite_database_equals_the_migrated_one_at_the_same_heads(tmp_path: Path) -> None:
    stamped = await _schema_and_heads(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", migrate.upgrade_heads)
    migrated = await _schema_and_heads(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", migrate.alembic_upgrade)
    assert stamped[0] == migrated[0]
    assert stamped[1] == migrated[1]  # what Alembic itself records in alembic_version


async def test_the_stamped_database_is_upgraded_by_alembic_afterwards(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'home.db'}"
    engine = create_engine(url)
    try:
        assert await migrate.create_new_sqlite(engine)
        assert not await migrate.create_new_sqlite(engine)  # tables exist: not new any more
        async with engine.connect() as conn:
            before = await conn.run_sync(describe)
        await migrate.upgrade_heads(engine)  # runs Alembic: nothing to do at the heads
        async with engine.connect() as conn:
            assert await conn.run_sync(describe) == before
        assert await migrate.current_heads(engine) == migrate.script_heads()
    finally:
        await engine.dispose()


def test_a_migration_with_sql_beyond_row_fixes_turns_the_shortcut_off(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (versions / "b.py").write_text("revision = 'b'\ndown_revision = ('a',)\n")
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    assert migrate.script_heads() == {"b"}
    (versions / "c.py").write_text("revision = 'c'\ndown_revision = 'b'\n"
                                   "def upgrade():\n    op.execute('UPDATE jobs SET n = 1')\n"
                                   "    op.execute(\n        \"DELETE FROM outbox\")\n")
    assert migrate.script_heads() == {"c"}  # row fixes change nothing in a new database
    (versions / "d.py").write_text("revision = 'd'\ndown_revision = 'c'\n"
                                   "def upgrade():\n    op.execute('CREATE TRIGGER t AFTER INSERT ON jobs "
                                   "BEGIN SELECT 1; END')\n")
    assert migrate.script_heads() is None
    (versions / "d.py").write_text("revision = 'd'\ndown_revision = 'c'\n"
                                   "def upgrade():\n    op.bulk_insert(plans, [{'name': 'free'}])\n")
    assert migrate.script_heads() is None
    (versions / "d.py").write_text("revision = 'd'\ndown_revision = 'c'\n"
                                   "# imagegen: backfill-only\n"
                                   "def upgrade():\n    conn = op.get_bind()\n"
                                   "    conn.execute(rows.insert(), copied)\n")
    assert migrate.script_heads() == {"d"}  # a declared backfill of existing rows keeps it on
