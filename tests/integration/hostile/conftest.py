"""The API on both profiles for the hostile-input tests (issue 11): `both` runs a test on the
embedded profile (SQLite, in-process limiter) and on the production one (Postgres, Redis on
loopback), with the same assertions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.http.app import create_app
from tests.integration.http.conftest import Api
from tests.integration.http.request_helpers import api_with
from tests.integration.services import require_redis


@asynccontextmanager
async def production_api(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    from tests.integration.production.conftest import empty_tables
    from tests.integration.production.helpers import RecordingQueue, production_container

    overrides.setdefault("redis_url", require_redis())
    container = production_container(database_url, tmp_path, queue=RecordingQueue(), **overrides)
    await empty_tables(container.adapters.engine())
    features_prefix = f"imagegen:test:{uuid.uuid4().hex}:"
    app = create_app(container=container, manage_container=False, run_worker=False)
    limiter = container.request_features.rate_limiter()  # type: ignore[attr-defined]
    if hasattr(limiter, "_prefix"):
        limiter._prefix = features_prefix  # buckets unique to this run (others share the Redis)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield Api(client, container)
    finally:
        await container.close()


@asynccontextmanager
async def profile_api(database_url: str | None, tmp_path: Path, **overrides: Any) -> AsyncIterator[Api]:
    """Embedded when `database_url` is None, else production on that Postgres and loopback Redis."""
    if database_url is None:
        async with api_with(tmp_path, **overrides) as api:
            yield api
    else:
        async with production_api(database_url, tmp_path, **overrides) as api:
            yield api


@pytest.fixture(params=["embedded", "production"])
def profile_db(request: pytest.FixtureRequest) -> str | None:
    """None for the embedded profile; the migrated Postgres URL for the production one."""
    return None if request.param == "embedded" else request.getfixturevalue("migrated_postgres")


@pytest.fixture
async def both(profile_db: str | None, tmp_path: Path) -> AsyncIterator[Api]:
    async with profile_api(profile_db, tmp_path) as api:
        yield api
