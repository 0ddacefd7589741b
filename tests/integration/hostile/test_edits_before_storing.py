"""Issue 11, /v1/images/edits: credits, quota, model and image limits are checked before any
upload is stored; pixel bombs are refused from their headers; unreferenced uploads are removed
after the grace period. Both profiles."""

from __future__ import annotations

import io
import time
from functools import cache
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from adapters.persistence.sqlalchemy.tables import images
from application.use_cases.sweep_uploads import SweepUploads
from domain.limits import MAX_INPUT_IMAGES
from domain.quota import Plan, StorageQuota

pytestmark = pytest.mark.integration


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 0).save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


@cache
def bomb() -> bytes:
    return png(8000, 5000)  # 40 megapixels in a few tens of kilobytes


async def stored_images(api) -> int:
    async with api.container.adapters.engine().connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(images))).scalar_one())


def stored_objects(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "uploads" in p.parts]


def objects_root(api, tmp_path: Path) -> Path:
    storage = api.container.adapters.storage()
    return Path(getattr(storage, "_root", tmp_path))


async def edit(api, headers, files, **form: str):
    return await api.client.post("/v1/images/edits", headers=headers, files=files,
                                 data={"prompt": "make it blue", "model": "local", **form})


async def assert_nothing_stored(api, tmp_path: Path) -> None:
    assert await stored_images(api) == 0
    assert stored_objects(objects_root(api, tmp_path)) == []


async def test_no_credits_means_nothing_stored(both, tmp_path: Path) -> None:
    headers = await both.key_for("broke")  # zero credits
    for _ in range(3):
        r = await edit(both, headers, [("image", ("a.png", png(64, 64), "image/png"))] * 3)
        assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_quota"
        assert r.headers["x-should-retry"] == "false"
    await assert_nothing_stored(both, tmp_path)


async def test_a_model_that_cannot_edit_means_nothing_stored(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=10)
    r = await edit(both, headers, [("image", ("a.png", png(64, 64), "image/png"))], model="dall-e-3",
                   size="1024x1024")
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    await assert_nothing_stored(both, tmp_path)


async def test_pixel_bombs_are_refused_from_their_headers_quickly(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=100)
    files = [("image", (f"{i}.png", bomb(), "image/png")) for i in range(MAX_INPUT_IMAGES)]
    started = time.process_time()
    r = await edit(both, headers, files)
    assert r.status_code == 400 and r.json()["error"]["param"] == "image", r.text
    assert time.process_time() - started < 2.0  # decoding them all took 11 s of CPU
    await assert_nothing_stored(both, tmp_path)


async def test_more_images_than_the_cap_are_refused(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=100)
    files = [("image", (f"{i}.png", png(8, 8), "image/png")) for i in range(MAX_INPUT_IMAGES + 1)]
    r = await edit(both, headers, files)
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"
    await assert_nothing_stored(both, tmp_path)


async def test_a_full_storage_quota_means_nothing_stored(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=10)
    async with both.container.adapters.uow() as uow:
        await uow.quotas.add_usage("alice", StorageQuota(plan=Plan.FREE, used_bytes=0).limit_bytes)
        await uow.commit()
    r = await edit(both, headers, [("image", ("a.png", png(64, 64), "image/png"))])
    assert r.status_code == 413 and r.json()["error"]["code"] == "storage_quota_exceeded", r.text
    assert r.json()["error"]["param"] == "image"
    await assert_nothing_stored(both, tmp_path)


async def test_a_control_character_in_the_prompt_is_refused(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=10)
    r = await edit(both, headers, [("image", ("a.png", png(64, 64), "image/png"))], prompt="a\x00b")
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
    await assert_nothing_stored(both, tmp_path)


async def test_unreferenced_uploads_are_removed_after_the_grace_period(both, tmp_path: Path) -> None:
    headers = await both.key_for("alice", credits=10)
    upload = both.container.watching.upload_image()
    orphan = await upload("alice", png(32, 32))
    used = await upload("alice", png(32, 32))
    r = await both.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64", "inputImageIds": [used.id]},
                               headers=headers)
    assert r.status_code == 201, r.text
    storage = both.container.adapters.storage()
    kept = SweepUploads(uow=both.container.adapters.uow, storage=storage,
                        clock=both.container.core.clock(), grace_s=3600)
    assert await kept() == 0  # within the grace period nothing goes
    sweep = SweepUploads(uow=both.container.adapters.uow, storage=storage,
                         clock=both.container.core.clock(), grace_s=0)
    time.sleep(0.01)
    assert await sweep() == 1
    async with both.container.adapters.uow() as uow:
        assert await uow.images.get(orphan.id) is None
        assert await uow.images.get(used.id) is not None
    with pytest.raises(Exception):
        await storage.get(orphan.key)
    assert await storage.get(used.key)


async def test_a_sweep_gives_the_removed_bytes_back_to_the_quota(both, tmp_path: Path) -> None:
    await both.key_for("alice", credits=10)
    upload = both.container.watching.upload_image()
    first = await upload("alice", png(32, 32))
    second = await upload("alice", png(48, 48))
    async with both.container.adapters.uow() as uow:
        assert (await uow.quotas.get("alice")).used_bytes == first.size_bytes + second.size_bytes
    sweep = SweepUploads(uow=both.container.adapters.uow, storage=both.container.adapters.storage(),
                         clock=both.container.core.clock(), grace_s=0)
    time.sleep(0.01)
    assert await sweep() == 2
    async with both.container.adapters.uow() as uow:
        assert (await uow.quotas.get("alice")).used_bytes == 0  # quota used == bytes stored
    async with both.container.adapters.engine().connect() as conn:
        left = (await conn.execute(select(func.coalesce(func.sum(images.c.size_bytes), 0))
                                   .where(images.c.user_id == "alice"))).scalar_one()
    assert left == 0


async def test_giving_back_more_than_was_counted_stops_at_zero(both) -> None:
    async with both.container.adapters.uow() as uow:
        await uow.quotas.add_usage("carol", 100)
        await uow.commit()
    async with both.container.adapters.uow() as uow:
        await uow.quotas.add_usage("carol", -250)  # e.g. bytes counted before usage was tracked
        await uow.commit()
    async with both.container.adapters.uow() as uow:
        assert (await uow.quotas.get("carol")).used_bytes == 0
