"""Outgoing webhooks end to end: a real receiver on 127.0.0.1, a fake clock, the SQLite store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
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
from application.use_cases.webhook_endpoints import CreateEndpoint, CreateWebhookEndpoint
from domain.errors import InvalidRequest
from domain.jobs import JobStatus, JobStatusChanged
from domain.webhooks import DeliveryStatus, RETRY_SCHEDULE_S
from tests.integration.webhooks_out.receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration


class Hooks:
    def __init__(self, store: SqlAlchemyWebhookStore, clock: FakeClock, guard: AddressGuard,
                 client: httpx.AsyncClient) -> None:
        ids = UlidIdGenerator()
        self.store, self.clock = store, clock
        self.create = CreateWebhookEndpoint(store=store, guard=guard, clock=clock, ids=ids)
        self.record = RecordWebhookEvents(store=store, clock=clock, ids=ids)
        self.deliver = DeliverWebhooks(store=store, sender=HttpxWebhookSender(client, guard), clock=clock)

    def event(self, status: JobStatus, user: str = "alice") -> JobStatusChanged:
        return JobStatusChanged(job_id="job_1", user_id=user, status=status, progress_percent=100,
                                current_step="Done", occurred_at=self.clock.now())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await create_schema(engine)
    async with httpx.AsyncClient() as client:
        yield Hooks(SqlAlchemyWebhookStore(engine), FakeClock(),
                    AddressGuard(allow_hosts={"127.0.0.1"}), client)
    await engine.dispose()


def expected_signature(secret: str, headers: dict[str, str], body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_a_completed_job_is_delivered_signed_with_the_endpoint_secret(
        hooks: Hooks, receiver: Receiver) -> None:
    endpoint = await hooks.create(CreateEndpoint(user_id="alice", url=receiver.url))
    assert endpoint.secret.startswith("whsec_") and len(base64.b64decode(endpoint.secret[6:])) == 32
    await hooks.record([hooks.event(JobStatus.COMPLETED), hooks.event(JobStatus.COMPLETED, user="bob")])
    report = await hooks.deliver()
    assert (report.attempted, report.succeeded) == (1, 1)
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "job.completed" and body["data"]["jobId"] == "job_1"
    assert request.headers["webhook-signature"] == expected_signature(endpoint.secret, request.headers, request.body)
    assert int(request.headers["webhook-timestamp"]) == int(hooks.clock.now().timestamp())


async def test_a_failing_endpoint_is_retried_on_the_schedule_with_the_same_webhook_id(
        hooks: Hooks, receiver: Receiver) -> None:
    endpoint = await hooks.create(CreateEndpoint(user_id="alice", url=receiver.url,
                                                 event_types=("job.failed",)))
    receiver.codes = [500, 500, 503, 200]
    start = hooks.clock.now()
    (delivery,) = await hooks.record([hooks.event(JobStatus.FAILED), hooks.event(JobStatus.COMPLETED)])
    attempt_times = []
    for wait in (0, 5, 300, 1800):
        hooks.clock.advance(wait - 1 if wait else 0)
        if wait:  # a second early: nothing is due yet
            assert (await hooks.deliver()).attempted == 0
            hooks.clock.advance(1)
        assert (await hooks.deliver()).attempted == 1
        attempt_times.append((hooks.clock.now() - start).total_seconds())
    assert attempt_times == [0, 5, 305, 2105]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.id}
    assert len({r.headers["webhook-timestamp"] for r in receiver.requests}) == 4
    assert all(r.headers["webhook-signature"] == expected_signature(endpoint.secret, r.headers, r.body)
               for r in receiver.requests)
    stored = await hooks.store.get_delivery(delivery.id)
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED and stored.attempts == 4
    attempts = await hooks.store.attempts_of(delivery.id)
    assert [a.status_code for a in attempts] == [500, 500, 503, 200]


async def test_a_delivery_that_never_succeeds_gives_up_after_the_last_scheduled_attempt(
        hooks: Hooks, receiver: Receiver) -> None:
    await hooks.create(CreateEndpoint(user_id="alice", url=receiver.url))
    receiver.codes = [500] * 20
    (delivery,) = await hooks.record([hooks.event(JobStatus.CANCELLED)])
    for wait in RETRY_SCHEDULE_S:
        hooks.clock.advance(wait)
        assert (await hooks.deliver()).attempted == 1
    hooks.clock.advance(timedelta(days=30).total_seconds())
    assert (await hooks.deliver()).attempted == 0
    stored = await hooks.store.get_delivery(delivery.id)
    assert stored is not None and stored.status is DeliveryStatus.FAILED
    assert len(receiver.requests) == len(RETRY_SCHEDULE_S) == 8


@pytest.mark.parametrize("url", [
    "http://example.com/hook",            # plain http to a host that is not allow-listed
    "https://10.0.0.5/hook",              # private
    "https://169.254.169.254/latest",     # link-local (cloud metadata)
    "https://[::1]/hook",                 # loopback
    "https://user:pw@example.com/hook",   # credentials
    "ftp://example.com/x",
])
async def test_registration_refuses_urls_that_could_reach_inside_the_network(hooks: Hooks, url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await hooks.create(CreateEndpoint(user_id="alice", url=url))
    assert caught.value.field == "url"


async def test_delivery_re_checks_the_address_and_records_a_refusal(hooks: Hooks, tmp_path: Path) -> None:
    """An endpoint accepted when it resolved publicly is refused once its name points inside."""
    answers = {"hooks.example": ["93.184.216.34"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    guard = AddressGuard(resolver=resolver)
    create = CreateWebhookEndpoint(store=hooks.store, guard=guard, clock=hooks.clock, ids=UlidIdGenerator())
    await create(CreateEndpoint(user_id="alice", url="https://hooks.example/in"))
    answers["hooks.example"] = ["127.0.0.1"]
    async with httpx.AsyncClient() as client:
        deliver = DeliverWebhooks(store=hooks.store, sender=HttpxWebhookSender(client, guard), clock=hooks.clock)
        (delivery,) = await hooks.record([hooks.event(JobStatus.COMPLETED)])
        assert (await deliver()).succeeded == 0
    (attempt,) = await hooks.store.attempts_of(delivery.id)
    assert attempt.status_code is None and attempt.error is not None and "not allowed" in attempt.error
