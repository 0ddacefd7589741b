"""DeliverWebhooks: send due deliveries, signed (Standard Webhooks), and schedule retries.

Isolated per endpoint (ADR 0085): at most `per_endpoint` attempts to one endpoint run at once,
and a busy endpoint's deliveries are not claimed until it has room, so a slow endpoint holds
at most `per_endpoint` of the `parallel` slots. A pass does not wait for every send: it starts
the attempts it claimed, waits at most `pass_wait_s` for them, and leaves the slow ones running
in the background (each bounded by the sender's own total deadline), so the next pass serves
the other tenants on time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
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
                 batch: int = 50, parallel: int = 32, per_endpoint: int = 2,
                 pass_wait_s: float = 5.0) -> None:
        self._store, self._sender, self._clock = store, sender, clock
        self._batch, self._parallel, self._per_endpoint = batch, parallel, per_endpoint
        self._pass_wait = pass_wait_s
        self._busy: Counter[str] = Counter()  # endpoint id -> attempts running now
        self._running: set[asyncio.Task[bool]] = set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def __call__(self) -> DeliveryReport:
        """One pass over the deliveries due now; run it periodically. Claims in rounds while
        the attempts it started finish within `pass_wait_s`; slower ones keep running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._pass_wait
        tasks: list[asyncio.Task[bool]] = []
        while (room := min(self._batch - len(tasks), self._parallel - len(self._running))) > 0:
            now = self._clock.now()
            full = [e for e, n in self._busy.items() if n >= self._per_endpoint]
            due = await self._store.claim_due(now, now + timedelta(seconds=CLAIM_S), room,
                                              per_endpoint=self._per_endpoint, exclude_endpoints=full)
            if not due:
                break
            round_ = [self._start(delivery) for delivery in due]
            tasks += round_
            _, pending = await asyncio.wait(round_, timeout=max(0.0, deadline - loop.time()))
            if pending or loop.time() >= deadline:
                break
        succeeded = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is None
                        and t.result())
        return DeliveryReport(attempted=len(tasks), succeeded=succeeded)

    def _start(self, delivery: WebhookDelivery) -> asyncio.Task[bool]:
        self._busy[delivery.endpoint_id] += 1
        task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
        self._running.add(task)
        task.add_done_callback(self._finished(delivery.endpoint_id))
        return task

    def _finished(self, endpoint_id: str):  # type: ignore[no-untyped-def]
        def done(task: asyncio.Task[bool]) -> None:
            self._running.discard(task)
            self._busy[endpoint_id] -= 1
            if self._busy[endpoint_id] <= 0:
                del self._busy[endpoint_id]
        return done

    async def stop(self) -> None:
        """Cancel the attempts still running (shutdown); their claims lapse and are retried."""
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running))

    async def drain(self) -> None:
        """Wait for the attempts still running (shutdown, tests)."""
        while self._running:
            await asyncio.wait(list(self._running))

    async def _attempt(self, delivery: WebhookDelivery) -> bool:
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
