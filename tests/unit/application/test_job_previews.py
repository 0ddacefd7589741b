"""JobPreviews on fakes: one preview object per job, untrusted bytes refused, removal at the end."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest

from adapters.events.in_process import InProcessJobEvents
from adapters.images.inspector import PillowImageInspector
from adapters.previews.memory import InMemoryPreviewIndex
from application.use_cases.job_previews import JobPreviews
from domain.jobs import JobState, JobStatus, JobStatusChanged
from domain.previews import JobPreviewReady
from tests.unit.application.conftest import World
from tests.unit.application.test_async_provider_callbacks import png

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, tzinfo=UTC)
JOB = JobState(id="job_1", user_id="u1", prompt="p", model="local-stream", provider="local",
               width=8, height=8, n=1, created_at=NOW, updated_at=NOW, status=JobStatus.GENERATING)


def previews(world: World, events: InProcessJobEvents) -> JobPreviews:
    return JobPreviews(index=InMemoryPreviewIndex(), storage=world.storage,
                       inspector=PillowImageInspector(), publisher=events, clock=world.clock)


def ended(status: JobStatus) -> JobStatusChanged:
    return JobStatusChanged(job_id=JOB.id, user_id="u1", status=status, progress_percent=100,
                            current_step="x", occurred_at=NOW)


async def test_each_partial_replaces_the_one_preview_object_and_is_announced(world: World) -> None:
    events = InProcessJobEvents()
    jp = previews(world, events)
    async with events.subscribe(JOB.id) as queue:
        sink = jp.sink_for(JOB)
        await sink(png(8), 0)
        await sink(png(9), 1)
        got = [queue.get_nowait(), queue.get_nowait()]

    current = await jp.current(JOB)
    assert [type(e) for e in got] == [JobPreviewReady, JobPreviewReady] and got[1].index == 1
    assert current is not None and current.key == "users/u1/jobs/job_1/preview.png"
    assert await world.storage.get(current.key) == png(9)
    assert await jp.current(JobState(**{**{f: getattr(JOB, f) for f in JOB.__struct_fields__},
                                        "status": JobStatus.COMPLETED})) is None


async def test_undecodable_bytes_are_dropped_without_failing_anything(world: World) -> None:
    jp = previews(world, InProcessJobEvents())

    await jp.sink_for(JOB)(b"<svg>not a raster</svg>", 0)

    assert jp.dropped == 1 and await jp.current(JOB) is None


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
async def test_the_preview_is_removed_when_the_job_ends(world: World, status: JobStatus) -> None:
    jp = previews(world, InProcessJobEvents())
    await jp.sink_for(JOB)(png(8), 0)
    key = (await jp.current(JOB)).key  # type: ignore[union-attr]

    await jp.clear_finished([ended(JobStatus.UPLOADING), ended(status)])

    assert await jp.current(JOB) is None
    assert not (world.tmp / "objects" / key).exists()
