"""The `ObjectStorage` contract, run against local disk and S3 (moto).

A backend supplies two fixtures: `storage` (an empty store) and `fetch_url`, an async callable
that fetches a URL from `url_for` the way a client would and returns the bytes (or raises).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from application.ports import ObjectStorage
from domain.failures import ErrorClass, JobFailure
from domain.images import image_key

FetchUrl = Callable[[str], Awaitable[bytes]]

KEY = image_key("user_1", "job_01", 0)
EVERY_BYTE = bytes(range(256)) * 64


class ObjectStorageContract:
    @pytest.fixture
    def storage(self) -> ObjectStorage:
        raise NotImplementedError("a backend subclass provides the storage fixture")

    @pytest.fixture
    def fetch_url(self) -> FetchUrl:
        raise NotImplementedError("a backend subclass provides the fetch_url fixture")

    async def test_an_object_round_trips_byte_for_byte(self, storage: ObjectStorage) -> None:
        await storage.put(KEY, EVERY_BYTE, "image/png")
        assert await storage.get(KEY) == EVERY_BYTE

    async def test_a_second_put_replaces_the_first(self, storage: ObjectStorage) -> None:
        await storage.put(KEY, b"first version", "image/png")
        await storage.put(KEY, b"second", "image/png")
        assert await storage.get(KEY) == b"second"

    async def test_getting_a_missing_object_is_a_storage_failure(self, storage: ObjectStorage) -> None:
        with pytest.raises(JobFailure) as caught:
            await storage.get(image_key("user_1", "job_never", 0))
        assert caught.value.error_class is ErrorClass.STORAGE

    async def test_a_deleted_object_is_gone_and_deleting_again_is_fine(
            self, storage: ObjectStorage) -> None:
        await storage.put(KEY, b"data", "image/png")
        await storage.delete(KEY)
        await storage.delete(KEY)
        await storage.delete(image_key("user_1", "job_never", 3))
        with pytest.raises(JobFailure) as caught:
            await storage.get(KEY)
        assert caught.value.error_class is ErrorClass.STORAGE

    async def test_the_same_job_and_index_of_two_users_are_two_objects(
            self, storage: ObjectStorage) -> None:
        mine, theirs = image_key("user_a", "job_1", 0), image_key("user_b", "job_1", 0)
        await storage.put(mine, b"mine", "image/png")
        await storage.put(theirs, b"theirs", "image/webp")
        await storage.delete(theirs)
        assert await storage.get(mine) == b"mine"

    async def test_concurrent_puts_all_land(self, storage: ObjectStorage) -> None:
        keys = [image_key("user_1", "job_many", i) for i in range(8)]
        await asyncio.gather(*(storage.put(k, f"image {i}".encode(), "image/png")
                               for i, k in enumerate(keys)))
        assert await asyncio.gather(*(storage.get(k) for k in keys)) == [
            f"image {i}".encode() for i in range(8)]

    async def test_the_url_fetches_the_objects_bytes(
            self, storage: ObjectStorage, fetch_url: FetchUrl) -> None:
        key = image_key("user_1", "job_url", 1, "webp")
        await storage.put(key, EVERY_BYTE, "image/webp")
        assert await fetch_url(storage.url_for(key, expires_in_s=300)) == EVERY_BYTE

    @pytest.mark.parametrize("key", ["", "/users/u/jobs/j/0.png", "users/../../etc/passwd",
                                     "users//0.png", "users/./0.png", "a\\b"])
    async def test_malformed_keys_are_refused(self, storage: ObjectStorage, key: str) -> None:
        with pytest.raises(ValueError):
            await storage.put(key, b"x", "image/png")
        with pytest.raises(ValueError):
            await storage.get(key)
        with pytest.raises(ValueError):
            storage.url_for(key, expires_in_s=60)
