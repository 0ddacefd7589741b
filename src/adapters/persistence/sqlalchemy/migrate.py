"""Alembic, run programmatically: the same migrations create SQLite and Postgres schemas.

A brand-new SQLite database (a new embedded home) skips replaying the migrations: the tables
come from `metadata` (tests/integration/production/test_migrations.py keeps the two equal) and
the heads are stamped, read from the revision files without importing Alembic, which is most
of a first `imagegen generate` otherwise (ADR 0063). A migration that runs SQL of its own other
than `op.execute("UPDATE ...")` / `("DELETE ...")` (row fixes, no-ops on empty tables) turns the
shortcut off, unless the revision declares itself a backfill of existing rows
(`# imagegen: backfill-only`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^(?:down_revision|depends_on)\b[^=\n]*=\s*(.+)$", re.M)
_ANY_EXECUTE = re.compile(r"\.execute\(")
_ROWS_ONLY = re.compile(  # op.execute("UPDATE ...") / ("DELETE ..."): nothing to do on empty tables
    r"\bop\.execute\(\s*(?:sa\.text\(\s*)?[rRuU]?(?:'|\")+\s*(?:UPDATE|DELETE)\b", re.I)
_OTHER_SQL = re.compile(r"bulk_insert|get_bind|run_sync|inline_literal")
#: A revision whose own SQL only copies existing rows into new tables (a backfill: nothing to do
#: on a new, empty database) says so with this line, which keeps the shortcut on.
_BACKFILL_ONLY = re.compile(r"^# imagegen: backfill-only\b", re.M)


def _only_ddl_or_row_fixes(text: str) -> bool:
    """True when the revision's own SQL only changes existing rows (a no-op on a new database)."""
    if _BACKFILL_ONLY.search(text):
        return True
    if _OTHER_SQL.search(text):
        return False
    return len(_ANY_EXECUTE.findall(text)) == len(_ROWS_ONLY.findall(text))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for our migrations folder, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template",
                           "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_heads(engine: AsyncEngine) -> None:
    """Bring the schema to the heads: stamp a new SQLite database, else ``alembic upgrade heads``."""
    if engine.dialect.name == "sqlite" and await create_new_sqlite(engine):
        return
    await alembic_upgrade(engine)


async def alembic_upgrade(engine: AsyncEngine) -> None:
    """Apply every migration not applied yet (``alembic upgrade heads``) in one transaction."""
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "heads"))


def script_heads() -> set[str] | None:
    """The head revisions, read from the revision files; None if a migration runs SQL of its own
    other than UPDATE / DELETE of existing rows (which has nothing to change in a new database)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        if revision is None or not _only_ddl_or_row_fixes(text):
            return None
        revisions.add(revision.group(1))
        for below in _DOWN_REVISION.findall(text):  # what it revises or depends on is no head
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", below))
    heads = revisions - downs
    return heads or None


async def create_new_sqlite(engine: AsyncEngine) -> bool:
    """On a SQLite database with no tables: create `metadata` and stamp the heads. False otherwise."""
    from adapters.persistence.sqlalchemy.tables import metadata

    heads = script_heads()
    if heads is None:
        return False
    async with engine.begin() as conn:
        tables = (await conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table'")).scalar()
        if tables:
            return False
        await conn.run_sync(metadata.create_all)
        await conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                                   "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
        for head in sorted(heads):
            await conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    return True


async def current_heads(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at (empty before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))


def code_heads() -> set[str]:
    """The head revisions of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def missing_revisions(current: set[str]) -> set[str]:
    """Revisions of this code not applied under `current` (the database's heads).

    A revision counts as applied when it is an ancestor of a current head, `depends_on` links
    included (Alembic then drops the dependency from the version table). Raises ValueError for
    a current revision this code does not know (the database is newer than the code).
    """
    from alembic.script import ScriptDirectory
    from alembic.script.revision import ResolutionError

    script = ScriptDirectory.from_config(alembic_config())
    revisions = script.revision_map
    try:
        heads = revisions.get_revisions(tuple(current))
    except (ResolutionError, KeyError) as exc:
        raise ValueError(f"the database is at revisions this code does not know: {exc}") from exc
    applied = {r.revision for r in revisions._get_ancestor_nodes(heads, include_dependencies=True)}
    return {r.revision for r in script.walk_revisions()} - applied


async def schema_problem(engine: AsyncEngine) -> str | None:
    """Why the database cannot serve this code (None when every migration is applied).

    Raises ServiceUnavailable when the database cannot be reached.
    """
    from adapters.persistence.sqlalchemy.engine import translated_errors

    with translated_errors("read the schema revision"):
        current = await current_heads(engine)
    try:
        missing = missing_revisions(current)
    except ValueError as exc:
        return str(exc)
    if not missing:
        return None
    have = ", ".join(sorted(current)) or "no schema"
    return f"the database schema is out of date (at {have}; missing {', '.join(sorted(missing))}): run imagegen migrate"
