"""Item 10 over HTTP: an exhausted connection pool answers 503 with Retry-After, not 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.persistence.sqlalchemy import create_engine
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

pytestmark = pytest.mark.integration


async def test_a_pool_checkout_timeout_answers_503_with_retry_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local")
    container = build_container(settings)
    engine = create_engine(settings.resolved_database_url, pool_size=1, max_overflow=0,
                           pool_timeout=0.05)
    container.adapters.engine.override(providers.Object(engine))
    await container.start(run_worker=False)
    app = create_app(container=container, manage_container=False)
    try:
        issued = await container.use_cases.create_api_key()("u1")
        headers = {"Authorization": f"Bearer {issued.secret}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            assert (await client.get("/v1/credits", headers=headers)).status_code == 200
            async with engine.connect():  # a slow unit holds the only connection
                answer = await client.get("/v1/credits", headers=headers)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert answer.json()["error"]["type"] == "unavailable"
    finally:
        await container.close()
