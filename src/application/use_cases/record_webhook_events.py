"""RecordWebhookEvents: turn committed job events into deliveries for matching endpoints.

The relay calls `from_outbox` with the `job.event` messages that each unit of work committed
with its transition (ADR 0051). A delivery's id is derived from the message id and the
endpoint id, and the store ignores an id it already holds, so a message relayed twice (at
least once, ADR 0053) records each delivery once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec

from application.ports import Clock, IdGenerator, OutboxMessage, WebhookStore
from domain.jobs import JobStatusChanged
from domain.webhooks import WebhookDelivery, WebhookEndpoint, event_type_for


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    job_id: str
    status: str
    progress_percent: int
    step: str


class _Payload(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    timestamp: str
    data: _Data


class RecordWebhookEvents:
    def __init__(self, *, store: WebhookStore, clock: Clock, ids: IdGenerator,
                 cache_s: float = 0.0) -> None:
        """`cache_s` > 0 remembers each user's endpoints that long (one query per user per
        period instead of one per event; a new endpoint may miss events for up to that long)."""
        self._store, self._clock, self._ids = store, clock, ids
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, list[WebhookEndpoint]]] = {}

    async def _endpoints_of(self, user_id: str) -> list[WebhookEndpoint]:
        now = self._clock.now().timestamp()
        cached = self._cache.get(user_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        endpoints = await self._store.endpoints_of(user_id)
        if self._cache_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[user_id] = (now, endpoints)
        return endpoints

    async def __call__(self, events: Sequence[JobStatusChanged]) -> list[WebhookDelivery]:
        """One delivery per (event, endpoint of the job's owner that wants its type), due now."""
        return await self._record([(self._ids.new_id("msg"), e) for e in events], derived=False)

    async def from_outbox(self, messages: Sequence[OutboxMessage]) -> list[WebhookDelivery]:
        """As `__call__`, for the events of outbox messages, under ids derived from theirs."""
        return await self._record([(m.id, m.event) for m in messages if m.event is not None],
                                  derived=True)

    async def _record(self, keyed: Sequence[tuple[str, JobStatusChanged]], *,
                      derived: bool) -> list[WebhookDelivery]:
        now = self._clock.now()
        deliveries: list[WebhookDelivery] = []
        endpoints_by_user: dict[str, list[WebhookEndpoint]] = {}
        for key, event in keyed:
            if event.user_id not in endpoints_by_user:
                endpoints_by_user[event.user_id] = await self._endpoints_of(event.user_id)
            event_type = event_type_for(event)
            payload = msgspec.json.encode(_Payload(
                type=event_type, timestamp=event.occurred_at.isoformat(),
                data=_Data(job_id=event.job_id, status=str(event.status),
                           progress_percent=event.progress_percent, step=event.current_step))).decode()
            deliveries += [WebhookDelivery(
                id=_delivery_id(key, endpoint.id) if derived else self._ids.new_id("msg"),
                endpoint_id=endpoint.id, user_id=event.user_id,
                event_type=event_type, payload=payload, created_at=now, next_attempt_at=now)
                for endpoint in endpoints_by_user[event.user_id] if endpoint.wants(event_type)]
        if deliveries:
            await self._store.add_deliveries(deliveries)
        return deliveries


def _delivery_id(message_id: str, endpoint_id: str) -> str:
    """The same id every time one message is delivered to one endpoint (`webhook-id`)."""
    return "msg_" + hashlib.sha256(f"{message_id}|{endpoint_id}".encode()).hexdigest()[:26]
