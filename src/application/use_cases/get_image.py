"""GetImage: an image's metadata and a signed, expiring URL, for its owner only."""

from __future__ import annotations

import msgspec

from application.errors import NotFound
from application.ports import ObjectStorage, UnitOfWorkFactory
from domain.images import StoredImage


class ImageView(msgspec.Struct, frozen=True, kw_only=True):
    image: StoredImage
    url: str
    expires_in_s: int


class GetImage:
    def __init__(self, *, uow: UnitOfWorkFactory, storage: ObjectStorage, url_ttl_s: int = 3600) -> None:
        self._uow, self._storage, self._ttl = uow, storage, url_ttl_s

    async def __call__(self, user_id: str, image_id: str) -> ImageView:
        async with self._uow() as uow:
            image = await uow.images.get(image_id)
        if image is None or image.user_id != user_id:
            raise NotFound("image", image_id)
        return ImageView(image=image, url=self._storage.url_for(image.key, expires_in_s=self._ttl),
                         expires_in_s=self._ttl)
