"""Fallback routing: a down or out-of-quota provider hands the request to the next model's."""

from __future__ import annotations

import pytest

from adapters.image_providers.fallback import FallbackProvider
from domain.failures import ErrorClass, JobFailure
from tests.unit.adapters_providers.conftest import GEMINI_URL, OPENROUTER_URL, request, wire

pytestmark = pytest.mark.unit

MODEL = "gemini-3.1-flash-image"


async def test_the_gemini_provider_is_wired_with_its_catalog_fallback(providers) -> None:
    assert isinstance(providers["gemini"], FallbackProvider)
    assert providers["gemini"].name == "gemini"


@pytest.mark.parametrize("fixture", ["error_unavailable", "error_daily_quota", "error_model_not_found"])
async def test_an_unavailable_or_exhausted_primary_is_served_by_the_fallback_model(
        providers, mock, fixture: str) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", fixture))
    fallback = mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "image_one"))

    result = await providers["gemini"].generate(request(MODEL))

    assert result.served_by_model == "openrouter-gemini-3.1-flash-image"
    assert len(result.images) == 1 and result.cost_micros == 38_712
    assert fallback.call_count == 1


@pytest.mark.parametrize("fixture", ["prompt_blocked", "error_invalid_argument",
                                     "error_rate_limited_per_minute"])
async def test_blocks_bad_requests_and_rate_limits_do_not_fall_back(providers, mock, fixture: str) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", fixture))
    fallback = mock.post(OPENROUTER_URL)

    with pytest.raises(JobFailure):
        await providers["gemini"].generate(request(MODEL))

    assert not fallback.called


async def test_when_the_fallback_is_down_too_the_primary_failure_is_raised(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "error_unavailable"))
    mock.post(OPENROUTER_URL).mock(return_value=wire("openrouter", "error_insufficient_credits"))

    with pytest.raises(JobFailure) as caught:
        await providers["gemini"].generate(request(MODEL))

    assert caught.value.error_class is ErrorClass.PROVIDER_UNAVAILABLE
    assert caught.value.message.startswith("gemini 503")


async def test_a_fallback_model_that_cannot_serve_the_size_is_skipped(providers, mock) -> None:
    mock.post(GEMINI_URL).mock(return_value=wire("gemini", "error_unavailable"))
    fallback = mock.post(OPENROUTER_URL)

    with pytest.raises(JobFailure):
        await providers["gemini"].generate(request(MODEL, width=640, height=480))

    assert not fallback.called
