"""Listing the caller's webhook deliveries and the attempts of one."""

from __future__ import annotations

from application.errors import NotFound
from application.ports import WebhookStore
from domain.webhooks import DeliveryAttempt, WebhookDelivery


class ListWebhookDeliveries:
    def __init__(self, *, store: WebhookStore) -> None:
        self._store = store

    async def __call__(self, user_id: str, *, limit: int = 50,
                       status: str | None = None) -> list[WebhookDelivery]:
        return await self._store.deliveries_of(user_id, limit=max(1, min(limit, 200)), status=status)


class ListDeliveryAttempts:
    def __init__(self, *, store: WebhookStore) -> None:
        self._store = store

    async def __call__(self, user_id: str, delivery_id: str) -> tuple[WebhookDelivery, list[DeliveryAttempt]]:
        """Raise NotFound unless the delivery is the caller's."""
        delivery = await self._store.get_delivery(delivery_id)
        if delivery is None or delivery.user_id != user_id:
            raise NotFound("delivery", delivery_id)
        return delivery, await self._store.attempts_of(delivery_id)
