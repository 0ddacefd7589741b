"""SweepUploads: delete uploaded input images that no job referenced within the grace period.

An OpenAI-style edit stores its inputs before its job is submitted; when the submit then fails
(or a client uploads and never submits) the files would stay for ever, outside any job. After
`grace_s` an upload no job of its owner names is removed: its record first (in one unit of
work), then its object, so a record never points at a deleted object (ADR 0080). The same unit
gives the upload's bytes back to its owner's storage quota, so quota used equals bytes stored
(ADR 0055).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from application.ports import Clock, ObjectStorage, UnitOfWorkFactory


class SweepUploads:
    def __init__(self, *, uow: UnitOfWorkFactory, storage: ObjectStorage, clock: Clock,
                 grace_s: int = 3600, batch: int = 100) -> None:
        self._uow, self._storage, self._clock = uow, storage, clock
        self._grace, self._batch = timedelta(seconds=grace_s), batch

    async def __call__(self) -> int:
        """Remove one batch of lapsed unreferenced uploads; return how many."""
        async with self._uow() as uow:
            lapsed = await uow.images.unreferenced_uploads(before=self._clock.now() - self._grace,
                                                           limit=self._batch)
            freed: dict[str, int] = {}
            for image in lapsed:
                await uow.images.remove(image.id)
                freed[image.user_id] = freed.get(image.user_id, 0) + image.size_bytes
            for user_id, size in freed.items():
                await uow.quotas.add_usage(user_id, -size)
            await uow.commit()
        for image in lapsed:
            with contextlib.suppress(Exception):  # the record is gone; an orphan costs only bytes
                await self._storage.delete(image.key)
        return len(lapsed)
