"""UploadInputImage: keep a caller's input images (an edit's sources and mask) as StoredImages.

Input images count against the storage quota like results (ADR 0050). The quota is checked
first (so a full account is refused before anything is written) and again in the write that
counts the bytes, in the unit that records the images; if that write refuses, the objects
just put are deleted, so a refused upload leaves no object, no image row and no usage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from application.errors import CommitOutcomeUnknown
from application.ports import Clock, GeneratedImage, IdGenerator, ImageInspector, ObjectStorage, UnitOfWorkFactory
from domain.errors import InvalidRequest
from domain.failures import JobFailure
from domain.images import StoredImage
from domain.limits import MAX_EDIT_PIXELS, MAX_INPUT_PIXELS

#: The `job_id` of images that came in with a request rather than out of a job.
UPLOAD_JOB_ID = "upload"


class UploadInputImage:
    def __init__(self, *, uow: UnitOfWorkFactory, storage: ObjectStorage, inspector: ImageInspector,
                 clock: Clock, ids: IdGenerator, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._uow, self._storage, self._inspector = uow, storage, inspector
        self._clock, self._ids, self._max_bytes = clock, ids, max_bytes

    def dimensions(self, data: bytes) -> tuple[str, int, int]:
        return self._inspector.dimensions(data)

    def check_all(self, files: list[tuple[str, bytes]]) -> int:
        """Refuse a set of uploads before any is stored (ADR 0080): each non-empty, within the
        byte cap and, from its header alone, within `MAX_INPUT_PIXELS`; together within
        `MAX_EDIT_PIXELS`. Returns their total bytes (for the quota's headroom check)."""
        total_pixels = 0
        for field, data in files:
            if not data:
                raise InvalidRequest(field, "empty file")
            if len(data) > self._max_bytes:
                raise InvalidRequest(field, f"larger than {self._max_bytes} bytes")
            try:
                _, width, height = self._inspector.dimensions(data)
            except JobFailure as exc:
                raise InvalidRequest(field, exc.message) from exc
            if width < 1 or height < 1 or width * height > MAX_INPUT_PIXELS:
                raise InvalidRequest(field, f"{width}x{height} is over the {MAX_INPUT_PIXELS}-pixel limit")
            total_pixels += width * height
            if total_pixels > MAX_EDIT_PIXELS:
                raise InvalidRequest(field, f"the images together exceed {MAX_EDIT_PIXELS} pixels")
        return sum(len(data) for _, data in files)

    async def __call__(self, user_id: str, data: bytes, *, field: str = "image") -> StoredImage:
        """Decode-check `data` (PNG, JPEG or WebP), store it under the user's uploads, record it.

        Raises:
            InvalidRequest: on an empty, oversized or undecodable image (naming `field`).
            StorageQuotaExceeded: when the image does not fit in the user's storage quota.
        """
        return (await self.many(user_id, [(data, field)]))[0]

    async def many(self, user_id: str, files: Sequence[tuple[bytes, str]]) -> list[StoredImage]:
        """Store every `(data, field)` or none of them, as `__call__` does for one."""
        images = [await self._check(user_id, data, field) for data, field in files]
        total = sum(image.size_bytes for image, _ in images)
        async with self._uow() as uow:
            (await uow.quotas.get(user_id)).ensure_room_for(total)  # refuse early, store nothing
        stored: list[StoredImage] = []
        try:
            for image, data in images:
                await self._storage.put(image.key, data, image.content_type)
                stored.append(image)
            async with self._uow() as uow:
                for image in stored:
                    await uow.images.add(image)
                await uow.quotas.add_usage(user_id, total)  # the check that counts
                await uow.commit()
        except BaseException as exc:
            if isinstance(exc, CommitOutcomeUnknown):
                raise  # the images may be recorded: keep their objects
            for image in stored:
                try:
                    await self._storage.delete(image.key)
                except JobFailure:
                    pass  # an orphaned upload costs bytes, not correctness
            raise
        return stored

    async def _check(self, user_id: str, data: bytes, field: str) -> tuple[StoredImage, bytes]:
        if not data:
            raise InvalidRequest(field, "empty file")
        if len(data) > self._max_bytes:
            raise InvalidRequest(field, f"larger than {self._max_bytes} bytes")
        try:
            info = await self._inspector.inspect(GeneratedImage(data=data))
        except JobFailure as exc:
            raise InvalidRequest(field, exc.message) from exc
        image_id = self._ids.new_id("img")
        return StoredImage(
            id=image_id, job_id=UPLOAD_JOB_ID, user_id=user_id, index=0,
            key=f"users/{user_id}/uploads/{image_id}.{info.extension}", content_type=info.content_type,
            size_bytes=len(data), width=info.width, height=info.height,
            sha256=hashlib.sha256(data).hexdigest(), created_at=self._clock.now()), data
