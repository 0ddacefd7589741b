"""Stored-image records in memory; ids are unique as in SQL."""

from __future__ import annotations

from datetime import datetime

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import ImageRepository
from domain.images import StoredImage
from domain.jobs import JobState


class InMemoryImageRepository(ImageRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._staged: dict[str, bytes] = {}
        self._removed: set[str] = set()

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

    async def unreferenced_uploads(self, *, before: datetime, limit: int) -> list[StoredImage]:
        jobs = [decode(d, JobState) for d in self._db.jobs.values()]
        named = {(j.user_id, i) for j in jobs for i in (*j.input_image_ids, j.mask_image_id) if i}
        uploads = sorted((i for i in (decode(d, StoredImage) for d in self._db.images.values())
                          if i.job_id == "upload" and i.created_at < before
                          and (i.user_id, i.id) not in named), key=lambda i: i.created_at)
        return uploads[:limit]

    async def remove(self, image_id: str) -> None:
        self._removed.add(image_id)

    def check_commit(self) -> None:
        if clash := self._staged.keys() & self._db.images.keys():
            raise self._guard.conflict(f"images {sorted(clash)} were added by another unit")

    def apply_commit(self) -> None:
        self._db.images.update(self._staged)
        for image_id in self._removed:
            self._db.images.pop(image_id, None)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        self._removed.clear()
