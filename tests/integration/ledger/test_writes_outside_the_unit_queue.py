"""ADR 0046, 0059: on the embedded profile (SQLite) the stores that write outside a unit of work
(idempotency records, client webhook deliveries) queue on the process's writer lock like the
units do, so a long ledger write delays an idempotent POST instead of failing it with a 5xx
("database is locked" after the busy timeout)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.persistence.sqlalchemy import engine as sqlite_engine
from domain.webhooks import WebhookDelivery, WebhookEndpoint
from entrypoints.settings import Settings
from tests.integration.http.conftest import running_api

pytestmark = pytest.mark.integration

BUSY_MS = 300  # SQLite's busy handler gives up after this long (5 s in production)
HOLD_S = 1.2


async def hold_a_ledger_write(api, holding: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    async with api.container.adapters.uow() as uow:
        ledger = await uow.ledgers.load("someone_else")
        ledger.grant(1, now=datetime.now(UTC))
        await uow.ledgers.append(ledger)  # a write: this unit holds SQLite's write lock
        holding.set()
        await asyncio.sleep(HOLD_S)
        await uow.commit()


async def test_a_long_ledger_write_delays_an_idempotent_post_instead_of_failing_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_engine, "SQLITE_BUSY_TIMEOUT_MS", BUSY_MS)
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local")
    async with running_api(settings, run_worker=False) as api:
        headers = await api.key_for("alice", credits=10)
        holding = asyncio.Event()
        holder = asyncio.create_task(hold_a_ledger_write(api, holding))
        await holding.wait()
        started = asyncio.get_running_loop().time()
        answer = await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                       headers={**headers, "Idempotency-Key": "under-load"})
        waited = asyncio.get_running_loop().time() - started
        await holder
        replay = await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                       headers={**headers, "Idempotency-Key": "under-load"})
    assert answer.status_code == 201, answer.text
    assert waited >= HOLD_S - 0.3  # it queued behind the holder, past the busy timeout
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"


async def test_a_long_ledger_write_delays_recording_webhook_deliveries_instead_of_failing_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_engine, "SQLITE_BUSY_TIMEOUT_MS", BUSY_MS)
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local")
    async with running_api(settings, run_worker=False) as api:
        store = api.container.watching.webhook_store()
        now = datetime.now(UTC)
        await store.add_endpoint(WebhookEndpoint(id="ep_1", user_id="alice", url="https://c.example/h",
                                                 event_types=("job.completed",), secret="whsec_x",
                                                 created_at=now))
        holding = asyncio.Event()
        holder = asyncio.create_task(hold_a_ledger_write(api, holding))
        await holding.wait()
        await store.add_deliveries([WebhookDelivery(
            id="whd_1", endpoint_id="ep_1", user_id="alice", event_type="job.completed",
            payload="{}", created_at=now, next_attempt_at=now)])
        await holder
        stored = await store.get_delivery("whd_1")
    assert stored is not None
