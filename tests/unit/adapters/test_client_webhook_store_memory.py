"""The WebhookStore contract on the in-memory store."""

from __future__ import annotations

import pytest

from adapters.memory.webhooks import InMemoryWebhookStore
from application.ports import WebhookStore
from tests.contracts.client_webhooks import WebhookStoreContract

pytestmark = pytest.mark.unit


class TestInMemoryWebhookStore(WebhookStoreContract):
    @pytest.fixture
    def store(self) -> WebhookStore:
        return InMemoryWebhookStore()
