"""Builders shared by the production-profile tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.storage.local_disk import LocalDiskObjectStorage
from entrypoints.container import AppContainer, build_container
from entrypoints.settings import Settings


#: The ledger key of the production-profile tests (production requires IMAGEGEN_LEDGER_KEY).
TEST_LEDGER_KEY = b"test-ledger-key-" + b"0" * 16


class RecordingQueue:
    """A TaskQueue that remembers what it was sent; `broken` makes it refuse like a dead Redis."""

    def __init__(self, *, broken: bool = False) -> None:
        self.items: list[tuple[str, float]] = []
        self.broken = broken

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        if self.broken:
            raise ConnectionError("Redis is down")
        self.items.append((job_id, delay_s))


def production_container(database_url: str, tmp: Path, *, queue: Any = None,
                         **overrides: Any) -> AppContainer:
    """A production container on `database_url`, storing images on local disk under `tmp`."""
    overrides.setdefault("ledger_key", TEST_LEDGER_KEY)
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production"}, database_url=database_url,
                                 home=tmp, **overrides)
    container = build_container(settings)
    container.adapters.storage.override(providers.Object(LocalDiskObjectStorage(
        tmp / "objects", "http://test", b"k" * 32, SystemClock())))
    if queue is not None:
        container.adapters.queue.override(providers.Object(queue))
    return container


async def relay_everything(container: AppContainer) -> int:
    """Run the outbox relay until nothing is left, as the API process's relay does once the
    commit wakes it (a production submit leaves its message to the relay, ADR 0066)."""
    relay, sent = container.use_cases.relay_outbox(), 0
    while claimed := await relay(100):
        sent += claimed
    return sent
