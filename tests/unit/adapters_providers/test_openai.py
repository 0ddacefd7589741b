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

    result = await providers["openai"].generate(request("gpt-image-2"))

    sent = route.calls.last.request
    assert json.loads(sent.content) == {"model": "gpt-image-2", "prompt": "a lighthouse at dusk",
                                        "n": 1, "size": "1024x1024",
                                        "safety_identifier": "u" * 32}  # `user` is superseded
    assert sent.headers["authorization"] == f"Bearer {KEYS['openai_api_key']}"
    assert [i.data for i in result.images] == [fixture_png("openai", "generation_b64_gpt_image")]
    # 50 text tokens at $5/1M + 1056 image tokens at $30/1M = $0.03193
    assert result.cost_micros == 31_930


async def test_several_images_are_returned_and_priced_by_token_kind(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_two_images_with_output_details"))

    result = await providers["openai"].generate(request("gpt-image-2", n=2))

    assert [i.data for i in result.images] == [
        fixture_png("openai", "generation_two_images_with_output_details", k) for k in (0, 1)]
    # 20 text in x $5 + 40 image in x $8 + 544 image out x $30 + 16 text out x $10 (per 1M)
    # = 100 + 320 + 16320 + 160
    assert result.cost_micros == 16_900


async def test_a_url_answer_is_passed_on_for_the_guarded_fetcher_and_priced_from_the_table(
        providers, mock) -> None:
    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_url_dalle3"))

    result = await providers["openai"].generate(request("gpt-image-2"))

    assert "response_format" not in json.loads(route.calls.last.request.content)  # GPT-image
    assert result.images[0].data is None
    assert result.images[0].url.startswith("https://oaidalleapiprodscus.blob.core.windows.net/")
    assert result.cost_micros == 53_000  # no usage: the per-image table


async def test_an_edit_posts_multipart_with_the_image_and_mask(providers, mock) -> None:
    route = mock.post(OPENAI_EDITS_URL).mock(return_value=wire("openai", "generation_b64_gpt_image"))
    source = fixture_png("gemini", "generate_one_image")

    await providers["openai"].generate(request("gpt-image-2", input_images=(source,), mask=b"\x89PNGmask"))

    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="image"; filename="image0.png"' in sent.content
    assert b'name="mask"; filename="mask.png"' in sent.content
    assert source in sent.content
    assert b'name="model"\r\n\r\ngpt-image-2' in sent.content


async def test_several_edit_inputs_use_the_bracketed_field(providers, mock) -> None:
    route = mock.post(OPENAI_EDITS_URL).mock(return_value=wire("openai", "generation_b64_gpt_image"))
    source = fixture_png("gemini", "generate_one_image")

    await providers["openai"].generate(request("gpt-image-2", input_images=(source, source)))

    assert route.calls.last.request.content.count(b'name="image[]"') == 2


@pytest.mark.parametrize(("fixture", "cost"), [
    ("error_content_policy_violation", 0),
    ("error_moderation_blocked_input", 0),
    ("error_moderation_blocked_output", 53_000),  # the model ran: its table price is recorded
])
async def test_safety_blocks_are_content_policy_and_an_output_stage_block_records_cost(
        providers, mock, fixture: str, cost: int) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", fixture))

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert (failure.error_class, failure.provider_cost_micros) == (ErrorClass.CONTENT_POLICY, cost)
    assert "safety system" in failure.message


@pytest.mark.parametrize(("fixture", "error_class"), [
    ("error_invalid_request", ErrorClass.INVALID_REQUEST),
    ("error_unknown_model", ErrorClass.MODEL_UNAVAILABLE),
    ("error_model_retired", ErrorClass.MODEL_UNAVAILABLE),
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

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert failure.error_class is error_class
    assert failure.message.startswith("openai ")


async def test_429_insufficient_quota_is_not_retryable_but_a_rate_limit_is(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=[
        wire("openai", "error_insufficient_quota", **{"retry-after": "5"}),
        wire("openai", "error_rate_limit", **{"retry-after": "5"})])

    quota = await fail(providers["openai"], request("gpt-image-2"))
    limited = await fail(providers["openai"], request("gpt-image-2"))

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

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert (failure.error_class, failure.retry_after_s) == (ErrorClass.RATE_LIMITED, expected)


async def test_a_refused_connection_is_provider_unavailable(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.PROVIDER_UNAVAILABLE, False)


async def test_a_read_timeout_is_a_timeout_of_unknown_outcome(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.TIMEOUT, True)
    assert "billed" in failure.message


async def test_a_408_is_a_plain_timeout(providers, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=httpx.Response(408, json={"error": {"message": "timeout"}}))

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert (failure.error_class, failure.unknown_outcome) == (ErrorClass.TIMEOUT, False)


async def test_the_request_id_is_logged_and_the_key_never_is(providers, mock: respx.MockRouter) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_invalid_api_key",
                                                 **{"x-request-id": "req_42"}))

    with capture_logs() as logs:
        failure = await fail(providers["openai"], request("gpt-image-2"))

    assert any(entry.get("request_id") == "req_42" for entry in logs)
    assert "SECRET" not in repr(logs) and "SECRET" not in failure.message


async def test_organization_verification_arrives_as_403_and_is_the_operators_problem(
        providers, mock) -> None:
    mock.post(OPENAI_URL).mock(return_value=wire("openai", "error_organization_not_verified"))

    failure = await fail(providers["openai"], request("gpt-image-2"))

    assert failure.error_class is ErrorClass.AUTH and failure.error_class.operator_fault


async def test_a_streamed_generation_hands_partials_to_the_sink_and_returns_the_completed_image(
        providers, mock) -> None:
    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "stream_generation"))
    previews: list[tuple[int, bytes]] = []

    async def sink(data: bytes, index: int) -> None:
        previews.append((index, data))

    result = await providers["openai"].generate(request("gpt-image-2", previews=sink))

    sent = json.loads(route.calls.last.request.content)
    assert (sent["stream"], sent["partial_images"]) == (True, 2)
    assert [i for i, _ in previews] == [0, 1] and all(d.startswith(b"\x89PNG") for _, d in previews)
    assert result.images[0].data == fixture_png("openai", "generation_b64_gpt_image")
    assert result.cost_micros == 31_930  # the completed event's usage


async def test_without_a_preview_sink_nothing_is_streamed(providers, mock) -> None:
    route = mock.post(OPENAI_URL).mock(return_value=wire("openai", "generation_b64_gpt_image"))

    await providers["openai"].generate(request("gpt-image-2", n=1))

    assert "stream" not in json.loads(route.calls.last.request.content)


def test_the_default_read_timeout_is_openais_own_600_s() -> None:
    from entrypoints.provider_wiring import build_http_client
    from entrypoints.settings import Settings

    client = build_http_client(Settings())
    assert (client.timeout.read, client.timeout.connect) == (600.0, 5.0)


async def test_provider_error_text_is_short_and_redacted_for_users_and_whole_in_the_log(
        providers, mock) -> None:
    leaked = "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789. " + "x" * 400
    mock.post(OPENAI_URL).mock(return_value=httpx.Response(
        401, json={"error": {"message": leaked, "type": "invalid_request_error", "code": None}}))

    with capture_logs() as logs:
        failure = await fail(providers["openai"], request("gpt-image-2"))

    assert "sk-proj-abcdefghijklmnop" not in failure.message and "[redacted]" in failure.message
    assert len(failure.message) <= 180
    assert any(leaked[:200] in str(e.get("text", "")) for e in logs)
