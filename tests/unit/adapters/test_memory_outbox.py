"""The outbox contract on the in-memory adapter."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryDatabase, InMemoryUnitOfWorkFactory
from application.ports import UnitOfWorkFactory
from tests.contracts.outbox import OutboxRepositoryContract

pytestmark = pytest.mark.unit


class TestMemoryOutboxRepository(OutboxRepositoryContract):
    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        return InMemoryUnitOfWorkFactory(InMemoryDatabase())
