"""Webhook endpoints, deliveries and attempts in memory (tests and the contract suite)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

import msgspec

from application.ports import WebhookStore
from domain.webhooks import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint


class InMemoryWebhookStore(WebhookStore):
    def __init__(self) -> None:
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.deliveries: dict[str, WebhookDelivery] = {}
        self.attempts: dict[str, list[DeliveryAttempt]] = {}

    async def add_endpoint(self, endpoint: WebhookEndpoint, *, max_per_user: int | None = None) -> bool:
        mine = sum(1 for e in self.endpoints.values() if e.user_id == endpoint.user_id)
        if max_per_user is not None and mine >= max_per_user:
            return False
        self.endpoints[endpoint.id] = endpoint
        return True

    async def endpoints_of(self, user_id: str) -> list[WebhookEndpoint]:
        return sorted((e for e in self.endpoints.values() if e.user_id == user_id),
                      key=lambda e: (e.created_at, e.id))

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get(endpoint_id)

    async def rotate_secret(self, user_id: str, endpoint_id: str, secret: str,
                            previous_until: datetime) -> WebhookEndpoint | None:
        current = self.endpoints.get(endpoint_id)
        if current is None or current.user_id != user_id:
            return None
        rotated = msgspec.structs.replace(current, secret=secret, previous_secret=current.secret,
                                          previous_secret_until=previous_until)
        self.endpoints[endpoint_id] = rotated
        return rotated

    async def delete_endpoint(self, user_id: str, endpoint_id: str) -> bool:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.user_id != user_id:
            return False
        del self.endpoints[endpoint_id]
        for d in list(self.deliveries.values()):
            if d.endpoint_id == endpoint_id and d.status is DeliveryStatus.PENDING:
                del self.deliveries[d.id]
        return True

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for d in deliveries:  # an id already stored is left as it is (as SQL)
            self.deliveries.setdefault(d.id, d)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        per_endpoint: int | None = None,
                        exclude_endpoints: Collection[str] = ()) -> list[WebhookDelivery]:
        candidates = sorted((d for d in self.deliveries.values() if d.status is DeliveryStatus.PENDING
                             and d.next_attempt_at is not None and d.next_attempt_at <= now
                             and d.endpoint_id not in exclude_endpoints),
                            key=lambda d: (d.next_attempt_at, d.id))
        due, taken = [], Counter[str]()
        for d in candidates:
            if len(due) >= limit:
                break
            if per_endpoint is not None and taken[d.endpoint_id] >= per_endpoint:
                continue
            taken[d.endpoint_id] += 1
            due.append(d)
        for d in due:
            self.deliveries[d.id] = msgspec.structs.replace(d, next_attempt_at=lease_until)
        return due

    async def record_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        self.deliveries[delivery.id] = delivery
        self.attempts.setdefault(delivery.id, []).append(attempt)

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        return self.deliveries.get(delivery_id)

    async def deliveries_of(self, user_id: str, *, limit: int, status: str | None = None
                            ) -> list[WebhookDelivery]:
        found = [d for d in self.deliveries.values() if d.user_id == user_id
                 and (status is None or d.status.value == status)]
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]

    async def attempts_of(self, delivery_id: str) -> list[DeliveryAttempt]:
        return list(self.attempts.get(delivery_id, []))
