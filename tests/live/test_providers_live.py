"""One generate and one edit per provider, against the real APIs with keys from the environment.

Run by hand (`uv run pytest -m live tests/live -q`): each test costs real money, a few cents.
A provider's tests skip without its key, and every test skips under CI (`CI` set), so the
suite never calls a provider from a pipeline. Async providers are polled by id (their
webhook URL is not reachable from a laptop); results are decoded by the same inspector jobs
use. A failure here usually means the catalog drifted: run `imagegen models check`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.clock import SystemClock
from adapters.image_providers.local import LocalImageProvider
from adapters.images.inspector import HttpxUrlFetcher, PillowImageInspector
from application.ports import ProviderRequest, ProviderResult
from domain.model_mapping import RequestMapping
from domain.pricing import ModelSpec
from entrypoints.provider_wiring import build_providers
from entrypoints.settings import Settings

pytestmark = pytest.mark.live

KEYS = {"openai": ("OPENAI_API_KEY", "openai_api_key"), "gemini": ("GEMINI_API_KEY", "gemini_api_key"),
        "openrouter": ("OPENROUTER_API_KEY", "openrouter_api_key"),
        "replicate": ("REPLICATE_API_TOKEN", "replicate_api_token"), "fal": ("FAL_KEY", "fal_api_key")}
#: (generate model, edit model, size) per provider, from the shipped catalog.
CASES = {"openai": ("gpt-image-2.5-flare", "gpt-image-2", "1024x1024"),
         "gemini": ("gemini-3.1-flash-image", "gemini-3.1-flash-image", "1024x1024"),
         "openrouter": ("openrouter-flux-2-pro", "openrouter-gemini-3.1-flash-image", "1024x1024"),
         "replicate": ("flux-schnell", "sdxl", "1024x1024"),
         "fal": ("fal-flux-dev", "fal-flux-dev-edit", "1024x1024")}
FAL_EDIT = ModelSpec(name="fal-flux-dev-edit", provider="fal", credits_per_image=3,
                     upstream_model="fal-ai/flux/dev/image-to-image", supports_edit=True,
                     price_micros_per_image=25000,
                     mapping=RequestMapping(size_style="image_size", n="num_images", image="image_url"))


def key_for(provider: str) -> str:
    if os.environ.get("CI"):
        pytest.skip("live provider tests never run in CI")
    env, _ = KEYS[provider]
    value = os.environ.get(env) or os.environ.get(f"IMAGEGEN_{env}")
    if not value:
        pytest.skip(f"{env} is not set")
    return value


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as c:
        yield c


async def run(provider: str, model: str, size: str, client: httpx.AsyncClient,
              edit: bool = False) -> None:
    settings = Settings.from_env()
    settings = Settings(**{**{f: getattr(settings, f) for f in settings.__struct_fields__},
                           KEYS[provider][1]: key_for(provider),
                           "models": (*settings.models, FAL_EDIT)})
    adapter = build_providers(settings, SystemClock(), client)[provider]
    width, height = (int(v) for v in size.split("x"))
    inputs: tuple[bytes, ...] = ()
    if edit:
        source = await LocalImageProvider().generate(ProviderRequest(
            job_id="live", model="local", prompt="a red square", width=512, height=512, n=1, seed=1))
        inputs = (source.images[0].data or b"",)
    request = ProviderRequest(job_id="live-test", model=model, width=width, height=height, n=1,
                              prompt="make the sky purple" if edit else "a lighthouse at dusk",
                              input_images=inputs, user_ref="live-test")
    result = await adapter.generate(request)
    if result.pending:
        result = await poll(adapter, result.provider_job_id or "", model)
    inspector = PillowImageInspector(fetcher=HttpxUrlFetcher(client))
    info = await inspector.inspect(result.images[0])
    assert info.width > 0 and info.height > 0
    assert result.cost_micros is None or result.cost_micros >= 0


async def poll(adapter: object, job_id: str, model: str) -> ProviderResult:
    for _ in range(120):
        done = await adapter.fetch_result(job_id, model=model)  # type: ignore[attr-defined]
        if done is not None:
            return done
        await asyncio.sleep(5)
    raise AssertionError(f"{model} did not finish within 10 minutes")


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_generate(provider: str, client: httpx.AsyncClient) -> None:
    model, _, size = CASES[provider]
    await run(provider, model, size, client)


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_edit(provider: str, client: httpx.AsyncClient) -> None:
    _, model, size = CASES[provider]
    await run(provider, model, size, client, edit=True)
