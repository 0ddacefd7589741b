"""The WebhookStore contract on SQLAlchemy: SQLite always, Postgres when it is reachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.client_webhooks import SqlAlchemyWebhookStore
from application.ports import WebhookStore
from tests.contracts.client_webhooks import WebhookStoreContract

pytestmark = pytest.mark.integration


class TestSqliteWebhookStore(WebhookStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[WebhookStore]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'imagegen.db'}")
        await create_schema(engine)
        yield SqlAlchemyWebhookStore(engine)
        await engine.dispose()


class TestPostgresWebhookStore(WebhookStoreContract):
    @pytest.fixture
    async def store(self, migrated_postgres: str) -> AsyncIterator[WebhookStore]:
        from adapters.persistence.sqlalchemy.tables_client_webhooks import (
            webhook_attempts, webhook_deliveries, webhook_endpoints,
        )

        engine = create_engine(migrated_postgres)
        async with engine.begin() as conn:
            for table in (webhook_attempts, webhook_deliveries, webhook_endpoints):
                await conn.execute(table.delete())
        yield SqlAlchemyWebhookStore(engine)
        await engine.dispose()
