"""Deleting rows kept only for a while: dispatched outbox rows, old idempotency keys, finished
webhook deliveries (and their attempts). Batched by primary key so a prune never holds a long
lock; pending outbox rows and pending deliveries are never touched."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import translated_errors
from adapters.persistence.sqlalchemy.tables_client_webhooks import webhook_attempts, webhook_deliveries
from adapters.persistence.sqlalchemy.tables_outbox import outbox
from adapters.persistence.sqlalchemy.tables_requests import idempotency_keys
from application.ports import RetentionCutoffs, RetentionPruner


class SqlAlchemyRetentionPruner(RetentionPruner):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def prune(self, cutoffs: RetentionCutoffs, *, limit: int) -> dict[str, int]:
        done: dict[str, int] = {}
        with translated_errors("prune old rows"):
            async with self._engine.begin() as conn:
                ids = select(outbox.c.id).where(outbox.c.dispatched_at.is_not(None),
                                                outbox.c.dispatched_at < cutoffs.outbox_before).limit(limit)
                done["outbox"] = (await conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))).rowcount
                old = idempotency_keys.c.created_at < cutoffs.idempotency_before
                keys = (await conn.execute(select(idempotency_keys.c.api_key_id, idempotency_keys.c.key)
                                           .where(old).limit(limit))).all()
                for api_key_id, key in keys:
                    await conn.execute(delete(idempotency_keys).where(
                        idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key))
                done["idempotency_keys"] = len(keys)
                finished = (await conn.execute(select(webhook_deliveries.c.id).where(
                    webhook_deliveries.c.status.in_(("succeeded", "failed")),
                    webhook_deliveries.c.created_at < cutoffs.deliveries_before).limit(limit))).scalars().all()
                if finished:
                    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(finished)))
                    await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(finished)))
                done["webhook_deliveries"] = len(finished)
        return done
