"""Containers on both SQL backends for the engine tests: embedded (SQLite) and production
(Postgres), each with a recording queue so that nothing runs a job unless the test does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dependency_injector import providers

from entrypoints.container import AppContainer, build_container
from entrypoints.settings import Settings
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container


@asynccontextmanager
async def engine_container(backend: str, tmp_path: Path, *, queue: Any = None,
                           **overrides: Any) -> AsyncIterator[AppContainer]:
    """A container on `backend` ("sqlite", or a Postgres URL: the `backend` fixture), its
    tables empty, objects under `tmp_path / "objects"`."""
    queue = queue if queue is not None else RecordingQueue()
    if backend == "sqlite":
        settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path)}, **overrides)
        container = build_container(settings)
        container.adapters.queue.override(providers.Object(queue))
        await container.start(run_worker=False)
    else:
        container = production_container(backend, tmp_path, queue=queue, **overrides)
        await empty_tables(container.adapters.engine())
    try:
        yield container
    finally:
        await container.close()
