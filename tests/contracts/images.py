"""The `ImageRepository` contract."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict
from domain.images import StoredImage, image_key
from tests.contracts import PersistenceContract, at


def stored_image(image_id: str, *, job_id: str = "job_1", index: int = 0) -> StoredImage:
    return StoredImage(id=image_id, job_id=job_id, user_id="user_1", index=index,
                       key=image_key("user_1", job_id, index), content_type="image/png",
                       size_bytes=5 * 1024**3, width=1024, height=768, sha256="ab" * 32,
                       created_at=at(index))


class ImageRepositoryContract(PersistenceContract):
    async def test_an_image_comes_back_with_every_field(self) -> None:
        image = stored_image("img_1")
        async with self.make_uow() as uow:
            await uow.images.add(image)
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.images.get("img_1") == image
            assert await uow.images.get("img_missing") is None

    async def test_a_jobs_images_come_back_in_output_order(self) -> None:
        async with self.make_uow() as uow:
            for image_id, index in (("img_c", 2), ("img_a", 0), ("img_b", 1)):
                await uow.images.add(stored_image(image_id, index=index))
            await uow.images.add(stored_image("img_other", job_id="job_2"))
            await uow.commit()
        async with self.make_uow() as uow:
            images = await uow.images.for_job("job_1")
            assert await uow.images.for_job("job_none") == []
        assert [i.id for i in images] == ["img_a", "img_b", "img_c"]

    async def test_adding_an_image_id_twice_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            await uow.images.add(stored_image("img_1"))
            await uow.commit()
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.images.add(stored_image("img_1", index=1))
