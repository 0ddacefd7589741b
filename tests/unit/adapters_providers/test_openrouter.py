"""OpenRouter adapter against the documented wire shapes (providers.md section 3)."""

from __future__ import annotations

import json

import httpx
import pytest

from domain.failures import ErrorClass, JobFailure
from tests.unit.adapters_providers.conftest import KEYS, OPENROUTER_URL, fixture_png, request, wire

pytestmark = pytest.mark.unit

MODEL = "openrouter-gemini-3.1-flash-image"


async def fail(provider, req) -> JobFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(JobFailure) as caught:
        await provider.generate(req)
    return caught.value


async def test_a_generation_asks_for_image_output_and_records_usage_cost(providers, mock) -> None:
    route = mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "image_one"))

    result = await providers["openrouter"].generate(request(MODEL))

    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert sent.headers["authorization"] == f"Bearer {KEYS['openrouter_api_key']}"
    assert body["model"] == "google/gemini-3.1-flash-image"
    assert body["modalities"] == ["image", "text"]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "a lighthouse at dusk"}]}]
    assert body["image_config"] == {"aspect_ratio": "1:1"}
    assert result.images[0].url.startswith("data:image/png;base64,")
    assert result.cost_micros == 38_712  # usage.cost 0.038712 USD


async def test_several_images_come_back_as_data_urls(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "image_two"))

    result = await providers["openrouter"].generate(request(MODEL))

    assert len(result.images) == 2
    assert result.cost_micros == round(0.0774245 * 1_000_000)


async def test_an_edit_sends_the_input_image_as_a_data_url(providers, mock) -> None:
    route = mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "image_one"))
    source = fixture_png("openrouter", "image_one")

    await providers["openrouter"].generate(request(MODEL, input_images=(source,)))

    content = json.loads(route.calls.last.request.content)["messages"][0]["content"]
    assert content[1]["type"] == "image_url"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


async def test_an_error_inside_a_200_body_is_an_error_classified_by_its_code(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_in_200"))

    failure = await fail(providers["openrouter"], request(MODEL))

    assert failure.error_class is ErrorClass.PROVIDER_UNAVAILABLE
    assert failure.message.startswith("openrouter 502:")


@pytest.mark.parametrize(("fixture", "error_class"), [
    ("error_moderation", ErrorClass.CONTENT_POLICY),
    ("error_bad_request", ErrorClass.INVALID_REQUEST),
    ("error_bad_key", ErrorClass.AUTH),
    ("error_insufficient_credits", ErrorClass.PROVIDER_QUOTA),
    ("error_upstream_down", ErrorClass.PROVIDER_UNAVAILABLE),
    ("error_no_provider", ErrorClass.PROVIDER_UNAVAILABLE),
])
async def test_documented_errors_map_to_their_class(providers, mock, fixture: str,
                                                    error_class: ErrorClass) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", fixture))

    failure = await fail(providers["openrouter"], request(MODEL))

    assert failure.error_class is error_class


async def test_a_moderation_block_names_the_reasons(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_moderation"))

    failure = await fail(providers["openrouter"], request(MODEL))

    assert "violence" in failure.message


async def test_a_rate_limit_carries_retry_after(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_rate_limited", **{"retry-after": "7"}))

    failure = await fail(providers["openrouter"], request(MODEL))

    assert (failure.error_class, failure.retry_after_s) == (ErrorClass.RATE_LIMITED, 7.0)


async def test_a_408_is_a_timeout_of_unknown_outcome(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_timeout"))

    failure = await fail(providers["openrouter"], request(MODEL))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.TIMEOUT, True)


async def test_a_reply_without_an_image_is_invalid_output_unless_filtered(providers, mock) -> None:
    text_only = {"id": "gen-1", "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": "I can't."}}]}
    filtered = {"id": "gen-2", "choices": [{"index": 0, "finish_reason": "content_filter",
                                            "message": {"role": "assistant", "content": None}}]}
    mock.post(OPENROUTER_URL).mock(side_effect=[httpx.Response(200, json=text_only),
                                                httpx.Response(200, json=filtered)])

    first = await fail(providers["openrouter"], request(MODEL))
    second = await fail(providers["openrouter"], request(MODEL))

    assert (first.error_class, second.error_class) == (ErrorClass.INVALID_OUTPUT, ErrorClass.CONTENT_POLICY)


async def test_an_image_only_model_asks_for_image_modality_only(providers, mock) -> None:
    route = mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "image_one"))

    await providers["openrouter"].generate(request("openrouter-flux-2-pro"))

    sent = json.loads(route.calls.last.request.content)
    assert (sent["model"], sent["modalities"]) == ("black-forest-labs/flux.2-pro", ["image"])


async def test_no_endpoint_for_the_model_is_model_unavailable(providers, mock) -> None:
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_no_endpoints"))

    with pytest.raises(JobFailure) as caught:
        await providers["openrouter"].generate(request("openrouter-gemini-3.1-flash-image"))
    assert caught.value.error_class is ErrorClass.MODEL_UNAVAILABLE
