"""Webhook endpoints: register (the signing secret is shown once), list and delete."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

import msgspec

from application.errors import NotFound
from application.ports import Clock, IdGenerator, UrlGuard, WebhookStore
from domain.errors import InvalidRequest
from domain.webhooks import EVENT_TYPES, SECRET_PREFIX, WebhookEndpoint

MAX_ENDPOINTS_PER_USER = 20


class CreateEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    url: str
    event_types: tuple[str, ...] = EVENT_TYPES
    description: str = ""


class CreateWebhookEndpoint:
    def __init__(self, *, store: WebhookStore, guard: UrlGuard, clock: Clock, ids: IdGenerator) -> None:
        self._store, self._guard, self._clock, self._ids = store, guard, clock, ids

    async def __call__(self, cmd: CreateEndpoint) -> WebhookEndpoint:
        """Check the URL (https, public address) and the event types, then store the endpoint.

        Raises:
            InvalidRequest: on a refused URL, an unknown event type or too many endpoints.
        """
        unknown = sorted(set(cmd.event_types) - set(EVENT_TYPES))
        if unknown or not cmd.event_types:
            raise InvalidRequest("eventTypes", f"choose from {', '.join(EVENT_TYPES)}"
                                 + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        if len(cmd.url) > 2000:
            raise InvalidRequest("url", "longer than 2000 characters")
        await self._guard.check(cmd.url)
        if len(await self._store.endpoints_of(cmd.user_id)) >= MAX_ENDPOINTS_PER_USER:
            raise InvalidRequest("url", f"at most {MAX_ENDPOINTS_PER_USER} endpoints per user")
        endpoint = WebhookEndpoint(
            id=self._ids.new_id("whep"), user_id=cmd.user_id, url=cmd.url,
            event_types=tuple(dict.fromkeys(cmd.event_types)), description=cmd.description[:200],
            secret=new_secret(),
            created_at=self._clock.now())
        if not await self._store.add_endpoint(endpoint, max_per_user=MAX_ENDPOINTS_PER_USER):
            raise InvalidRequest("url", f"at most {MAX_ENDPOINTS_PER_USER} endpoints per user")
        return endpoint


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class RotateWebhookSecret:
    def __init__(self, *, store: WebhookStore, clock: Clock, overlap_s: float) -> None:
        self._store, self._clock, self._overlap = store, clock, timedelta(seconds=overlap_s)

    async def __call__(self, user_id: str, endpoint_id: str) -> WebhookEndpoint:
        """A new signing secret (answered once); the old one keeps signing for the overlap, so
        deliveries carry both signatures until the receiver has switched. NotFound unless the
        endpoint is the caller's."""
        rotated = await self._store.rotate_secret(user_id, endpoint_id, new_secret(),
                                                  self._clock.now() + self._overlap)
        if rotated is None:
            raise NotFound("endpoint", endpoint_id)
        return rotated


class ListWebhookEndpoints:
    def __init__(self, *, store: WebhookStore) -> None:
        self._store = store

    async def __call__(self, user_id: str) -> list[WebhookEndpoint]:
        return await self._store.endpoints_of(user_id)


class DeleteWebhookEndpoint:
    def __init__(self, *, store: WebhookStore) -> None:
        self._store = store

    async def __call__(self, user_id: str, endpoint_id: str) -> None:
        """Raise NotFound unless the endpoint is the caller's."""
        if not await self._store.delete_endpoint(user_id, endpoint_id):
            raise NotFound("endpoint", endpoint_id)
