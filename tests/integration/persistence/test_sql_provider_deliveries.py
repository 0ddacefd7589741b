"""The provider-webhook persistence contracts on SQLAlchemy, over SQLite and Postgres."""

from __future__ import annotations

import pytest

from tests.contracts.provider_deliveries import (
    JobsByProviderIdContract,
    ProviderDeliveryLogContract,
)
from tests.integration.persistence.test_postgres_contracts import PostgresBackend
from tests.integration.persistence.test_sqlite_contracts import SqliteBackend

pytestmark = pytest.mark.integration


class TestSqliteProviderDeliveryLog(SqliteBackend, ProviderDeliveryLogContract):
    pass


class TestSqliteJobsByProviderId(SqliteBackend, JobsByProviderIdContract):
    pass


class TestPostgresProviderDeliveryLog(PostgresBackend, ProviderDeliveryLogContract):
    pass


class TestPostgresJobsByProviderId(PostgresBackend, JobsByProviderIdContract):
    pass
