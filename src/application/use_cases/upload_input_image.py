"""UploadInputImage: keep a caller's input image (an edit's source or mask) as a StoredImage."""

from __future__ import annotations

import hashlib

from application.ports import Clock, GeneratedImage, IdGenerator, ImageInspector, ObjectStorage, UnitOfWorkFactory
from domain.errors import InvalidRequest
from domain.failures import JobFailure
from domain.images import StoredImage

#: The `job_id` of images that came in with a request rather than out of a job.
UPLOAD_JOB_ID = "upload"


class UploadInputImage:
    def __init__(self, *, uow: UnitOfWorkFactory, storage: ObjectStorage, inspector: ImageInspector,
                 clock: Clock, ids: IdGenerator, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._uow, self._storage, self._inspector = uow, storage, inspector
        self._clock, self._ids, self._max_bytes = clock, ids, max_bytes

    async def __call__(self, user_id: str, data: bytes, *, field: str = "image") -> StoredImage:
        """Decode-check `data` (PNG, JPEG or WebP), store it under the user's uploads, record it.

        Raises:
            InvalidRequest: on an empty, oversized or undecodable image (naming `field`).
        """
        if not data:
            raise InvalidRequest(field, "empty file")
        if len(data) > self._max_bytes:
            raise InvalidRequest(field, f"larger than {self._max_bytes} bytes")
        try:
            info = await self._inspector.inspect(GeneratedImage(data=data))
        except JobFailure as exc:
            raise InvalidRequest(field, exc.message) from exc
        image_id = self._ids.new_id("img")
        image = StoredImage(
            id=image_id, job_id=UPLOAD_JOB_ID, user_id=user_id, index=0,
            key=f"users/{user_id}/uploads/{image_id}.{info.extension}", content_type=info.content_type,
            size_bytes=len(data), width=info.width, height=info.height,
            sha256=hashlib.sha256(data).hexdigest(), created_at=self._clock.now())
        await self._storage.put(image.key, data, info.content_type)
        async with self._uow() as uow:
            await uow.images.add(image)
            await uow.commit()
        return image
