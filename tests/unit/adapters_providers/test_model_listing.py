"""The catalog check against each provider's listing (respx at the real URLs) and at start-up."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from structlog.testing import capture_logs

from adapters.image_providers.listing import ModelCheckBoard
from domain.pricing import ModelSpec
from entrypoints import model_check
from entrypoints.model_check import check_catalog, start_model_check
from entrypoints.settings import Settings
from tests.unit.adapters_providers.conftest import wire

pytestmark = pytest.mark.unit

OPENAI_MODELS = "https://api.openai.com/v1/models"
OPENROUTER_MODELS = "https://openrouter.ai/api/v1/models"


def catalog(*specs: ModelSpec) -> Settings:
    return Settings(models=specs, openai_api_key="sk-test", openrouter_api_key="sk-or-test")


async def test_listed_models_are_available_and_an_expiring_one_is_deprecated_with_its_date(mock) -> None:
    mock.get(OPENAI_MODELS).mock(return_value=wire("openai", "models_list"))
    mock.get(OPENROUTER_MODELS).mock(return_value=wire("openrouter", "models_list"))
    settings = catalog(
        ModelSpec(name="gpt-image-2", provider="openai", credits_per_image=1),
        ModelSpec(name="or-pro", provider="openrouter", credits_per_image=1,
                  upstream_model="google/gemini-3-pro-image"),
        ModelSpec(name="gpt-image-1", provider="openai", credits_per_image=1),
        ModelSpec(name="sd", provider="replicate", credits_per_image=1, official=True))

    report = await check_catalog(settings)

    by_name = {e.model: e for e in report.entries}
    assert by_name["gpt-image-2"].status == "available"
    assert (by_name["or-pro"].status, by_name["or-pro"].shutdown_on) == ("deprecated", "2027-01-15")
    assert by_name["gpt-image-1"].status == "missing" and report.missing == ["gpt-image-1"]
    assert by_name["sd"].status == "unchecked"  # no Replicate token: not asked


async def test_a_refused_key_is_an_error_not_a_missing_model(mock) -> None:
    mock.get(OPENAI_MODELS).mock(return_value=wire("openai", "error_invalid_api_key"))

    report = await check_catalog(catalog(ModelSpec(name="gpt-image-2", provider="openai",
                                                   credits_per_image=1)))

    assert report.failed == ["gpt-image-2"] and report.missing == []
    assert "sk-test" not in report.entries[0].detail


async def test_the_start_up_check_runs_in_the_background_and_logs_missing_models_as_errors(
        mock) -> None:
    gate = asyncio.Event()

    async def slow_listing(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return wire("openai", "models_list")

    mock.get(OPENAI_MODELS).mock(side_effect=slow_listing)
    board = ModelCheckBoard()
    settings = catalog(ModelSpec(name="gpt-image-1", provider="openai", credits_per_image=1))

    with capture_logs() as logs:
        start_model_check(settings, board)  # returns at once: the start is not blocked
        assert board.report.summary() == "not checked yet"
        gate.set()
        await asyncio.gather(*model_check._tasks)

    assert board.report.summary() == "missing: gpt-image-1"
    assert any(e["event"] == "models.missing" and e["log_level"] == "error" for e in logs)
