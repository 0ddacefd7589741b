"""Batches in SQL: one row per batch, its child job ids as a JSON array."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables_requests import batches
from application.ports import BatchRepository
from domain.batches import Batch, BatchKind

_ids = msgspec.json.Decoder(tuple[str, ...])


class SqlAlchemyBatchRepository(BatchRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def add(self, batch: Batch) -> None:
        """Insert the batch; `ConcurrencyConflict` if the id exists."""
        row = {"id": batch.id, "user_id": batch.user_id, "kind": batch.kind.value,
               "created_at": batch.created_at, "job_ids": msgspec.json.encode(batch.job_ids).decode()}
        await self._db.execute(f"add batch {batch.id}", batches.insert().values(row))

    async def get(self, batch_id: str) -> Batch | None:
        row = (await self._db.execute(f"get batch {batch_id}",
                                      select(batches).where(batches.c.id == batch_id))).first()
        if row is None:
            return None
        return Batch(id=row.id, user_id=row.user_id, kind=BatchKind(row.kind),
                     created_at=row.created_at, job_ids=_ids.decode(row.job_ids))
