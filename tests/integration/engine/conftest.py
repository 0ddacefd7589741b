"""`backend`: each engine test runs on SQLite (embedded) and on Postgres (production)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """"sqlite", or the URL of the session's migrated Postgres database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("migrated_postgres"))
    return "sqlite"
