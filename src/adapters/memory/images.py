"""Stored-image records in memory; ids are unique as in SQL."""

from __future__ import annotations

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import ImageRepository
from domain.images import StoredImage


class InMemoryImageRepository(ImageRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._staged: dict[str, bytes] = {}

    async def add(self, image: StoredImage) -> None:
        """Stage the record; `ConcurrencyConflict` if the id exists."""
        if image.id in self._staged or image.id in self._db.images:
            raise self._guard.conflict(f"image {image.id} already exists")
        self._staged[image.id] = encode(image)

    async def get(self, image_id: str) -> StoredImage | None:
        data = self._staged.get(image_id, self._db.images.get(image_id))
        return None if data is None else decode(data, StoredImage)

    async def for_job(self, job_id: str) -> list[StoredImage]:
        """The job's images in output order."""
        everything = (decode(d, StoredImage) for d in {**self._db.images, **self._staged}.values())
        return sorted((i for i in everything if i.job_id == job_id), key=lambda i: i.index)

    def check_commit(self) -> None:
        if clash := self._staged.keys() & self._db.images.keys():
            raise self._guard.conflict(f"images {sorted(clash)} were added by another unit")

    def apply_commit(self) -> None:
        self._db.images.update(self._staged)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
