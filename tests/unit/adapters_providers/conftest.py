"""Provider adapters as wired for a real key, with respx answering at the real URLs."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from adapters.clock import FakeClock
from application.ports import ImageProvider, ProviderRequest
from entrypoints.provider_wiring import build_http_client, build_providers
from entrypoints.settings import DEFAULT_MODELS, Settings, load_models

FIXTURES = Path(__file__).parents[2] / "fixtures" / "providers"

OPENAI_URL = "https://api.openai.com/v1/images/generations"
OPENAI_EDITS_URL = "https://api.openai.com/v1/images/edits"
GEMINI_URL = ("https://generativelanguage.googleapis.com/v1beta/models/"
              "gemini-3.1-flash-image:generateContent")
OPENROUTER_URL = "https://openrouter.ai/api/v1/chat/completions"

KEYS = {"openai_api_key": "sk-test-openai-SECRET", "gemini_api_key": "gm-test-SECRET",
        "openrouter_api_key": "sk-or-v1-test-SECRET"}


@cache
def _load(provider: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{provider}.json").read_text())


def wire(provider: str, name: str, **headers: str) -> httpx.Response:
    """The documented response `name` of `provider` (tests/fixtures/providers/<provider>.json)."""
    entry = _load(provider)[name]
    if "sse" in entry:  # a streamed answer: one `event:`/`data:` pair per event
        text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in entry["sse"])
        return httpx.Response(entry["status"], text=text,
                              headers={"content-type": "text/event-stream", **headers})
    if "text" in entry:
        return httpx.Response(entry["status"], text=entry["text"], headers=headers)
    return httpx.Response(entry["status"], json=entry["body"], headers=headers)


def fixture_png(provider: str, name: str, index: int = 0) -> bytes:
    """The PNG bytes inside a success fixture, for comparing with what the adapter returns."""
    body = _load(provider)[name]["body"]
    if provider == "openai":
        return base64.b64decode(body["data"][index]["b64_json"])
    if provider == "gemini":
        parts = [p for p in body["candidates"][0]["content"]["parts"] if "inlineData" in p]
        return base64.b64decode(parts[index]["inlineData"]["data"])
    url = body["choices"][0]["message"]["images"][index]["image_url"]["url"]
    return base64.b64decode(url.split(",", 1)[1])


def request(model: str, **kw: Any) -> ProviderRequest:
    values: dict[str, Any] = {"job_id": "job_1", "model": model, "prompt": "a lighthouse at dusk",
                              "width": 1024, "height": 1024, "n": 1, "user_ref": "u" * 32}
    values.update(kw)
    return ProviderRequest(**values)


@pytest.fixture
def settings() -> Settings:
    return Settings(models=load_models(DEFAULT_MODELS), **KEYS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    client = build_http_client(settings)
    yield client
    await client.aclose()


@pytest.fixture
def providers(settings: Settings, clock: FakeClock, http_client: httpx.AsyncClient) -> dict[str, ImageProvider]:
    """Exactly what the container builds for these settings."""
    return build_providers(settings, clock, http_client)


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router
