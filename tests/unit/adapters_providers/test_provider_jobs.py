"""Real provider adapters through ProcessGeneration: Retry-After, 5xx retries, timeouts, fallbacks."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from adapters.image_providers.fallback import FallbackProvider
from adapters.image_providers.gemini import GeminiImageProvider
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.openai import OpenAIImageProvider
from application.commands import SubmitJob
from domain.jobs import JobStatus
from domain.pricing import ModelSpec, TokenPrices
from tests.unit.adapters_providers.conftest import GEMINI_URL, OPENAI_URL, wire
from tests.unit.application.conftest import World

pytestmark = pytest.mark.unit

# "unkeyed" is the World catalog's openai model (5 credits an image); here it is gpt-image-1.
SPEC = ModelSpec(name="unkeyed", provider="openai", upstream_model="gpt-image-2", credits_per_image=5,
                 price_micros_per_image=42_000,
                 token_prices=TokenPrices(text_input=5_000_000, image_output=40_000_000))
OK = "generation_b64_gpt_image"  # costs 42_490 micro-dollars by its usage


@pytest.fixture
def world(tmp_path, http_client) -> World:  # type: ignore[no-untyped-def]
    world = World(tmp=tmp_path)
    world.extra_providers["openai"] = OpenAIImageProvider(
        api_key="sk-test", client=http_client, models={"unkeyed": SPEC}, clock=world.clock)
    return world


async def submit(world: World) -> str:
    await world.grant()("u1", 10)
    result = await world.submit()(SubmitJob(user_id="u1", prompt="p", model="unkeyed", size="64x48"))
    return result.job.id


async def drain(world: World) -> list[float]:
    """Run the queue like a worker, advancing the fake clock by each delay; return the delays."""
    delays, process = [], world.process()
    while world.queue.items:
        job_id, delay = world.queue.items.pop(0)
        delays.append(delay)
        world.clock.advance(delay)
        await process(job_id)
    return delays


async def test_a_rate_limited_job_waits_out_retry_after_before_the_next_call(world, mock) -> None:
    route = mock.post(OPENAI_URL).mock(side_effect=[
        wire("openai", "error_rate_limit", **{"retry-after": "30"}), wire("openai", OK)])
    job_id = await submit(world)
    started = world.clock.now()
    world.queue.items.clear()

    await world.process()(job_id)
    assert world.queue.items == [(job_id, 30.0)]
    world.clock.advance(29)
    assert await world.process()(job_id) is None  # not due yet: the provider is not called
    assert route.call_count == 1
    world.clock.advance(1)
    job = await world.process()(job_id)

    assert (job.status, job.attempts, route.call_count) == (JobStatus.COMPLETED, 2, 2)
    assert (world.clock.now() - started).total_seconds() == 30
    assert (job.charged_credits, job.provider_cost_micros) == (5, 42_490)


async def test_server_errors_are_retried_with_backoff_then_succeed(world, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=[
        wire("openai", "error_server"), wire("openai", "error_overloaded"), wire("openai", OK)])
    job_id = await submit(world)

    delays = await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    assert delays == [0.0, 2.0, 4.0]
    assert (job.status, job.attempts, job.charged_credits) == (JobStatus.COMPLETED, 3, 5)


async def test_a_read_timeout_is_retried_once_and_a_second_one_fails_and_refunds(world, mock) -> None:
    route = mock.post(OPENAI_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    job_id = await submit(world)

    delays = await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    balance = await world.balance()("u1")
    assert (delays, route.call_count) == ([0.0, 2.0], 2)
    assert (job.status, job.error_class) == (JobStatus.FAILED, "timeout")
    assert (balance.available, balance.reserved) == (10, 0)


async def test_a_read_timeout_then_success_completes(world, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=[httpx.ReadTimeout("read timed out"), wire("openai", OK)])
    job_id = await submit(world)

    await drain(world)

    assert (await world.get_job()("u1", job_id)).job.status is JobStatus.COMPLETED


async def test_a_read_timeout_after_another_retry_is_not_retried(world, mock) -> None:
    route = mock.post(OPENAI_URL).mock(side_effect=[
        wire("openai", "error_overloaded"), httpx.ReadTimeout("read timed out"), wire("openai", OK)])
    job_id = await submit(world)

    await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.error_class, route.call_count) == (JobStatus.FAILED, "timeout", 2)


async def test_an_output_stage_block_fails_refunds_and_records_the_provider_cost(world, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_moderation_blocked_output"))
    job_id = await submit(world)

    await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.error_class, job.provider_cost_micros) == (
        JobStatus.FAILED, "content_policy", 42_000)
    assert (await world.balance()("u1")).available == 10


async def test_a_fallback_serves_the_job_and_charges_no_more_than_the_reservation(world, mock) -> None:
    models = {"unkeyed": ModelSpec(name="unkeyed", provider="openai", credits_per_image=5,
                                   fallbacks=("local",)),
              "local": ModelSpec(name="local", provider="local", credits_per_image=1)}
    primary = world.extra_providers["openai"]
    world.extra_providers["openai"] = FallbackProvider(
        primary, models=models, providers={"local": LocalImageProvider(clock=world.clock)},
        sync_providers={"local"})
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_overloaded"))
    job_id = await submit(world)

    delays = await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    balance = await world.balance()("u1")
    assert (delays, job.status, job.attempts) == ([0.0], JobStatus.COMPLETED, 1)
    assert (job.charged_credits, balance.available, balance.lifetime_spent) == (5, 5, 5)


async def test_a_job_naming_a_parent_sends_the_parents_image_to_gemini_inline(world, mock,
                                                                              http_client) -> None:
    spec = ModelSpec(name="unkeyed", provider="openai", upstream_model="gemini-3.1-flash-image",
                     credits_per_image=5)
    world.extra_providers["openai"] = GeminiImageProvider(  # the World routes "unkeyed" here
        api_key="gm", client=http_client, models={"unkeyed": spec}, clock=world.clock, name="openai")
    route = mock.post(GEMINI_URL).mock(return_value=wire("gemini", "generate_one_image"))
    await world.grant()("u1", 10)
    parent = await world.submit()(SubmitJob(user_id="u1", prompt="a boat", model="local", size="64x48"))
    await drain(world)
    async with world.uow() as uow:
        record = (await uow.images.for_job(parent.job.id))[0]
    parent_png = await world.storage.get(record.key)

    child = await world.submit()(SubmitJob(user_id="u1", prompt="make it red", model="unkeyed",
                                           size="64x48", parent_job_id=parent.job.id))
    await drain(world)

    parts = json.loads(route.calls.last.request.content)["contents"][0]["parts"]
    assert parts[0] == {"text": "make it red"}
    assert base64.b64decode(parts[1]["inlineData"]["data"]) == parent_png
    assert (await world.get_job()("u1", child.job.id)).job.status is JobStatus.COMPLETED


async def test_a_retired_model_fails_the_job_as_model_unavailable_refunded_and_logged_as_error(
        world, mock) -> None:
    from structlog.testing import capture_logs

    from entrypoints.job_log import log_processed
    import structlog

    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_model_retired"))
    job_id = await submit(world)

    delays = await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    balance = await world.balance()("u1")
    assert (delays, job.status, job.error_class, route.call_count) == (
        [0.0], JobStatus.FAILED, "model_unavailable", 1)  # not retried: the model is gone
    assert (job.charged_credits, balance.available) == (0, 10)  # refunded, not the user's fault
    assert job.error_class != "invalid_request" and "deprecated" in (job.error_message or "")
    with capture_logs() as logs:
        log_processed(structlog.get_logger("test"), job)
    assert logs[0]["log_level"] == "error" and logs[0]["error_class"] == "model_unavailable"


async def test_a_retired_model_falls_back_where_the_catalog_says(world, mock) -> None:
    models = {"unkeyed": ModelSpec(name="unkeyed", provider="openai", credits_per_image=5,
                                   fallbacks=("local",)),
              "local": ModelSpec(name="local", provider="local", credits_per_image=1)}
    world.extra_providers["openai"] = FallbackProvider(
        world.extra_providers["openai"], models=models,
        providers={"local": LocalImageProvider(clock=world.clock)}, sync_providers={"local"})
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_model_retired"))
    job_id = await submit(world)

    await drain(world)

    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.attempts, job.charged_credits) == (JobStatus.COMPLETED, 1, 5)


async def test_failed_jobs_are_counted_by_error_class_with_operator_faults_marked() -> None:
    from datetime import UTC, datetime

    from adapters.metrics.prometheus import PrometheusMetrics
    from domain.jobs import JobStatusChanged

    metrics = PrometheusMetrics()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    await metrics.observe_events([JobStatusChanged(
        job_id="j", user_id="u", status=JobStatus.FAILED, progress_percent=20, current_step="x",
        occurred_at=now, error_class="model_unavailable")])

    value = metrics.registry.get_sample_value(
        "imagegen_job_failures_total", {"error_class": "model_unavailable", "operator": "true"})
    assert value == 1.0
