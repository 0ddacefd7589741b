"""The ObjectStorage contract on local disk; URLs are 'fetched' by checking their signature."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from adapters.clock import FakeClock
from adapters.storage.local_disk import LocalDiskObjectStorage
from tests.contracts.storage import FetchUrl, ObjectStorageContract

pytestmark = pytest.mark.unit


class TestLocalDiskObjectStorage(ObjectStorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> LocalDiskObjectStorage:
        return LocalDiskObjectStorage(tmp_path / "objects", "http://localhost:8000", b"secret",
                                      FakeClock())

    @pytest.fixture
    def fetch_url(self, storage: LocalDiskObjectStorage) -> FetchUrl:
        async def fetch(url: str) -> bytes:
            parts = urlsplit(url)
            key = unquote(parts.path.removeprefix("/files/"))
            query = parse_qs(parts.query)
            if not storage.verify(key, query["expires"][0], query["sig"][0]):
                raise PermissionError(f"signature refused for {url}")
            return storage.path_for(key).read_bytes()

        return fetch
