"""The local provider's drawn seed, and multi-turn edits sending the parent chain as history."""

from __future__ import annotations

import pytest

from adapters.image_providers.local import LocalImageProvider
from application.commands import SubmitJob
from application.ports import ProviderRequest, ProviderResult
from application.use_cases.process_generation import ProcessGeneration
from adapters.images.inspector import PillowImageInspector
from domain.jobs import JobStatus
from tests.unit.application.conftest import World

pytestmark = pytest.mark.unit


async def test_a_local_job_without_a_seed_gets_one_drawn_recorded_and_rendered(world: World) -> None:
    await world.grant()("u1", 10)
    job = (await world.submit()(SubmitJob(user_id="u1", prompt="a fox", model="local",
                                          size="64x64"))).job
    await world.run_queue()
    done = (await world.get_job()("u1", job.id))

    assert job.seed is not None and 0 <= job.seed < 2**31  # recorded on the job at submission
    assert done.job.status is JobStatus.COMPLETED and done.job.seed == job.seed
    stored = await world.storage.get(done.images[0].key)
    again = await LocalImageProvider().generate(ProviderRequest(
        job_id="x", model="local", prompt="a fox", width=64, height=64, n=1, seed=job.seed))
    assert again.images[0].data == stored  # rendered with that seed: the job can be reproduced


async def test_two_seedless_jobs_draw_different_seeds(world: World) -> None:
    await world.grant()("u1", 10)
    seeds = {(await world.submit()(SubmitJob(user_id="u1", prompt="a fox", model="local",
                                             size="64x64"))).job.seed for _ in range(3)}
    assert len(seeds) == 3 and None not in seeds


async def test_a_direct_call_without_a_seed_never_renders_seed_none() -> None:
    provider = LocalImageProvider()
    request = ProviderRequest(job_id="x", model="local", prompt="p", width=64, height=64, n=1)
    first, second = await provider.generate(request), await provider.generate(request)
    assert first.images[0].data != second.images[0].data  # a seed was drawn each time


class Recording(LocalImageProvider):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ProviderRequest] = []

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        self.requests.append(request)
        return await super().generate(request)


async def test_an_edit_chain_sends_earlier_turns_up_to_the_configured_depth(world: World) -> None:
    recording = Recording()
    world.extra_providers["local"] = recording
    await world.grant()("u1", 20)
    parent = None
    for prompt in ("a lighthouse", "make it dusk", "add a boat", "add gulls"):
        job = (await world.submit()(SubmitJob(user_id="u1", prompt=prompt, model="local",
                                              size="64x64", parent_job_id=parent))).job
        process = ProcessGeneration(
            uow=world.uow, providers=world.registry, inspector=PillowImageInspector(),
            storage=world.storage, clock=world.clock, publisher=world.events,
            fail_or_retry=world.fail_or_retry(), worker_id="w1", history_depth=2)
        world.queue.items.clear()
        assert (await process(job.id)).status is JobStatus.COMPLETED  # type: ignore[union-attr]
        parent = job.id

    last = recording.requests[-1]
    assert [t.prompt for t in last.history] == ["make it dusk", "add a boat"]  # depth 2, oldest first
    assert all(len(t.images) == 1 and t.images[0].startswith(b"\x89PNG") for t in last.history)
    assert last.input_images == last.history[-1].images  # the parent's output is edited
    assert recording.requests[0].history == ()
