"""Local disk storage: atomic round trips, signed expiring URLs, and no path traversal."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.clock import FakeClock
from adapters.storage.local_disk import LocalDiskObjectStorage
from domain.failures import ErrorClass, JobFailure

pytestmark = pytest.mark.unit

KEY = "users/u1/jobs/job_1/0.png"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def storage(tmp_path: Path, clock: FakeClock) -> LocalDiskObjectStorage:
    return LocalDiskObjectStorage(tmp_path / "objects", "http://localhost:8000/", b"secret", clock)


def signed_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path.removeprefix("/files/"), query["expires"][0], query["sig"][0]


async def test_round_trips_overwrites_and_deletes(storage: LocalDiskObjectStorage) -> None:
    await storage.put(KEY, b"first", "image/png")
    await storage.put(KEY, b"second", "image/png")
    assert await storage.get(KEY) == b"second"
    assert storage.path_for(KEY).read_bytes() == b"second"
    assert [p.name for p in storage.path_for(KEY).parent.iterdir()] == ["0.png"]  # no temp files
    await storage.delete(KEY)
    await storage.delete(KEY)  # missing is fine
    with pytest.raises(JobFailure) as caught:
        await storage.get(KEY)
    assert caught.value.error_class is ErrorClass.STORAGE


async def test_signed_url_verifies_until_it_expires(
        storage: LocalDiskObjectStorage, clock: FakeClock) -> None:
    url = storage.url_for(KEY, expires_in_s=3600)
    assert url.startswith("http://localhost:8000/files/users/u1/jobs/job_1/0.png?expires=")
    key, expires, sig = signed_parts(url)
    assert storage.verify(key, expires, sig)
    clock.advance(3600)
    assert storage.verify(key, int(expires), sig)
    clock.advance(1)
    assert not storage.verify(key, expires, sig)


async def test_refuses_tampered_or_borrowed_signatures(storage: LocalDiskObjectStorage) -> None:
    key, expires, sig = signed_parts(storage.url_for(KEY, expires_in_s=60))
    other_sig = signed_parts(storage.url_for("users/u2/jobs/job_2/0.png", expires_in_s=60))[2]
    tampered = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert not storage.verify(key, expires, tampered)
    assert not storage.verify(key, str(int(expires) + 100), sig)
    assert not storage.verify("users/u2/jobs/job_2/0.png", expires, sig)
    assert not storage.verify(key, expires, other_sig)
    assert not storage.verify(key, "soon", sig)
    assert not storage.verify(key, expires, "é" * 64)


@pytest.mark.parametrize("key", ["", "../x", "users/../../etc/passwd", "/etc/passwd", "a\\b",
                                 "a//b", "./a", "a/.", "a/\0"])
async def test_refuses_path_traversal(storage: LocalDiskObjectStorage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.path_for(key)
    with pytest.raises(ValueError):
        await storage.put(key, b"x", "image/png")
    with pytest.raises(ValueError):
        storage.url_for(key, expires_in_s=60)


async def test_refuses_keys_that_escape_through_a_symlink(
        storage: LocalDiskObjectStorage, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError):
        storage.path_for("link/x.png")


async def test_disk_errors_become_storage_failures(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "not-a-dir").write_bytes(b"")
    storage = LocalDiskObjectStorage(tmp_path / "not-a-dir", "http://x", b"k", clock)
    with pytest.raises(JobFailure) as caught:
        await storage.put(KEY, b"data", "image/png")
    assert caught.value.error_class is ErrorClass.STORAGE


def test_needs_a_signing_key(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        LocalDiskObjectStorage(tmp_path, "http://x", b"", clock)
