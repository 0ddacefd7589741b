"""The provider-webhook persistence contracts on the in-memory adapters."""

from __future__ import annotations

import pytest

from tests.contracts.provider_deliveries import (
    JobsByProviderIdContract,
    ProviderDeliveryLogContract,
)
from tests.unit.adapters.test_memory_contracts import MemoryBackend

pytestmark = pytest.mark.unit


class TestMemoryProviderDeliveryLog(MemoryBackend, ProviderDeliveryLogContract):
    pass


class TestMemoryJobsByProviderId(MemoryBackend, JobsByProviderIdContract):
    pass
