"""Provider webhook deliveries in SQL: one row per (provider, delivery id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables_webhooks import provider_deliveries
from application.ports import ProviderDelivery, ProviderDeliveryLog


class SqlAlchemyProviderDeliveryLog(ProviderDeliveryLog):
    """Deliveries on the unit's connection; a duplicate insert is a `ConcurrencyConflict`."""

    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def seen(self, provider: str, delivery_id: str) -> bool:
        query = select(provider_deliveries.c.delivery_id).where(
            provider_deliveries.c.provider == provider,
            provider_deliveries.c.delivery_id == delivery_id)
        found = (await self._db.execute(f"look up delivery {delivery_id}", query)).first()
        return found is not None

    async def record(self, delivery: ProviderDelivery, *, job_id: str | None,
                     received_at: datetime) -> None:
        """Insert the delivery; `ConcurrencyConflict` if it is recorded already."""
        statement = provider_deliveries.insert().values(
            provider=delivery.provider, delivery_id=delivery.delivery_id,
            provider_job_id=delivery.provider_job_id, job_id=job_id, finished=delivery.finished,
            received_at=received_at)
        await self._db.execute(f"record delivery {delivery.delivery_id}", statement)

    async def prune(self, before: datetime) -> int:
        statement = provider_deliveries.delete().where(provider_deliveries.c.received_at < before)
        return int((await self._db.execute("prune old deliveries", statement)).rowcount or 0)
