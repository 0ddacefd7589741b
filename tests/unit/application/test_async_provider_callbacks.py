"""Async providers on memory adapters: park, callback, resume, reconcile and cancel.

A scripted provider stands in for Replicate/fal: `generate` answers with a provider job id,
`fetch_result` returns whatever the test scripted (None while "running").
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from datetime import timedelta

import pytest
from PIL import Image

from adapters.ids import UlidIdGenerator
from application.commands import SubmitJob
from application.errors import ProviderUnreachable, WebhookRejected
from application.ports import GeneratedImage, ProviderDelivery, ProviderRequest, ProviderResult
from application.use_cases.cancel_job import CancelJob
from application.use_cases.handle_provider_callback import CallbackOutcome, HandleProviderCallback
from application.use_cases.reconcile_awaiting_jobs import ReconcileAwaitingJobs
from application.use_cases.resume_awaiting_job import ResumeAwaitingJob
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.failures import ErrorClass, JobFailure
from domain.jobs import JobStatus
from domain.pricing import ModelSpec
from tests.unit.application.conftest import MODELS, World

pytestmark = pytest.mark.unit

CATALOG = ModelCatalog(
    [*MODELS, ModelSpec(name="sdxl", provider="async", credits_per_image=3, max_n=4)]
)


def png(size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


class ScriptedAsyncProvider:
    name = "async"

    def __init__(self) -> None:
        self.outcome: ProviderResult | Exception | None = None
        self.cancelled: list[str] = []
        self.fetches = 0
        self.cancel_error: Exception | None = None

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        return ProviderResult(provider_job_id=f"pred_{request.job_id}")

    async def fetch_result(self, provider_job_id: str, *, model: str = "") -> ProviderResult | None:
        self.fetches += 1
        await asyncio.sleep(0)  # let a concurrent resumer interleave here
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    async def cancel(self, provider_job_id: str, *, model: str = "") -> None:
        if self.cancel_error:
            raise self.cancel_error
        self.cancelled.append(provider_job_id)


class HeaderVerifier:
    """Takes the delivery id and prediction id from headers; 'bad' signatures are refused."""

    provider = "async"

    def verify(self, headers: Mapping[str, str], body: bytes) -> ProviderDelivery:
        if headers.get("sig") != "good":
            raise WebhookRejected("bad signature")
        return ProviderDelivery(
            provider="async",
            delivery_id=headers["id"],
            provider_job_id=headers["pred"],
            finished=True,
        )


class Harness:
    def __init__(self, world: World) -> None:
        self.world = world
        self.provider = ScriptedAsyncProvider()
        world.extra_providers["async"] = self.provider

    async def park(self, user: str = "u1", n: int = 1) -> str:
        await self.world.grant()(user, 20)
        submit = SubmitGeneration(
            uow=self.world.uow,
            catalog=CATALOG,
            providers=self.world.registry,
            queue=self.world.queue,
            clock=self.world.clock,
            ids=UlidIdGenerator(),
            publisher=self.world.events,
        )
        job_id = (
            await submit(SubmitJob(user_id=user, prompt="p", model="sdxl", size="64x64", n=n))
        ).job.id
        await self.world.run_queue()
        return job_id

    def callback(self) -> HandleProviderCallback:
        return HandleProviderCallback(
            uow=self.world.uow,
            verifiers={"async": HeaderVerifier()},
            queue=self.world.queue,
            clock=self.world.clock,
        )

    def resume(self, max_wait_s: int = 3600) -> ResumeAwaitingJob:
        return ResumeAwaitingJob(
            uow=self.world.uow,
            providers=self.world.registry,
            finish=self.world.process().finish,
            fail_or_retry=self.world.fail_or_retry(),
            clock=self.world.clock,
            publisher=self.world.events,
            max_wait_s=max_wait_s,
        )

    def reconcile(self) -> ReconcileAwaitingJobs:
        return ReconcileAwaitingJobs(
            uow=self.world.uow, queue=self.world.queue, clock=self.world.clock, after_s=60
        )

    async def drain_resumes(self) -> None:
        resume = self.resume()
        while self.world.queue.items:
            job_id, _ = self.world.queue.items.pop(0)
            await resume(job_id)

    async def job(self, job_id: str, user: str = "u1"):  # type: ignore[no-untyped-def]
        return (await self.world.get_job()(user, job_id)).job

    async def captures(self, user: str = "u1") -> int:
        async with self.world.uow() as uow:
            events = await uow.ledgers.events(user)
        return sum(1 for e in events if type(e).__name__ == "ReservationCaptured")


def headers(job_id: str, delivery: str = "msg_1", sig: str = "good") -> dict[str, str]:
    return {"id": delivery, "pred": f"pred_{job_id}", "sig": sig}


@pytest.fixture
def h(world: World) -> Harness:
    return Harness(world)


async def test_an_async_provider_parks_the_job_with_its_prediction_id(h: Harness) -> None:
    job_id = await h.park()
    job = await h.job(job_id)
    assert job.status is JobStatus.AWAITING_CALLBACK
    assert job.provider_job_id == f"pred_{job_id}"


async def test_a_verified_callback_resumes_the_job_through_the_queue_and_captures_once(
    h: Harness,
) -> None:
    job_id = await h.park(n=2)
    h.provider.outcome = ProviderResult(
        images=(GeneratedImage(data=png()), GeneratedImage(data=png(9)))
    )

    receipt = await h.callback()("async", headers(job_id), b"{}")
    assert receipt.outcome is CallbackOutcome.RESUMING and receipt.job_id == job_id
    assert [j for j, _ in h.world.queue.items] == [job_id]
    await h.drain_resumes()

    job = await h.job(job_id)
    assert job.status is JobStatus.COMPLETED and len(job.image_ids) == 2
    assert (await h.world.balance()("u1")).available == 20 - 6
    assert await h.captures() == 1


async def test_a_replayed_delivery_is_a_duplicate_and_enqueues_nothing(h: Harness) -> None:
    job_id = await h.park()
    await h.callback()("async", headers(job_id), b"{}")
    h.world.queue.items.clear()

    again = await h.callback()("async", headers(job_id), b"{}")

    assert again.outcome is CallbackOutcome.DUPLICATE
    assert h.world.queue.items == []


async def test_a_bad_signature_is_rejected_before_anything_is_recorded(h: Harness) -> None:
    job_id = await h.park()
    with pytest.raises(WebhookRejected):
        await h.callback()("async", headers(job_id, sig="forged"), b"{}")
    assert h.world.queue.items == []
    assert (await h.callback()("async", headers(job_id), b"{}")).outcome is CallbackOutcome.RESUMING


async def test_a_callback_for_an_unknown_prediction_is_acknowledged_and_recorded(
    h: Harness,
) -> None:
    receipt = await h.callback()(
        "async", {"id": "msg_x", "pred": "pred_nobody", "sig": "good"}, b"{}"
    )
    assert receipt.outcome is CallbackOutcome.UNKNOWN_JOB and receipt.job_id is None
    async with h.world.uow() as uow:
        assert await uow.provider_deliveries.seen("async", "msg_x")


async def test_a_prediction_that_failed_on_content_fails_the_job_and_releases_credits(
    h: Harness,
) -> None:
    job_id = await h.park()
    h.provider.outcome = JobFailure(ErrorClass.CONTENT_POLICY, "NSFW content detected")
    await h.callback()("async", headers(job_id), b"{}")
    await h.drain_resumes()
    job = await h.job(job_id)
    assert (job.status, job.error_class) == (JobStatus.FAILED, "content_policy")
    assert (await h.world.balance()("u1")).available == 20


async def test_a_prediction_still_running_leaves_the_job_waiting_and_unclaimed(h: Harness) -> None:
    job_id = await h.park()
    h.provider.outcome = None
    state = await h.resume()(job_id)
    assert state is not None and state.status is JobStatus.AWAITING_CALLBACK
    assert state.current_step == "Waiting for the provider"
    h.provider.outcome = ProviderResult(images=(GeneratedImage(data=png()),))
    assert (await h.resume()(job_id)).status is JobStatus.COMPLETED  # not blocked by a stale claim


async def test_an_unreachable_provider_leaves_the_job_for_the_next_poll(h: Harness) -> None:
    job_id = await h.park()
    h.provider.outcome = ProviderUnreachable("replicate 503")
    state = await h.resume()(job_id)
    assert state is not None and state.status is JobStatus.AWAITING_CALLBACK


async def test_a_job_waiting_past_the_limit_fails_with_timeout_and_is_not_resubmitted(
    h: Harness,
) -> None:
    job_id = await h.park()
    h.world.clock.advance(3601)
    state = await h.resume(max_wait_s=3600)(job_id)
    assert state is not None and (state.status, state.error_class) == (JobStatus.FAILED, "timeout")
    assert h.world.queue.items == []
    assert (await h.world.balance()("u1")).available == 20


async def test_two_resumers_at_once_store_and_charge_the_result_once(h: Harness) -> None:
    job_id = await h.park()
    h.provider.outcome = ProviderResult(images=(GeneratedImage(data=png()),))

    first, second = await asyncio.gather(h.resume()(job_id), h.resume()(job_id))

    assert {s.status if s else None for s in (first, second)} <= {JobStatus.COMPLETED, None}
    assert (await h.job(job_id)).status is JobStatus.COMPLETED
    assert h.provider.fetches == 1
    assert await h.captures() == 1


async def test_the_poller_enqueues_only_jobs_that_waited_longer_than_its_threshold(
    h: Harness,
) -> None:
    old = await h.park()
    h.world.clock.advance(90)
    new = await h.park(user="u2")
    report = await h.reconcile()()
    assert report.resumed == [old]
    assert [j for j, _ in h.world.queue.items] == [old]
    assert new != old


async def test_the_poller_completes_a_job_whose_webhook_never_came(h: Harness) -> None:
    job_id = await h.park()
    h.provider.outcome = ProviderResult(images=(GeneratedImage(data=png()),))
    h.world.clock.advance(61)
    await h.reconcile()()
    await h.drain_resumes()
    assert (await h.job(job_id)).status is JobStatus.COMPLETED
    assert await h.captures() == 1


async def test_the_poller_forgets_deliveries_older_than_three_days(h: Harness) -> None:
    job_id = await h.park()
    await h.callback()("async", headers(job_id), b"{}")
    h.world.clock.advance(timedelta(days=3, seconds=1).total_seconds())
    assert (await h.reconcile()()).pruned_deliveries == 1


async def test_cancelling_a_parked_job_tells_the_provider_and_releases_credits(h: Harness) -> None:
    job_id = await h.park()
    cancel = CancelJob(
        uow=h.world.uow, clock=h.world.clock, publisher=h.world.events, providers=h.world.registry
    )
    state = await cancel("u1", job_id)
    assert state.status is JobStatus.CANCELLED
    assert h.provider.cancelled == [f"pred_{job_id}"]
    assert (await h.world.balance()("u1")).available == 20


async def test_a_provider_that_fails_to_cancel_does_not_undo_the_cancel(h: Harness) -> None:
    job_id = await h.park()
    h.provider.cancel_error = ProviderUnreachable("down")
    cancel = CancelJob(
        uow=h.world.uow, clock=h.world.clock, publisher=h.world.events, providers=h.world.registry
    )
    assert (await cancel("u1", job_id)).status is JobStatus.CANCELLED
    assert (await h.world.balance()("u1")).available == 20


async def test_a_callback_after_a_cancel_is_ignored(h: Harness) -> None:
    job_id = await h.park()
    await h.world.cancel()("u1", job_id)
    receipt = await h.callback()("async", headers(job_id), b"{}")
    assert receipt.outcome is CallbackOutcome.IGNORED
    assert h.world.queue.items == []


async def test_a_queue_outage_defers_the_resume_to_the_poller_instead_of_failing(h: Harness) -> None:
    job_id = await h.park()

    class DownQueue:
        async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
            raise ConnectionError("redis is down")

    handler = HandleProviderCallback(
        uow=h.world.uow, verifiers={"async": HeaderVerifier()}, queue=DownQueue(), clock=h.world.clock
    )
    receipt = await handler("async", headers(job_id), b"{}")
    assert receipt.outcome is CallbackOutcome.DEFERRED
    h.world.clock.advance(61)
    assert (await h.reconcile()()).resumed == [job_id]


async def test_a_provider_behind_the_fallback_router_is_still_cancelled_and_resumed(h: Harness) -> None:
    from adapters.image_providers.fallback import FallbackProvider

    h.world.extra_providers["async"] = FallbackProvider(
        h.provider, models={}, providers={}, sync_providers=()
    )
    job_id = await h.park()
    h.provider.outcome = ProviderResult(images=(GeneratedImage(data=png()),))
    assert (await h.resume()(job_id)).status is JobStatus.COMPLETED
    parked = await h.park(user="u2")
    cancel = CancelJob(
        uow=h.world.uow, clock=h.world.clock, publisher=h.world.events, providers=h.world.registry
    )
    await cancel("u2", parked)
    assert h.provider.cancelled == [f"pred_{parked}"]


async def test_an_expired_output_url_is_read_again_by_id_before_the_job_gives_up(h: Harness) -> None:
    job_id = await h.park()
    rereads: list[str] = []

    async def refresh() -> ProviderResult:
        rereads.append(job_id)
        return ProviderResult(images=(GeneratedImage(data=png()),))

    h.provider.outcome = ProviderResult(
        images=(GeneratedImage(url="https://replicate.delivery/expired/out-0.png"),), refresh=refresh)
    await h.callback()("async", headers(job_id), b"{}")  # the webhook resumes at once
    await h.drain_resumes()

    job = await h.job(job_id)
    assert rereads == [job_id] and job.status is JobStatus.COMPLETED and len(job.image_ids) == 1
