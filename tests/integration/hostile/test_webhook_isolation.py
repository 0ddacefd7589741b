"""Issue 11, client webhook delivery: a total deadline per attempt (a slow drip cannot stretch
it read by read), a cap on the response bytes read, per-endpoint concurrency so slow endpoints
never hold another tenant's deliveries, and the 20-endpoint cap enforced in the database under
60 concurrent creations (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from adapters.clock import FakeClock
from adapters.ids import UlidIdGenerator
from adapters.net.address_guard import AddressGuard
from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.client_webhooks import SqlAlchemyWebhookStore
from adapters.webhooks.httpx_sender import HttpxWebhookSender
from application.use_cases.deliver_webhooks import DeliverWebhooks
from application.use_cases.record_webhook_events import RecordWebhookEvents
from application.use_cases.webhook_endpoints import (
    MAX_ENDPOINTS_PER_USER, CreateEndpoint, CreateWebhookEndpoint,
)
from domain.errors import InvalidRequest
from domain.jobs import JobStatus, JobStatusChanged
from tests.integration.production.conftest import empty_tables

pytestmark = pytest.mark.integration


@asynccontextmanager
async def http_server(mode: str) -> AsyncIterator[tuple[str, list[float]]]:
    """A raw HTTP server on 127.0.0.1: `drip` answers one byte every 0.2 s for ever, `huge`
    streams an endless body as fast as it can, `fast` answers 204 at once. Yields its URL and
    the times at which requests arrived."""
    arrivals: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length")), 0)
            await reader.readexactly(length)
            arrivals.append(time.monotonic())
            if mode == "fast":
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
            elif mode == "drip":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
                while True:
                    await asyncio.sleep(0.2)
                    writer.write(b"x")
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2000000000\r\n\r\n")
                block = b"y" * 65536
                for _ in range(30000):  # ~2 GB if anyone read it all
                    writer.write(block)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", arrivals
    finally:
        server.close()


class Hooks:
    def __init__(self, store: SqlAlchemyWebhookStore, client: httpx.AsyncClient, *, timeout_s: float) -> None:
        self.clock, ids, guard = FakeClock(), UlidIdGenerator(), AddressGuard(allow_hosts={"127.0.0.1"})
        self.store = store
        self.create = CreateWebhookEndpoint(store=store, guard=guard, clock=self.clock, ids=ids)
        self.record = RecordWebhookEvents(store=store, clock=self.clock, ids=ids, cache_s=0)
        self.sender = HttpxWebhookSender(client, guard, timeout_s=timeout_s, max_response_bytes=64 * 1024)
        self.deliver = DeliverWebhooks(store=store, sender=self.sender, clock=self.clock, per_endpoint=2,
                                       parallel=32, pass_wait_s=1.0)

    async def events_for(self, user: str, n: int) -> None:
        await self.record([JobStatusChanged(job_id=f"job_{user}_{i}", user_id=user, status=JobStatus.COMPLETED,
                                            progress_percent=100, current_step="Done",
                                            occurred_at=self.clock.now()) for i in range(n)])


@pytest.fixture
async def engine(profile_db, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = profile_db or f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(url)
    await create_schema(engine)
    await empty_tables(engine)
    yield engine
    await engine.dispose()


async def test_an_attempt_has_one_total_deadline_however_slowly_the_endpoint_drips(engine) -> None:
    async with http_server("drip") as (url, _), httpx.AsyncClient() as client:
        hooks = Hooks(SqlAlchemyWebhookStore(engine), client, timeout_s=1.0)
        await hooks.create(CreateEndpoint(user_id="alice", url=url))
        await hooks.events_for("alice", 1)
        started = time.monotonic()
        await hooks.deliver()
        await asyncio.wait_for(hooks.deliver.drain(), 5)
        assert time.monotonic() - started < 3  # a per-read timeout would have waited for ever
        (delivery,) = await hooks.store.deliveries_of("alice", limit=10)
        (attempt,) = await hooks.store.attempts_of(delivery.id)
        assert attempt.succeeded is False and "timed out" in (attempt.error or "")


async def test_only_a_capped_number_of_response_bytes_is_read(engine) -> None:
    async with http_server("huge") as (url, _), httpx.AsyncClient() as client:
        hooks = Hooks(SqlAlchemyWebhookStore(engine), client, timeout_s=10.0)
        await hooks.create(CreateEndpoint(user_id="alice", url=url))
        await hooks.events_for("alice", 1)
        started = time.monotonic()
        report = await hooks.deliver()
        await hooks.deliver.drain()
        assert time.monotonic() - started < 5  # 2 GB were offered; reading them takes far longer
        assert report.attempted == 1
        (delivery,) = await hooks.store.deliveries_of("alice", limit=10)
        (attempt,) = await hooks.store.attempts_of(delivery.id)
        assert attempt.status_code == 200 and attempt.succeeded


async def test_slow_endpoints_never_delay_another_tenants_deliveries(engine) -> None:
    async with http_server("drip") as (slow_url, slow_arrivals), http_server("fast") as (fast_url, fast_arrivals), \
            httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as client:
        hooks = Hooks(SqlAlchemyWebhookStore(engine), client, timeout_s=30.0)
        for i in range(8):  # eight slow-drip endpoints of one tenant, with a backlog
            await hooks.create(CreateEndpoint(user_id=f"slow{i}", url=slow_url))
            await hooks.events_for(f"slow{i}", 10)
        await hooks.deliver()  # the slow ones start and keep running in the background
        assert hooks.deliver.running == 16  # at most 2 per endpoint
        await hooks.create(CreateEndpoint(user_id="bob", url=fast_url))
        await hooks.events_for("bob", 3)
        started = time.monotonic()
        report = await hooks.deliver()
        assert time.monotonic() - started < 3
        assert report.attempted == 3 and report.succeeded == 3
        assert len(fast_arrivals) == 3
        assert hooks.deliver.running == 16  # no slow endpoint got a third slot meanwhile
        await hooks.deliver.stop()


async def test_the_endpoint_cap_holds_under_60_concurrent_creations(engine) -> None:
    hooks = Hooks(SqlAlchemyWebhookStore(engine), httpx.AsyncClient(), timeout_s=1.0)
    results = await asyncio.gather(*(hooks.create(CreateEndpoint(
        user_id="alice", url=f"http://127.0.0.1:9/{i}")) for i in range(60)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, InvalidRequest)]
    assert all(not isinstance(r, Exception) or isinstance(r, InvalidRequest) for r in results), results
    assert len(await hooks.store.endpoints_of("alice")) == MAX_ENDPOINTS_PER_USER
    assert len(refused) == 60 - MAX_ENDPOINTS_PER_USER
    assert all(r.field == "url" for r in refused)
