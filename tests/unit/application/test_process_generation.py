"""ProcessGeneration: stages, retries, refunds, partial success, cancellation races."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from application.commands import SubmitJob
from application.ports import GeneratedImage, ProviderRequest, ProviderResult
from domain.failures import ErrorClass, JobFailure, RefundPolicy, Settlement
from domain.jobs import JobStatus

pytestmark = pytest.mark.unit


class ScriptedProvider:
    """Answers each call with the next scripted outcome (a result or a failure)."""

    name = "flaky"

    def __init__(self, *outcomes: ProviderResult | JobFailure) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, JobFailure):
            raise outcome
        return outcome


def png(width: int = 8, height: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buf, "PNG")
    return buf.getvalue()


async def submit(world, **kw: object) -> str:
    values: dict[str, object] = {"user_id": "u1", "prompt": "p", "model": "local", "size": "64x48"}
    values.update(kw)
    return (await world.submit()(SubmitJob(**values))).job.id  # type: ignore[arg-type]


async def test_a_job_runs_to_completion_and_captures_exactly_the_estimate(world) -> None:
    await world.grant()("u1", 10)
    job_id = await submit(world, n=2)
    await world.run_queue()
    view = await world.get_job()("u1", job_id)
    job = view.job
    assert job.status is JobStatus.COMPLETED
    assert (job.charged_credits, job.progress_percent, job.attempts) == (2, 100, 1)
    assert [(i.width, i.height, i.content_type) for i in view.images] == [(64, 48, "image/png")] * 2
    stored = await world.storage.get(view.images[0].key)
    assert Image.open(io.BytesIO(stored)).size == (64, 48)
    assert job.started_at and job.generating_at and job.uploading_at and job.completed_at
    balance = await world.balance()("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (8, 0, 2)
    async with world.uow() as uow:
        assert (await uow.quotas.get("u1")).used_bytes == sum(i.size_bytes for i in view.images)
    assert (await world.audit()()).ok


async def test_processing_a_job_twice_charges_and_stores_once(world) -> None:
    await world.grant()("u1", 10)
    job_id = await submit(world)
    await world.process()(job_id)
    assert await world.process("w2")(job_id) is None
    async with world.uow() as uow:
        events = await uow.ledgers.events("u1")
        assert [type(e).__name__ for e in events].count("ReservationCaptured") == 1
        assert len(await uow.images.for_job(job_id)) == 1


async def test_retryable_failures_back_off_2_4_8_seconds_then_fail_and_refund(world) -> None:
    down = JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, "503")
    provider = ScriptedProvider(down, down, down, down)
    world.extra_providers["flaky"] = provider
    await world.grant()("u1", 10)
    job_id = await submit(world, model="flaky")
    delays = []
    process = world.process()
    while world.queue.items:
        item, delay = world.queue.items.pop(0)
        delays.append(delay)
        world.clock.advance(delay)
        await process(item)
    job = (await world.get_job()("u1", job_id)).job
    assert delays == [0.0, 2.0, 4.0, 8.0]
    assert provider.calls == 4
    assert (job.status, job.attempts, job.error_class, job.failure_stage.value) == (
        JobStatus.FAILED, 4, "provider_unavailable", "generating")
    balance = await world.balance()("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (10, 0, 0)


async def test_retry_after_longer_than_backoff_is_honoured(world) -> None:
    ok = ProviderResult(images=(GeneratedImage(data=png()),))
    world.extra_providers["flaky"] = ScriptedProvider(
        JobFailure(ErrorClass.RATE_LIMITED, "slow down", retry_after_s=30), ok)
    await world.grant()("u1", 10)
    job_id = await submit(world, model="flaky")
    await world.process()(job_id)
    assert world.queue.items[-1] == (job_id, 30)
    assert await world.process()(job_id) is None  # not due yet: nothing happens
    await world.run_queue()
    assert (await world.get_job()("u1", job_id)).job.status is JobStatus.COMPLETED


async def test_content_policy_fails_at_once_and_the_refund_policy_decides(world) -> None:
    world.refund_policy = RefundPolicy(overrides={"content_policy": Settlement.CAPTURE})
    world.extra_providers["flaky"] = ScriptedProvider(JobFailure(ErrorClass.CONTENT_POLICY, "blocked"))
    await world.grant()("u1", 10)
    job_id = await submit(world, model="flaky")
    await world.run_queue()
    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.attempts, job.charged_credits) == (JobStatus.FAILED, 1, 2)
    assert (await world.balance()("u1")).lifetime_spent == 2


async def test_one_undecodable_image_of_two_charges_for_one(world) -> None:
    world.extra_providers["flaky"] = ScriptedProvider(ProviderResult(
        images=(GeneratedImage(data=png()), GeneratedImage(data=b"not an image"))))
    await world.grant()("u1", 10)
    job_id = await submit(world, model="flaky", n=2)
    await world.run_queue()
    view = await world.get_job()("u1", job_id)
    assert view.job.status is JobStatus.COMPLETED
    assert (len(view.images), view.job.charged_credits) == (1, 2)
    balance = await world.balance()("u1")
    assert (balance.available, balance.lifetime_spent) == (8, 2)


async def test_no_decodable_image_fails_with_invalid_output_and_refunds(world) -> None:
    world.extra_providers["flaky"] = ScriptedProvider(
        ProviderResult(images=(GeneratedImage(data=b"<html>oops</html>"),)))
    await world.grant()("u1", 10)
    job_id = await submit(world, model="flaky")
    await world.run_queue()
    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.error_class) == (JobStatus.FAILED, "invalid_output")
    assert (await world.balance()("u1")).available == 10


async def test_over_quota_fails_in_the_upload_stage_and_refunds(world) -> None:
    await world.grant()("u1", 10)
    job_id = await submit(world)
    async with world.uow() as uow:
        quota = await uow.quotas.get("u1")
        await uow.quotas.add_usage("u1", quota.limit_bytes - 10)
        await uow.commit()
    await world.run_queue()
    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.error_class, job.failure_stage.value) == (
        JobStatus.FAILED, "storage_quota", "uploading")
    assert (await world.balance()("u1")).available == 10


async def test_a_job_cancelled_while_generating_is_not_charged_and_keeps_no_image(world) -> None:
    await world.grant()("u1", 10)
    job_id = await submit(world)
    cancel = world.cancel()

    class CancellingProvider(ScriptedProvider):
        async def generate(self, request: ProviderRequest) -> ProviderResult:
            await cancel("u1", request.job_id)
            return ProviderResult(images=(GeneratedImage(data=png()),))

    world.extra_providers["local"] = CancellingProvider()
    await world.run_queue()
    view = await world.get_job()("u1", job_id)
    assert (view.job.status, view.images) == (JobStatus.CANCELLED, [])
    balance = await world.balance()("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (10, 0, 0)
    assert not list((world.tmp / "objects").rglob("*.png"))
