"""Provider wiring: keys decide which vendors exist; the container owns and closes the client."""

from __future__ import annotations

import pytest

from application.commands import SubmitJob
from domain.errors import InvalidRequest
from entrypoints.container import build_container
from entrypoints.provider_wiring import build_providers
from entrypoints.settings import DEFAULT_MODELS, Settings, load_models

pytestmark = pytest.mark.unit


def test_only_local_is_wired_without_keys(clock, http_client) -> None:
    assert set(build_providers(Settings(models=load_models(DEFAULT_MODELS)), clock, http_client)) == {"local"}


def test_each_vendor_is_wired_when_its_key_is_set(providers) -> None:
    assert set(providers) == {"local", "openai", "gemini", "openrouter"}


def test_keys_come_from_imagegen_variables_or_the_vendors_own(tmp_path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path), "OPENAI_API_KEY": "sk-vendor",
                                  "IMAGEGEN_OPENAI_API_KEY": "sk-ours", "GEMINI_API_KEY": "gm",
                                  "IMAGEGEN_OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1",
                                  "IMAGEGEN_PROVIDER_READ_TIMEOUT_S": "30"})

    assert (settings.openai_api_key, settings.gemini_api_key, settings.openrouter_api_key) == (
        "sk-ours", "gm", "")
    assert (settings.openrouter_base_url, settings.provider_read_timeout_s) == ("http://127.0.0.1:9/api/v1", 30.0)


async def test_a_model_of_an_unkeyed_vendor_is_refused_at_submission(tmp_path) -> None:
    container = build_container(Settings.from_env({"IMAGEGEN_HOME": str(tmp_path)}))
    try:
        await container.start(run_worker=False)
        with pytest.raises(InvalidRequest, match="not configured"):
            await container.use_cases.submit_job()(SubmitJob(
                user_id="u1", prompt="p", model="gpt-image-2", size="1024x1024"))
    finally:
        await container.close()


async def test_the_container_shares_one_client_and_closes_it(tmp_path) -> None:
    container = build_container(Settings.from_env({"IMAGEGEN_HOME": str(tmp_path), "OPENAI_API_KEY": "sk"}))
    client = container.adapters.http_client()
    openai = container.adapters.image_providers().provider_for("openai")
    assert getattr(openai, "_primary", openai)._client is client  # under the fallback router

    await container.close()

    assert client.is_closed


def test_settings_never_show_a_key_in_their_repr() -> None:
    text = repr(Settings(openai_api_key="sk-SECRET", gemini_api_key="gm-SECRET",
                         openrouter_api_key="sk-or-SECRET", signing_key=b"SECRET"))

    assert "SECRET" not in text and "openai_api_key=***" in text
    assert "openai_base_url='https://api.openai.com/v1'" in text
