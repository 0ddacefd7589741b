"""/v1/webhooks: register endpoints for job events, and see what was delivered to them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from application.principal import Principal
from application.use_cases.webhook_deliveries import ListDeliveryAttempts, ListWebhookDeliveries
from application.use_cases.webhook_endpoints import (
    CreateEndpoint, CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookEndpoints,
    RotateWebhookSecret,
)
from domain.errors import InvalidRequest
from domain.webhooks import EVENT_TYPES, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from domain.limits import MAX_EVENT_TYPES
from entrypoints.http.bounded import Line, Short, Text
from entrypoints.http.schemas import Api, ErrorBody


class EndpointCreate(Api):
    url: Line
    event_types: Annotated[list[Short], msgspec.Meta(max_length=MAX_EVENT_TYPES)] = msgspec.field(
        default_factory=lambda: list(EVENT_TYPES))
    description: Text = ""


class EndpointOut(Api):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str  # whsec_...; shown only in this response


class EndpointList(Api):
    items: list[EndpointOut]


class DeliveryOut(Api):
    id: str  # the webhook-id header, the same on every attempt
    endpoint_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(Api):
    items: list[DeliveryOut]


class AttemptOut(Api):
    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    succeeded: bool


class AttemptList(Api):
    delivery: DeliveryOut
    items: list[AttemptOut]


def _endpoint(e: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(id=e.id, url=e.url, event_types=list(e.event_types), description=e.description,
                       created_at=e.created_at)


def _delivery(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(id=d.id, endpoint_id=d.endpoint_id, event_type=d.event_type, status=d.status.value,
                       attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                       last_status_code=d.last_status_code, last_error=d.last_error,
                       delivered_at=d.delivered_at, created_at=d.created_at)


_ERR = {400: ResponseSpec(ErrorBody, description="invalid request"),
        401: ResponseSpec(ErrorBody, description="missing or bad API key")}
_ERR404 = {**_ERR, 404: ResponseSpec(ErrorBody, description="not the caller's")}


class SecretRotated(Api):
    id: str
    secret: str  # whsec_...; shown only in this response
    previous_secret_expires_at: datetime | None


class WebhooksController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]

    @post("/endpoints", status_code=201, summary="Register a webhook endpoint", responses=_ERR,
          description="https URLs on public addresses only. Job events are POSTed signed with "
                      "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature v1) "
                      "sent at once, and a failed one is retried after 5 s, 5 min, 30 min, 2 h, 5 h, "
                      "10 h and 10 h (8 attempts in all). The "
                      "`secret` is shown only in this response.")
    async def create(self, data: JSONBody[EndpointCreate], principal: NamedDependency[Principal],
                     create_webhook_endpoint: NamedDependency[CreateWebhookEndpoint]) -> EndpointCreated:
        e = await create_webhook_endpoint(CreateEndpoint(
            user_id=principal.user_id, url=data.url, event_types=tuple(data.event_types),
            description=data.description))
        return EndpointCreated(id=e.id, url=e.url, event_types=list(e.event_types),
                               description=e.description, created_at=e.created_at, secret=e.secret)

    @post("/endpoints/{endpoint_id:str}/rotate-secret", status_code=200, responses=_ERR404,
          summary="Rotate an endpoint's signing secret (the new one is shown once)",
          description="Deliveries are signed with both secrets (two `v1,` signatures in "
                      "`webhook-signature`) until `previousSecretExpiresAt` "
                      "(IMAGEGEN_WEBHOOK_SECRET_OVERLAP_S, 24 h), so the receiver can switch.")
    async def rotate_secret(self, endpoint_id: FromPath[str], principal: NamedDependency[Principal],
                            rotate_webhook_secret: NamedDependency[RotateWebhookSecret]) -> SecretRotated:
        e = await rotate_webhook_secret(principal.user_id, endpoint_id)
        return SecretRotated(id=e.id, secret=e.secret, previous_secret_expires_at=e.previous_secret_until)

    @get("/endpoints", summary="The caller's webhook endpoints (without secrets)", responses=_ERR)
    async def list_endpoints(self, principal: NamedDependency[Principal],
                             list_webhook_endpoints: NamedDependency[ListWebhookEndpoints]) -> EndpointList:
        return EndpointList(items=[_endpoint(e) for e in await list_webhook_endpoints(principal.user_id)])

    @delete("/endpoints/{endpoint_id:str}", status_code=204, summary="Delete a webhook endpoint",
            description="Pending deliveries to it are dropped.", responses=_ERR404)
    async def delete_endpoint(self, endpoint_id: FromPath[str], principal: NamedDependency[Principal],
                              delete_webhook_endpoint: NamedDependency[DeleteWebhookEndpoint]) -> None:
        await delete_webhook_endpoint(principal.user_id, endpoint_id)

    @get("/deliveries", summary="The caller's webhook deliveries, newest first", responses=_ERR)
    async def list_deliveries(
        self, principal: NamedDependency[Principal],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        status: Annotated[str | None, QueryParameter(description="pending, succeeded or failed")] = None,
        limit: Annotated[int, QueryParameter(description="page size, 1-200")] = 50,
    ) -> DeliveryList:
        if status is not None and status not in {s.value for s in DeliveryStatus}:
            raise InvalidRequest("status", "one of pending, succeeded, failed")
        if not 1 <= limit <= 200:
            raise InvalidRequest("limit", "between 1 and 200")
        found = await list_webhook_deliveries(principal.user_id, limit=limit, status=status)
        return DeliveryList(items=[_delivery(d) for d in found])

    @get("/deliveries/{delivery_id:str}/attempts", summary="The attempts of one delivery",
         responses=_ERR404)
    async def list_attempts(self, delivery_id: FromPath[str], principal: NamedDependency[Principal],
                            list_delivery_attempts: NamedDependency[ListDeliveryAttempts]) -> AttemptList:
        delivery, attempts = await list_delivery_attempts(principal.user_id, delivery_id)
        return AttemptList(delivery=_delivery(delivery), items=[AttemptOut(
            number=a.number, attempted_at=a.attempted_at, status_code=a.status_code, error=a.error,
            duration_ms=a.duration_ms, succeeded=a.succeeded) for a in attempts])
