"""OpenAI Images adapter against the documented wire shapes (providers.md section 1)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from domain.failures import ErrorClass, JobFailure
from tests.unit.adapters_providers.conftest import (
    KEYS, OPENAI_EDITS_URL, OPENAI_URL, fixture_png, request, wire,
)

pytestmark = pytest.mark.unit


async def fail(provider, req) -> JobFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(JobFailure) as caught:
        await provider.generate(req)
    return caught.value


async def test_a_gpt_image_generation_sends_the_model_and_prices_the_reported_usage(providers, mock) -> None:
    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_b64_gpt_image",
                                                         **{"x-request-id": "req_abc"}))

    result = await providers["openai"].generate(request("gpt-image-1"))

    sent = route.calls.last.request
    assert json.loads(sent.content) == {"model": "gpt-image-1", "prompt": "a lighthouse at dusk",
                                        "n": 1, "size": "1024x1024", "user": "u" * 32}
    assert sent.headers["authorization"] == f"Bearer {KEYS['openai_api_key']}"
    assert [i.data for i in result.images] == [fixture_png("openai", "generation_b64_gpt_image")]
    # 50 text tokens at $5/1M + 1056 image tokens at $40/1M = $0.04249
    assert result.cost_micros == 42_490


async def test_several_images_are_returned_and_priced_by_token_kind(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_two_images_with_output_details"))

    result = await providers["openai"].generate(request("gpt-image-1", n=2))

    assert [i.data for i in result.images] == [
        fixture_png("openai", "generation_two_images_with_output_details", k) for k in (0, 1)]
    # 20 text in x $5 + 40 image in x $10 + 544 image out x $40 (per 1M) = 100 + 400 + 21760
    assert result.cost_micros == 22_260


async def test_dall_e_asks_for_base64_and_a_url_answer_is_passed_on_for_the_guarded_fetcher(
        providers, mock) -> None:
    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_url_dalle3"))

    result = await providers["openai"].generate(request("dall-e-3"))

    assert json.loads(route.calls.last.request.content)["response_format"] == "b64_json"
    assert result.images[0].data is None
    assert result.images[0].url.startswith("https://oaidalleapiprodscus.blob.core.windows.net/")
    assert result.cost_micros == 40_000  # no usage from dall-e: the per-image table


async def test_an_edit_posts_multipart_with_the_image_and_mask(providers, mock) -> None:
    route = mock.post(OPENAI_EDITS_URL).mock(return_value=wire("openai", "generation_b64_gpt_image"))
    source = fixture_png("gemini", "generate_one_image")

    await providers["openai"].generate(request("gpt-image-1", input_images=(source,), mask=b"\x89PNGmask"))

    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="image"; filename="image0.png"' in sent.content
    assert b'name="mask"; filename="mask.png"' in sent.content
    assert source in sent.content
    assert b'name="model"\r\n\r\ngpt-image-1' in sent.content


async def test_several_edit_inputs_use_the_bracketed_field(providers, mock) -> None:
    route = mock.post(OPENAI_EDITS_URL).mock(return_value=wire("openai", "generation_b64_gpt_image"))
    source = fixture_png("gemini", "generate_one_image")

    await providers["openai"].generate(request("gpt-image-1", input_images=(source, source)))

    assert route.calls.last.request.content.count(b'name="image[]"') == 2


@pytest.mark.parametrize(("fixture", "cost"), [
    ("error_content_policy_violation", 0),
    ("error_moderation_blocked_input", 0),
    ("error_moderation_blocked_output", 42_000),  # the model ran: its table price is recorded
])
async def test_safety_blocks_are_content_policy_and_an_output_stage_block_records_cost(
        providers, mock, fixture: str, cost: int) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", fixture))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert (failure.error_class, failure.provider_cost_micros) == (ErrorClass.CONTENT_POLICY, cost)
    assert "safety system" in failure.message


@pytest.mark.parametrize(("fixture", "error_class"), [
    ("error_invalid_request", ErrorClass.INVALID_REQUEST),
    ("error_unknown_model", ErrorClass.INVALID_REQUEST),
    ("error_organization_not_verified", ErrorClass.AUTH),
    ("error_invalid_api_key", ErrorClass.AUTH),
    ("error_unsupported_region", ErrorClass.AUTH),
    ("error_insufficient_quota", ErrorClass.PROVIDER_QUOTA),
    ("error_server", ErrorClass.PROVIDER_UNAVAILABLE),
    ("error_overloaded", ErrorClass.PROVIDER_UNAVAILABLE),
])
async def test_documented_errors_map_to_their_class(providers, mock, fixture: str,
                                                    error_class: ErrorClass) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", fixture))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert failure.error_class is error_class
    assert failure.message.startswith("openai ")


async def test_429_insufficient_quota_is_not_retryable_but_a_rate_limit_is(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=[
        wire("openai", "error_insufficient_quota", **{"retry-after": "5"}),
        wire("openai", "error_rate_limit", **{"retry-after": "5"})])

    quota = await fail(providers["openai"], request("gpt-image-1"))
    limited = await fail(providers["openai"], request("gpt-image-1"))

    assert (quota.error_class, quota.error_class.retryable) == (ErrorClass.PROVIDER_QUOTA, False)
    assert (limited.error_class, limited.retry_after_s) == (ErrorClass.RATE_LIMITED, 5.0)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after-ms": "1500", "retry-after": "20"}, 1.5),
    ({"retry-after": "20"}, 20.0),
    ({"retry-after": "Wed, 01 Jan 2025 00:00:42 GMT"}, 42.0),  # the fake clock starts at 00:00:00
    ({}, None),
])
async def test_a_rate_limit_carries_retry_after_ms_then_retry_after(providers, mock, headers,
                                                                    expected) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_rate_limit", **headers))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert (failure.error_class, failure.retry_after_s) == (ErrorClass.RATE_LIMITED, expected)


async def test_a_refused_connection_is_provider_unavailable(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.PROVIDER_UNAVAILABLE, False)


async def test_a_read_timeout_is_a_timeout_of_unknown_outcome(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.TIMEOUT, True)
    assert "billed" in failure.message


async def test_a_408_is_a_plain_timeout(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=httpx.Response(408, json={"error": {"message": "timeout"}}))

    failure = await fail(providers["openai"], request("gpt-image-1"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.TIMEOUT, False)


async def test_the_request_id_is_logged_and_the_key_never_is(providers, mock: respx.MockRouter) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_invalid_api_key",
                                                 **{"x-request-id": "req_42"}))

    with capture_logs() as logs:
        failure = await fail(providers["openai"], request("gpt-image-1"))

    assert any(entry.get("request_id") == "req_42" for entry in logs)
    assert "SECRET" not in repr(logs) and "SECRET" not in failure.message
