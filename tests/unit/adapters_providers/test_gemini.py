"""Gemini image adapter against the documented wire shapes (providers.md section 2)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from application.ports import EditTurn
from domain.failures import ErrorClass, JobFailure
from entrypoints.settings import DEFAULT_MODELS, Settings, load_models
from tests.unit.adapters_providers.conftest import GEMINI_URL, KEYS, fixture_png, request, wire

pytestmark = pytest.mark.unit

MODEL = "gemini-3.1-flash-image"


@pytest.fixture
def settings() -> Settings:
    """Gemini alone, so a failure is not rescued by the OpenRouter fallback."""
    return Settings(models=load_models(DEFAULT_MODELS), gemini_api_key=KEYS["gemini_api_key"])


async def fail(provider, req) -> JobFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(JobFailure) as caught:
        await provider.generate(req)
    return caught.value


async def test_a_generation_posts_generate_content_and_prices_image_tokens(providers, mock) -> None:
    route = mock.post(GEMINI_URL).mock(return_value=wire("gemini", "generate_one_image"))

    result = await providers["gemini"].generate(request(MODEL, seed=7))

    sent = route.calls.last.request
    assert sent.headers["x-goog-api-key"] == KEYS["gemini_api_key"]
    assert "authorization" not in sent.headers
    assert json.loads(sent.content) == {
        "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dusk"}]}],
        "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "1:1"},
                             "seed": 7}}
    assert [i.data for i in result.images] == [fixture_png("gemini", "generate_one_image")]
    # 12 text tokens x $0.50/1M + 1290 image tokens x $60/1M + 800 thinking tokens billed as
    # text output x $3/1M = 6 + 77400 + 2400 = 79806 micro-dollars (thinking is not free)
    assert result.cost_micros == 79_806


async def test_every_inline_image_part_is_returned(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "generate_two_images"))

    result = await providers["gemini"].generate(request(MODEL))

    assert [i.data for i in result.images] == [fixture_png("gemini", "generate_two_images", k) for k in (0, 1)]


async def test_an_edit_sends_the_input_image_inline_with_the_nearest_aspect_ratio(providers, mock) -> None:
    route = mock.post(GEMINI_URL).mock(return_value=wire("gemini", "generate_one_image"))
    source = fixture_png("openai", "generation_b64_gpt_image")

    await providers["gemini"].generate(request(MODEL, width=832, height=1248, input_images=(source,)))

    body = json.loads(route.calls.last.request.content)
    assert body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(source).decode()}}
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "2:3"}


async def test_a_mask_is_refused_without_calling_gemini(providers, mock) -> None:
    route = mock.post(GEMINI_URL)

    failure = await fail(providers["gemini"], request(MODEL, input_images=(b"x",), mask=b"m"))

    assert failure.error_class is ErrorClass.INVALID_REQUEST
    assert not route.called


@pytest.mark.parametrize(("fixture", "reason"), [
    ("prompt_blocked", "PROHIBITED_CONTENT"),
    ("finish_image_safety", "IMAGE_SAFETY"),
])
async def test_a_200_without_an_image_is_a_content_policy_failure(providers, mock, fixture: str,
                                                                  reason: str) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", fixture))

    failure = await fail(providers["gemini"], request(MODEL))

    assert failure.error_class is ErrorClass.CONTENT_POLICY
    assert reason in failure.message


@pytest.mark.parametrize(("fixture", "reason"), [
    ("finish_no_image_text_refusal", "NO_IMAGE"),
    ("finish_max_tokens_no_image", "MAX_TOKENS"),
])
async def test_a_200_without_an_image_and_no_safety_reason_is_an_output_error(
        providers, mock, fixture: str, reason: str) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", fixture))

    failure = await fail(providers["gemini"], request(MODEL))

    assert failure.error_class is ErrorClass.INVALID_OUTPUT
    assert reason in failure.message and "think about" not in failure.message  # no thoughts shown


async def test_a_retired_model_answers_404_not_found_and_is_model_unavailable(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "error_model_not_found"))

    failure = await fail(providers["gemini"], request(MODEL))

    assert failure.error_class is ErrorClass.MODEL_UNAVAILABLE
    assert failure.error_class.operator_fault and not failure.error_class.retryable


async def test_a_multi_turn_edit_sends_earlier_turns_as_contents_history(providers, mock) -> None:
    route = mock.post(GEMINI_URL).mock(return_value=wire("gemini", "generate_one_image"))
    first, second = b"\x89PNG\r\n\x1a\nfirst", b"\x89PNG\r\n\x1a\nsecond"
    history = (EditTurn(prompt="a lighthouse", images=(first,)),
               EditTurn(prompt="make it dusk", images=(second,)))

    await providers["gemini"].generate(request(MODEL, prompt="add a boat", history=history,
                                               input_images=(second,)))

    contents = json.loads(route.calls.last.request.content)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model", "user"]
    assert [c["parts"][0].get("text") for c in contents[::2]] == [
        "a lighthouse", "make it dusk", "add a boat"]
    assert base64.b64decode(contents[3]["parts"][0]["inlineData"]["data"]) == second
    assert contents[4]["parts"] == [{"text": "add a boat"}]  # the parent's image is not repeated


@pytest.mark.parametrize(("fixture", "error_class"), [
    ("error_invalid_argument", ErrorClass.INVALID_REQUEST),
    ("error_permission_denied", ErrorClass.AUTH),
    ("error_api_key_invalid", ErrorClass.AUTH),
    ("error_daily_quota", ErrorClass.PROVIDER_QUOTA),
    ("error_unavailable", ErrorClass.PROVIDER_UNAVAILABLE),
    ("error_internal_wrapped_in_list", ErrorClass.PROVIDER_UNAVAILABLE),
])
async def test_documented_errors_map_to_their_class(providers, mock, fixture: str,
                                                    error_class: ErrorClass) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", fixture))

    failure = await fail(providers["gemini"], request(MODEL))

    assert failure.error_class is error_class


async def test_a_per_minute_limit_waits_for_the_retry_info_delay(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "error_rate_limited_per_minute"))

    failure = await fail(providers["gemini"], request(MODEL))

    assert (failure.error_class, failure.retry_after_s) == (ErrorClass.RATE_LIMITED, 37.0)


async def test_a_daily_quota_is_not_retryable(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "error_daily_quota"))

    failure = await fail(providers["gemini"], request(MODEL))

    assert failure.error_class.retryable is False


async def test_a_504_and_a_read_timeout_are_timeouts_of_unknown_outcome(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(side_effect=[
        httpx.Response(504, json={"error": {"code": 504, "message": "Deadline expired",
                                            "status": "DEADLINE_EXCEEDED"}}),
        httpx.ReadTimeout("read timed out")])

    first = await fail(providers["gemini"], request(MODEL))
    second = await fail(providers["gemini"], request(MODEL))

    assert [(f.error_class, f.unknown_outcome) for f in (first, second)] == [(ErrorClass.TIMEOUT, True)] * 2
