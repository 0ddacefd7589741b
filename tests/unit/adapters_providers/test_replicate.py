"""Replicate adapter against the documented prediction shapes (providers.md section 4)."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.image_providers.replicate import ReplicateImageProvider, parse_prediction
from application.errors import ProviderUnreachable
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec
from entrypoints.settings import DEFAULT_MODELS, Settings, load_models
from tests.unit.adapters_providers.conftest import _load, request, wire

pytestmark = pytest.mark.unit

API = "https://api.replicate.com/v1"
PRED_ID = "gm3qorzdhgbfurvjtvhg6dckhu"
VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"
TOKEN = "r8_test_SECRET"


@pytest.fixture
def settings() -> Settings:
    models = (
        *load_models(DEFAULT_MODELS),
        ModelSpec(
            name="sdxl-pinned",
            provider="replicate",
            credits_per_image=3,
            upstream_model=f"stability-ai/sdxl:{VERSION}",
            price_micros_per_image=4000,
        ),
    )
    return Settings(
        models=models, replicate_api_token=TOKEN, public_base_url="https://imagegen.example.com"
    )


@pytest.fixture
def replicate(providers) -> ReplicateImageProvider:  # type: ignore[no-untyped-def]
    return providers["replicate"]


def prediction(name: str) -> dict:  # type: ignore[type-arg]
    return _load("replicate")[name]["body"]


async def test_an_official_model_is_created_by_path_with_our_webhook_and_parks(
    replicate, mock
) -> None:
    route = mock.post(f"{API}/models/black-forest-labs/flux-schnell/predictions").mock(
        return_value=wire("replicate", "prediction_created")
    )

    result = await replicate.generate(request("flux-schnell", n=2, seed=7, width=1344, height=768))

    sent = route.calls.last.request
    assert json.loads(sent.content) == {  # the catalog's mapping for this model's schema
        "input": {
            "prompt": "a lighthouse at dusk",
            "aspect_ratio": "16:9",
            "num_outputs": 2,
            "seed": 7,
            "output_format": "png",
        },
        "webhook": "https://imagegen.example.com/webhooks/replicate",
        "webhook_events_filter": ["completed"],
    }
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert result.pending and result.provider_job_id == PRED_ID


async def test_a_pinned_version_is_created_on_the_predictions_endpoint(replicate, mock) -> None:
    route = mock.post(f"{API}/predictions").mock(
        return_value=wire("replicate", "prediction_created")
    )

    await replicate.generate(request("sdxl-pinned"))

    body = json.loads(route.calls.last.request.content)
    assert body["version"] == VERSION and "seed" not in body["input"]


async def test_the_shipped_community_sdxl_is_created_by_its_pinned_version_never_the_model_route(
        replicate, mock) -> None:
    model_route = mock.post(API + "/models/stability-ai/sdxl/predictions").mock(
        return_value=wire("replicate", "error_404"))
    route = mock.post(f"{API}/predictions").mock(return_value=wire("replicate", "prediction_created"))
    source = b"\x89PNG\r\n\x1a\nsource"

    await replicate.generate(request("sdxl", n=2, seed=3, input_images=(source,)))

    body = json.loads(route.calls.last.request.content)
    assert body["version"] == "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
    assert body["input"]["num_outputs"] == 2 and body["input"]["width"] == 1024
    assert body["input"]["image"].startswith("data:image/png;base64,")
    assert not model_route.called


async def test_a_404_on_create_is_a_retired_model_not_the_users_request(replicate, mock) -> None:
    mock.post(f"{API}/predictions").mock(return_value=wire("replicate", "error_404"))

    with pytest.raises(JobFailure) as caught:
        await replicate.generate(request("sdxl"))

    assert caught.value.error_class is ErrorClass.MODEL_UNAVAILABLE
    assert caught.value.error_class.operator_fault and "stability-ai/sdxl" in caught.value.message


@pytest.mark.parametrize(
    ("fixture", "error_class"),
    [
        ("error_401", ErrorClass.AUTH),
        ("error_402", ErrorClass.PROVIDER_QUOTA),
        ("error_422", ErrorClass.INVALID_REQUEST),
        ("error_404", ErrorClass.MODEL_UNAVAILABLE),
        ("error_500", ErrorClass.PROVIDER_UNAVAILABLE),
        ("error_429", ErrorClass.RATE_LIMITED),
    ],
)
async def test_create_errors_are_classified(
    replicate, mock, fixture: str, error_class: ErrorClass
) -> None:
    mock.post(f"{API}/predictions").mock(
        return_value=wire("replicate", fixture)
    )

    with pytest.raises(JobFailure) as caught:
        await replicate.generate(request("sdxl"))

    assert caught.value.error_class is error_class
    assert TOKEN not in caught.value.message


async def test_a_throttled_create_waits_as_long_as_the_detail_says(replicate, mock) -> None:
    mock.post(f"{API}/predictions").mock(
        return_value=wire("replicate", "error_429")
    )
    with pytest.raises(JobFailure) as caught:
        await replicate.generate(request("sdxl"))
    assert caught.value.retry_after_s == 30.0


async def test_a_retry_after_header_wins_over_the_detail_text(replicate, mock) -> None:
    mock.post(f"{API}/predictions").mock(
        return_value=wire("replicate", "error_429", **{"retry-after": "12"})
    )
    with pytest.raises(JobFailure) as caught:
        await replicate.generate(request("sdxl"))
    assert caught.value.retry_after_s == 12.0


async def test_a_refused_connection_proves_nothing_ran(replicate, mock) -> None:
    mock.post(f"{API}/predictions").mock(
        side_effect=httpx.ConnectError("refused")
    )
    with pytest.raises(JobFailure) as caught:
        await replicate.generate(request("sdxl"))
    assert caught.value.error_class is ErrorClass.PROVIDER_UNAVAILABLE


async def test_a_succeeded_prediction_yields_its_output_urls_priced_from_the_table(
    replicate, mock
) -> None:
    mock.get(f"{API}/predictions/{PRED_ID}").mock(
        return_value=wire("replicate", "prediction_succeeded")
    )

    result = await replicate.fetch_result(PRED_ID, model="sdxl")

    assert result is not None
    assert [i.url for i in result.images] == ["https://replicate.delivery/xezq/abc123/out-0.png"]
    assert result.cost_micros == 4000


async def test_a_running_prediction_has_no_result_yet(replicate, mock) -> None:
    mock.get(f"{API}/predictions/{PRED_ID}").mock(
        return_value=wire("replicate", "prediction_processing")
    )
    assert await replicate.fetch_result(PRED_ID, model="sdxl") is None


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_read_that_cannot_be_answered_now_is_unreachable_not_a_job_failure(
    replicate, mock, status
) -> None:
    mock.get(f"{API}/predictions/{PRED_ID}").mock(
        return_value=httpx.Response(status, json={"detail": "x"})
    )
    with pytest.raises(ProviderUnreachable):
        await replicate.fetch_result(PRED_ID, model="sdxl")


async def test_cancel_posts_to_the_cancel_endpoint(replicate, mock) -> None:
    route = mock.post(f"{API}/predictions/{PRED_ID}/cancel").mock(
        return_value=wire("replicate", "prediction_canceled")
    )
    await replicate.cancel(PRED_ID)
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("fixture", "error_class"),
    [
        ("prediction_failed_nsfw", ErrorClass.CONTENT_POLICY),
        ("prediction_failed_cuda", ErrorClass.PROVIDER_UNAVAILABLE),
        ("prediction_canceled", ErrorClass.CANCELLED),
        ("prediction_aborted", ErrorClass.TIMEOUT),
    ],
)
def test_terminal_failures_are_classified(fixture: str, error_class: ErrorClass) -> None:
    with pytest.raises(JobFailure) as caught:
        parse_prediction(prediction(fixture))
    assert caught.value.error_class is error_class


def test_a_single_url_output_is_one_image() -> None:
    result = parse_prediction(prediction("prediction_succeeded_single_url"))
    assert result is not None and len(result.images) == 1


def test_a_success_without_output_is_invalid_output() -> None:
    with pytest.raises(JobFailure) as caught:
        parse_prediction({**prediction("prediction_succeeded"), "output": None})
    assert caught.value.error_class is ErrorClass.INVALID_OUTPUT


def test_no_replicate_provider_is_wired_without_a_token(http_client, clock) -> None:  # type: ignore[no-untyped-def]
    from entrypoints.provider_wiring import build_providers

    assert "replicate" not in build_providers(
        Settings(models=load_models(DEFAULT_MODELS)), clock, http_client
    )


async def test_a_result_rereads_the_prediction_by_id_for_fresh_urls(replicate, mock) -> None:
    route = mock.get(f"{API}/predictions/{PRED_ID}").mock(
        return_value=wire("replicate", "prediction_succeeded"))

    result = await replicate.fetch_result(PRED_ID, model="sdxl")
    assert result is not None and result.refresh is not None and route.call_count == 1
    fresh = await result.refresh()

    assert route.call_count == 2 and fresh is not None and fresh.images == result.images


async def test_a_prediction_whose_files_were_deleted_fails_as_invalid_output(replicate, mock) -> None:
    mock.get(f"{API}/predictions/{PRED_ID}").mock(
        return_value=wire("replicate", "prediction_succeeded_data_removed"))

    with pytest.raises(JobFailure) as caught:
        await replicate.fetch_result(PRED_ID, model="sdxl")
    assert caught.value.error_class is ErrorClass.INVALID_OUTPUT and "deleted" in caught.value.message
