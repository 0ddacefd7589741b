"""Client webhook endpoints, deliveries and attempts in SQL; each method is one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import translated_errors
from adapters.persistence.sqlalchemy.tables_client_webhooks import (
    webhook_attempts, webhook_deliveries, webhook_endpoints,
)
from application.errors import ConcurrencyConflict
from application.ports import WebhookStore
from domain.webhooks import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint

_types = msgspec.json.Decoder(tuple[str, ...])


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    data = dict(row._mapping)
    data["event_types"] = _types.decode(data["event_types"])
    return WebhookEndpoint(**data)


def _delivery(row: Row[Any]) -> WebhookDelivery:
    data = dict(row._mapping)
    data["status"] = DeliveryStatus(data["status"])
    return WebhookDelivery(**data)


def _delivery_row(d: WebhookDelivery) -> dict[str, Any]:
    row = msgspec.structs.asdict(d)
    row["status"] = d.status.value
    return row


class SqlAlchemyWebhookStore(WebhookStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _run(self, action: str, *statements: Any) -> list[Any]:
        with translated_errors(action):
            async with self._engine.begin() as conn:
                return [await conn.execute(s) for s in statements]

    async def add_endpoint(self, endpoint: WebhookEndpoint, *, max_per_user: int | None = None) -> bool:
        """Insert the endpoint; with `max_per_user`, only while the user has fewer (False when
        full). The count and the insert are one statement, serialised per user by a Postgres
        advisory lock (SQLite has one writer), so concurrent creations cannot pass the cap."""
        row = msgspec.structs.asdict(endpoint)
        row["event_types"] = msgspec.json.encode(endpoint.event_types).decode()
        if max_per_user is None:
            await self._run("add webhook endpoint", webhook_endpoints.insert().values(row))
            return True
        t = webhook_endpoints
        count = select(func.count()).select_from(t).where(t.c.user_id == endpoint.user_id).scalar_subquery()
        values = select(*(literal(v, t.c[k].type).label(k) for k, v in row.items())).where(count < max_per_user)
        insert = t.insert().from_select(list(row), values)
        with translated_errors("add webhook endpoint"):
            async with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(select(func.pg_advisory_xact_lock(
                        func.hashtextextended("webhook-endpoints:" + endpoint.user_id, 0))))
                return bool((await conn.execute(insert)).rowcount == 1)

    async def endpoints_of(self, user_id: str) -> list[WebhookEndpoint]:
        query = (select(webhook_endpoints).where(webhook_endpoints.c.user_id == user_id)
                 .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id))
        (result,) = await self._run("list webhook endpoints", query)
        return [_endpoint(r) for r in result.all()]

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        (result,) = await self._run("get webhook endpoint", select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id))
        row = result.first()
        return None if row is None else _endpoint(row)

    async def rotate_secret(self, user_id: str, endpoint_id: str, secret: str,
                            previous_until: datetime) -> WebhookEndpoint | None:
        current = await self.get_endpoint(endpoint_id)
        if current is None or current.user_id != user_id:
            return None
        statement = (webhook_endpoints.update()
                     .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.secret == current.secret)
                     .values(secret=secret, previous_secret=current.secret,
                             previous_secret_until=previous_until))
        (result,) = await self._run("rotate a webhook secret", statement)
        if result.rowcount != 1:  # rotated by someone else meanwhile: theirs stands
            raise ConcurrencyConflict(f"the secret of {endpoint_id} changed during the rotation")
        return await self.get_endpoint(endpoint_id)

    async def delete_endpoint(self, user_id: str, endpoint_id: str) -> bool:
        gone, _ = await self._run(
            "delete webhook endpoint",
            delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id,
                                            webhook_endpoints.c.user_id == user_id),
            delete(webhook_deliveries).where(
                webhook_deliveries.c.endpoint_id == endpoint_id,
                webhook_deliveries.c.user_id == user_id,
                webhook_deliveries.c.status == DeliveryStatus.PENDING.value))
        return bool(gone.rowcount)

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """Insert the deliveries; one whose id is already stored is left as it is (a job event
        relayed twice records its deliveries once)."""
        if deliveries:
            insert = (postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert)
            await self._run("add webhook deliveries", insert(webhook_deliveries).values(
                [_delivery_row(d) for d in deliveries]).on_conflict_do_nothing(index_elements=["id"]))

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        per_endpoint: int | None = None,
                        exclude_endpoints: Collection[str] = ()) -> list[WebhookDelivery]:
        """Claim up to `limit` due deliveries, at most `per_endpoint` of one endpoint and none of
        `exclude_endpoints` (endpoints already busy in this deliverer: ADR 0085)."""
        t = webhook_deliveries
        query = select(t).where(t.c.status == DeliveryStatus.PENDING.value, t.c.next_attempt_at <= now)
        if exclude_endpoints:
            query = query.where(t.c.endpoint_id.not_in(list(exclude_endpoints)))
        scan = limit if per_endpoint is None else limit * 4  # room to skip a busy endpoint's backlog
        query = query.order_by(t.c.next_attempt_at, t.c.id).limit(scan)
        claimed: list[WebhookDelivery] = []
        taken: Counter[str] = Counter()
        with translated_errors("claim webhook deliveries"):
            async with self._engine.begin() as conn:
                for row in (await conn.execute(query)).all():
                    if len(claimed) >= limit:
                        break
                    if per_endpoint is not None and taken[row.endpoint_id] >= per_endpoint:
                        continue
                    moved = await conn.execute(update(t).where(
                        t.c.id == row.id, t.c.next_attempt_at == row.next_attempt_at,
                        t.c.status == DeliveryStatus.PENDING.value).values(next_attempt_at=lease_until))
                    if moved.rowcount == 1:  # nobody else claimed it meanwhile
                        taken[row.endpoint_id] += 1
                        claimed.append(_delivery(row))
        return claimed

    async def record_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        values = _delivery_row(delivery)
        del values["id"]
        await self._run("record webhook attempt",
                        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id)
                        .values(values),
                        webhook_attempts.insert().values(msgspec.structs.asdict(attempt)))

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        (result,) = await self._run("get webhook delivery", select(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id))
        row = result.first()
        return None if row is None else _delivery(row)

    async def deliveries_of(self, user_id: str, *, limit: int, status: str | None = None
                            ) -> list[WebhookDelivery]:
        t = webhook_deliveries
        query = select(t).where(t.c.user_id == user_id)
        if status is not None:
            query = query.where(t.c.status == status)
        query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        (result,) = await self._run("list webhook deliveries", query)
        return [_delivery(r) for r in result.all()]

    async def attempts_of(self, delivery_id: str) -> list[DeliveryAttempt]:
        query = (select(webhook_attempts).where(webhook_attempts.c.delivery_id == delivery_id)
                 .order_by(webhook_attempts.c.number))
        (result,) = await self._run("list webhook attempts", query)
        return [DeliveryAttempt(**dict(r._mapping)) for r in result.all()]
