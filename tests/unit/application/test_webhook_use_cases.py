"""Webhook use cases on the in-memory store, a fake clock and a recording sender."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.clock import FakeClock
from adapters.ids import UlidIdGenerator
from adapters.memory.webhooks import InMemoryWebhookStore
from application.errors import NotFound
from application.ports import WebhookResponse
from application.use_cases.deliver_webhooks import DeliverWebhooks
from application.use_cases.record_webhook_events import RecordWebhookEvents
from application.use_cases.webhook_deliveries import ListDeliveryAttempts
from application.use_cases.webhook_endpoints import (
    CreateEndpoint, CreateWebhookEndpoint, DeleteWebhookEndpoint,
)
from domain.jobs import JobStatus, JobStatusChanged
from domain.webhooks import DeliveryStatus, verify

pytestmark = pytest.mark.unit


class AnyUrl:
    async def check(self, url: str) -> None:
        return None


class ScriptedSender:
    def __init__(self, *codes: int | None) -> None:
        self.codes, self.sent = list(codes), []

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        self.sent.append((url, headers, body.decode()))
        code = self.codes.pop(0) if self.codes else 200
        return WebhookResponse(status_code=code, error=None if code else "connect failed")


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    store, clock, ids = InMemoryWebhookStore(), FakeClock(), UlidIdGenerator()
    return (store, clock, CreateWebhookEndpoint(store=store, guard=AnyUrl(), clock=clock, ids=ids),
            RecordWebhookEvents(store=store, clock=clock, ids=ids))


def changed(status: JobStatus, user: str = "u1") -> JobStatusChanged:
    return JobStatusChanged(job_id="job_1", user_id=user, status=status, progress_percent=100,
                            current_step="Done", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_events_become_deliveries_only_for_the_owners_endpoints_that_want_them(setup) -> None:  # type: ignore[no-untyped-def]
    store, clock, create, record = setup
    wants_all = await create(CreateEndpoint(user_id="u1", url="https://a.example/h"))
    await create(CreateEndpoint(user_id="u1", url="https://b.example/h", event_types=("job.failed",)))
    await create(CreateEndpoint(user_id="u2", url="https://c.example/h"))
    made = await record([changed(JobStatus.GENERATING), changed(JobStatus.COMPLETED)])
    assert [(d.endpoint_id, d.event_type) for d in made] == [
        (wants_all.id, "job.status_changed"), (wants_all.id, "job.completed")]
    assert len({d.id for d in made}) == 2


async def test_a_connection_failure_is_retried_and_the_attempts_are_kept(setup) -> None:  # type: ignore[no-untyped-def]
    store, clock, create, record = setup
    endpoint = await create(CreateEndpoint(user_id="u1", url="https://a.example/h"))
    (delivery,) = await record([changed(JobStatus.FAILED)])
    sender = ScriptedSender(None, 200)
    deliver = DeliverWebhooks(store=store, sender=sender, clock=clock)
    assert (await deliver()).succeeded == 0
    clock.advance(5)
    assert (await deliver()).succeeded == 1
    assert [h["webhook-id"] for _, h, _ in sender.sent] == [delivery.id, delivery.id]
    assert all(verify(endpoint.secret, h, body) for _, h, body in sender.sent)
    stored, attempts = await ListDeliveryAttempts(store=store)("u1", delivery.id)
    assert stored.status is DeliveryStatus.SUCCEEDED
    assert [(a.status_code, a.error) for a in attempts] == [(None, "connect failed"), (200, None)]
    with pytest.raises(NotFound):
        await ListDeliveryAttempts(store=store)("u2", delivery.id)


async def test_unknown_event_types_are_refused_and_deleting_needs_the_owner(setup) -> None:  # type: ignore[no-untyped-def]
    from domain.errors import InvalidRequest

    store, clock, create, record = setup
    with pytest.raises(InvalidRequest):
        await create(CreateEndpoint(user_id="u1", url="https://a.example/h", event_types=("job.nope",)))
    endpoint = await create(CreateEndpoint(user_id="u1", url="https://a.example/h"))
    with pytest.raises(NotFound):
        await DeleteWebhookEndpoint(store=store)("u2", endpoint.id)
    await DeleteWebhookEndpoint(store=store)("u1", endpoint.id)
    assert await store.endpoints_of("u1") == []


async def test_with_a_cache_a_new_endpoint_gets_events_once_the_cache_period_is_over(setup) -> None:  # type: ignore[no-untyped-def]
    store, clock, create, _ = setup
    record = RecordWebhookEvents(store=store, clock=clock, ids=UlidIdGenerator(), cache_s=2.0)
    assert await record([changed(JobStatus.COMPLETED)]) == []
    await create(CreateEndpoint(user_id="u1", url="https://a.example/h"))
    assert await record([changed(JobStatus.COMPLETED)]) == []  # still the cached "none"
    clock.advance(2)
    assert len(await record([changed(JobStatus.COMPLETED)])) == 1
