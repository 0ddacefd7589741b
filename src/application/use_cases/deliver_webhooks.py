"""DeliverWebhooks: send due deliveries, signed (Standard Webhooks), and schedule retries."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import msgspec

from application.ports import Clock, WebhookSender, WebhookStore
from domain.webhooks import DeliveryAttempt, WebhookDelivery, after_attempt, sign_all

#: How long a claimed delivery is hidden from other deliverers (longer than a send can take).
CLAIM_S = 120


class DeliveryReport(msgspec.Struct, frozen=True, kw_only=True):
    attempted: int
    succeeded: int


class DeliverWebhooks:
    def __init__(self, *, store: WebhookStore, sender: WebhookSender, clock: Clock,
                 batch: int = 50, parallel: int = 8) -> None:
        self._store, self._sender, self._clock = store, sender, clock
        self._batch = batch
        self._parallel = asyncio.Semaphore(parallel)

    async def __call__(self) -> DeliveryReport:
        """One pass over the deliveries due now; run it periodically."""
        now = self._clock.now()
        due = await self._store.claim_due(now, now + timedelta(seconds=CLAIM_S), self._batch)
        results = await asyncio.gather(*(self._attempt(d) for d in due))
        return DeliveryReport(attempted=len(due), succeeded=sum(results))

    async def _attempt(self, delivery: WebhookDelivery) -> bool:
        async with self._parallel:
            endpoint = await self._store.get_endpoint(delivery.endpoint_id)
            now = self._clock.now()
            if endpoint is None:  # deleted meanwhile: give up on it
                done = after_attempt(msgspec.structs.replace(delivery, attempts=10**6), now=now,
                                     status_code=None, error="endpoint deleted")
                await self._store.record_attempt(done, DeliveryAttempt(
                    delivery_id=delivery.id, number=delivery.attempts + 1, attempted_at=now,
                    status_code=None, error="endpoint deleted", duration_ms=0, succeeded=False))
                return False
            timestamp = int(now.timestamp())
            headers = {"content-type": "application/json", "user-agent": "imagegen-webhooks/1",
                       "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                       "webhook-signature": sign_all(endpoint.signing_secrets(now), delivery.id, timestamp,
                                                    delivery.payload)}
            started = time.perf_counter()
            response = await self._sender.send(endpoint.url, headers, delivery.payload.encode())
            took_ms = int((time.perf_counter() - started) * 1000)
            updated = after_attempt(delivery, now=now, status_code=response.status_code,
                                    error=response.error)
            succeeded = updated.delivered_at is not None
            await self._store.record_attempt(updated, DeliveryAttempt(
                delivery_id=delivery.id, number=updated.attempts, attempted_at=now,
                status_code=response.status_code, error=response.error, duration_ms=took_ms,
                succeeded=succeeded))
            return succeeded
