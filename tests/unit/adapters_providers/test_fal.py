"""fal queue adapter against the documented queue shapes (providers.md section 5)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.image_providers.fal import FalImageProvider
from application.errors import ProviderUnreachable
from domain.failures import ErrorClass, JobFailure
from domain.model_mapping import RequestMapping
from domain.pricing import ModelSpec
from entrypoints.settings import DEFAULT_MODELS, Settings, load_models
from tests.unit.adapters_providers.conftest import request, wire

pytestmark = pytest.mark.unit

QUEUE = "https://queue.fal.run"
RID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
KEY = "fal-key-SECRET"
REQUESTS = f"{QUEUE}/fal-ai/flux/requests/{RID}"  # owner/app only, without the sub-path


@pytest.fixture
def settings() -> Settings:
    models = (
        *load_models(DEFAULT_MODELS),
        ModelSpec(
            name="flux-dev",
            provider="fal",
            upstream_model="fal-ai/flux/dev",
            credits_per_image=2,
            price_micros_per_image=25000,
            max_n=4,
            mapping=RequestMapping(size_style="image_size", n="num_images"),
        ),
    )
    return Settings(models=models, fal_api_key=KEY, public_base_url="https://imagegen.example.com")


@pytest.fixture
def fal(providers) -> FalImageProvider:  # type: ignore[no-untyped-def]
    return providers["fal"]


async def test_submit_posts_the_input_with_our_webhook_and_parks_on_the_request_id(
    fal, mock
) -> None:
    route = mock.post(url__startswith=f"{QUEUE}/fal-ai/flux/dev").mock(
        return_value=wire("fal", "submitted")
    )

    result = await fal.generate(request("flux-dev", n=2, seed=42, width=1024, height=768))

    sent = route.calls.last.request
    assert urlsplit(str(sent.url)).path == "/fal-ai/flux/dev"
    assert parse_qs(urlsplit(str(sent.url)).query) == {
        "fal_webhook": ["https://imagegen.example.com/webhooks/fal"]
    }
    assert json.loads(sent.content) == {
        "prompt": "a lighthouse at dusk",
        "num_images": 2,
        "seed": 42,
        "image_size": {"width": 1024, "height": 768},
    }
    assert sent.headers["authorization"] == f"Key {KEY}"
    assert result.pending and result.provider_job_id == RID


@pytest.mark.parametrize(
    ("fixture", "error_class"),
    [
        ("error_401", ErrorClass.AUTH),
        ("error_model_422", ErrorClass.INVALID_REQUEST),
        ("error_content_422", ErrorClass.CONTENT_POLICY),
        ("error_503_runner", ErrorClass.PROVIDER_UNAVAILABLE),
        ("error_504_timeout", ErrorClass.TIMEOUT),
    ],
)
async def test_submit_errors_are_classified(
    fal, mock, fixture: str, error_class: ErrorClass
) -> None:
    mock.post(url__startswith=f"{QUEUE}/fal-ai/flux/dev").mock(return_value=wire("fal", fixture))
    with pytest.raises(JobFailure) as caught:
        await fal.generate(request("flux-dev"))
    assert caught.value.error_class is error_class
    assert KEY not in caught.value.message


@pytest.mark.parametrize("fixture", ["status_in_queue", "status_in_progress"])
async def test_a_queued_or_running_request_has_no_result_yet(fal, mock, fixture: str) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", fixture))
    assert await fal.fetch_result(RID, model="flux-dev") is None


async def test_a_completed_request_yields_the_result_image_urls(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "status_completed"))
    mock.get(REQUESTS).mock(return_value=wire("fal", "result"))

    result = await fal.fetch_result(RID, model="flux-dev")

    assert result is not None
    assert [i.url for i in result.images] == ["https://v3.fal.media/files/rabbit/abc_out.png"]
    assert result.cost_micros == 25000


async def test_a_completed_request_with_an_error_fails_by_its_error_type(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "status_completed_error"))
    with pytest.raises(JobFailure) as caught:
        await fal.fetch_result(RID, model="flux-dev")
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_a_result_that_is_a_model_error_fails_the_job(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "status_completed"))
    mock.get(REQUESTS).mock(return_value=wire("fal", "error_content_422"))
    with pytest.raises(JobFailure) as caught:
        await fal.fetch_result(RID, model="flux-dev")
    assert caught.value.error_class is ErrorClass.CONTENT_POLICY


async def test_an_unreachable_queue_is_not_a_job_failure(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(ProviderUnreachable):
        await fal.fetch_result(RID, model="flux-dev")


async def test_cancel_puts_to_the_cancel_url_of_the_app(fal, mock) -> None:
    route = mock.put(f"{REQUESTS}/cancel").mock(return_value=wire("fal", "cancel_ok"))
    await fal.cancel(RID, model="flux-dev")
    assert route.call_count == 1


@pytest.mark.parametrize(("endpoint", "root"), [
    ("fal-ai/flux/dev", "fal-ai/flux"),
    ("fal-ai/flux-pro/v1.1-ultra/redux", "fal-ai/flux-pro"),
    ("workflows/acme/upscale-and-fix", "workflows/acme/upscale-and-fix"),
    ("workflows/acme/upscale/v2", "workflows/acme/upscale"),
    ("comfy/acme/sdxl-turbo", "comfy/acme/sdxl-turbo"),
])
def test_request_urls_are_built_as_fal_client_builds_them(endpoint: str, root: str) -> None:
    from adapters.image_providers.fal import app_root

    assert app_root(endpoint) == root


async def test_a_namespaced_workflow_is_polled_under_its_namespace(fal, mock, settings) -> None:  # type: ignore[no-untyped-def]
    fal._models["wf"] = ModelSpec(name="wf", provider="fal", credits_per_image=1,
                                  upstream_model="workflows/acme/upscale-and-fix")
    route = mock.get(f"{QUEUE}/workflows/acme/upscale-and-fix/requests/{RID}/status").mock(
        return_value=wire("fal", "status_in_progress"))

    assert await fal.fetch_result(RID, model="wf") is None
    assert route.call_count == 1


async def test_an_ingress_504_on_a_poll_means_poll_again_not_a_timed_out_job(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "error_504_ingress"))

    with pytest.raises(ProviderUnreachable):
        await fal.fetch_result(RID, model="flux-dev")


async def test_a_typed_504_request_timeout_on_a_poll_is_still_the_requests_timeout(fal, mock) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "error_504_timeout"))

    with pytest.raises(JobFailure) as caught:
        await fal.fetch_result(RID, model="flux-dev")
    assert caught.value.error_class is ErrorClass.TIMEOUT


@pytest.mark.parametrize("fixture", ["result_content_policy", "result_typed_error_200"])
async def test_a_content_policy_error_typed_in_the_result_body_is_content_policy(
        fal, mock, fixture: str) -> None:
    mock.get(f"{REQUESTS}/status").mock(return_value=wire("fal", "status_completed"))
    mock.get(REQUESTS).mock(return_value=wire("fal", fixture))

    with pytest.raises(JobFailure) as caught:
        await fal.fetch_result(RID, model="flux-dev")
    assert caught.value.error_class is ErrorClass.CONTENT_POLICY


async def test_a_404_on_submit_is_a_retired_endpoint(fal, mock) -> None:
    mock.post(url__startswith=f"{QUEUE}/fal-ai/flux/dev").mock(
        return_value=wire("fal", "error_404_endpoint"))

    with pytest.raises(JobFailure) as caught:
        await fal.generate(request("flux-dev"))
    assert caught.value.error_class is ErrorClass.MODEL_UNAVAILABLE
