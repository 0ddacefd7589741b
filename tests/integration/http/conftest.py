"""The API on the embedded profile, state in tmp_path.

httpx's ASGITransport runs the app on the test's own event loop, where the container (and its
in-process worker) also runs; Litestar's AsyncTestClient would run requests on a portal thread's
loop, away from the worker's tasks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from entrypoints.container import AppContainer, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings


class Api:
    def __init__(self, client: httpx.AsyncClient, container: AppContainer) -> None:
        self.client = client
        self.container = container

    async def key_for(self, user: str, credits: int = 0) -> dict[str, str]:
        """A key of `user` holding exactly `credits` (a user made by a key gets starter credits)."""
        await self.container.use_cases.ensure_user()(user, starter_credits=0)
        issued = await self.container.use_cases.create_api_key()(user)
        if credits:
            await self.container.use_cases.grant_credits()(user, credits)
        return {"Authorization": f"Bearer {issued.secret}"}

    async def admin_key(self, user: str = "root"):  # type: ignore[no-untyped-def]
        """An admin user holding no credits, and its issued key."""
        await self.container.use_cases.ensure_user()(user, starter_credits=0, admin=True)
        return await self.container.use_cases.create_api_key()(user, admin=True)

    async def settle(self) -> None:
        await self.container.adapters.queue().drain()


@asynccontextmanager
async def running_api(settings: Settings, *, run_worker: bool = True) -> AsyncIterator[Api]:
    """The embedded API over `settings`, its container started on this test's loop."""
    container = build_container(settings)
    await container.start(run_worker=run_worker)  # on the test's loop, where requests run too
    app = create_app(container=container, manage_container=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield Api(client, container)
    finally:
        await container.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local")
    async with running_api(settings) as running:
        yield running
