"""Issue 8, case 4: the storage quota is checked in the write that counts the bytes.

With room for one image, six concurrent completes store exactly one; the other five fail as
`storage_quota` and their reservations are released. Input uploads past the quota are refused
and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from adapters.persistence.sqlalchemy.tables import images, storage_usage
from application.commands import SubmitJob
from domain.errors import StorageQuotaExceeded
from domain.jobs import JobStatus
from domain.quota import GIB
from tests.integration.engine.backends import engine_container

pytestmark = pytest.mark.integration


def _png(side: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


async def _set_used(container: Any, user: str, used: int) -> None:
    async with container.adapters.engine().begin() as conn:
        await conn.execute(update(storage_usage).where(storage_usage.c.user_id == user)
                           .values(used_bytes=used))


async def _used(container: Any, user: str) -> int:
    async with container.adapters.engine().connect() as conn:
        return (await conn.execute(select(storage_usage.c.used_bytes)
                                   .where(storage_usage.c.user_id == user))).scalar_one()


async def test_six_concurrent_completes_with_room_for_one_store_exactly_one(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        cases = c.use_cases
        await cases.ensure_user()("user_q", starter_credits=20)

        def submit() -> Any:
            return cases.submit_job()(SubmitJob(user_id="user_q", prompt="same", model="local",
                                                size="64x64", n=1, seed=7))

        first = (await submit()).job.id  # measures one image's size
        assert (await cases.process_job()(first)).status is JobStatus.COMPLETED
        size = await _used(c, "user_q")
        room_for_one = GIB - size - size // 2
        await _set_used(c, "user_q", room_for_one)
        job_ids = [(await submit()).job.id for _ in range(6)]
        await asyncio.gather(*(cases.process_job()(j) for j in job_ids))
        states = [(await cases.get_job()("user_q", j)).job for j in job_ids]
        balance = await cases.get_balance()("user_q")
        used = await _used(c, "user_q")
        async with c.adapters.engine().connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(images).where(
                images.c.job_id.in_(job_ids)))).scalar_one()
    statuses = sorted(s.status.value for s in states)
    assert statuses == ["completed"] + ["failed"] * 5
    assert {s.error_class for s in states if s.status is JobStatus.FAILED} == {"storage_quota"}
    assert stored == 1
    assert used == room_for_one + size  # counted once, never over the limit
    assert (balance.available, balance.reserved) == (18, 0)  # two captured, five released
    assert len(list((tmp_path / "objects").rglob("*.png"))) == 2  # the refused ones were deleted


async def test_input_uploads_past_the_quota_are_refused_and_nothing_is_stored(
        backend: str, tmp_path: Path) -> None:
    data = _png()
    async with engine_container(backend, tmp_path) as c:
        await c.use_cases.ensure_user()("user_u", starter_credits=5)
        upload = c.watching.upload_image()
        await upload("user_u", data)
        await _set_used(c, "user_u", GIB - len(data) - len(data) // 2)  # room for one more
        results = await asyncio.gather(*(upload("user_u", data) for _ in range(4)),
                                       return_exceptions=True)
        with pytest.raises(StorageQuotaExceeded):
            await upload.many("user_u", [(data, "image"), (data, "mask")])
        used = await _used(c, "user_u")
        async with c.adapters.engine().connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(images).where(
                images.c.user_id == "user_u"))).scalar_one()
    refused = [r for r in results if isinstance(r, StorageQuotaExceeded)]
    assert len(refused) == 3 and len(results) - len(refused) == 1
    assert used == GIB - len(data) - len(data) // 2 + len(data)
    assert rows == 2
    assert len(list((tmp_path / "objects").rglob("users/user_u/uploads/*"))) == 2
