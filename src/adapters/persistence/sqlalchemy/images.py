"""Stored-image records in SQL; one row per output image, read back by id or by job."""

from __future__ import annotations

from typing import Any

import msgspec
from datetime import datetime

from sqlalchemy import and_, delete, exists, literal, or_, select
from sqlalchemy.engine import Row

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import images, jobs
from application.ports import ImageRepository
from domain.images import StoredImage


def _to_row(image: StoredImage) -> dict[str, Any]:
    return msgspec.structs.asdict(image)


def _to_domain(row: Row[Any]) -> StoredImage:
    return StoredImage(**row._mapping)


class SqlAlchemyImageRepository(ImageRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def add(self, image: StoredImage) -> None:
        """Insert the record; `ConcurrencyConflict` if the id exists."""
        await self._db.execute(f"add image {image.id}", images.insert().values(_to_row(image)))

    async def get(self, image_id: str) -> StoredImage | None:
        query = select(images).where(images.c.id == image_id)
        row = (await self._db.execute(f"get image {image_id}", query)).first()
        return None if row is None else _to_domain(row)

    async def for_job(self, job_id: str) -> list[StoredImage]:
        """The job's images in output order."""
        query = select(images).where(images.c.job_id == job_id).order_by(images.c.index)
        rows = (await self._db.execute(f"list images of job {job_id}", query)).all()
        return [_to_domain(row) for row in rows]

    async def unreferenced_uploads(self, *, before: datetime, limit: int) -> list[StoredImage]:
        quoted = literal('"') + images.c.id + literal('"')
        referenced = exists().where(and_(jobs.c.user_id == images.c.user_id, or_(
            jobs.c.mask_image_id == images.c.id, jobs.c.input_image_ids.contains(quoted))))
        query = (select(images).where(images.c.job_id == UPLOAD_JOB_ID, images.c.created_at < before,
                                      ~referenced).order_by(images.c.created_at).limit(limit))
        rows = (await self._db.execute("list unreferenced uploads", query)).all()
        return [_to_domain(row) for row in rows]

    async def remove(self, image_id: str) -> None:
        await self._db.execute(f"remove upload {image_id}", delete(images).where(
            images.c.id == image_id, images.c.job_id == UPLOAD_JOB_ID))


UPLOAD_JOB_ID = "upload"
