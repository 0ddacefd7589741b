"""Which image providers this deployment can call: `local` always, each vendor when keyed.

A model whose provider is missing here is refused at submission with a 400 (SubmitGeneration
asks the registry), so an unkeyed vendor never reaches a worker.
"""

from __future__ import annotations

import httpx

from adapters.image_providers.fallback import with_fallbacks
from adapters.image_providers.gemini import GeminiImageProvider
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.openai import OpenAIImageProvider
from adapters.image_providers.openrouter import OpenRouterImageProvider
from application.ports import Clock, ImageProvider
from entrypoints.async_provider_wiring import build_async_providers
from entrypoints.settings import Settings

#: Providers that answer within the call; only these may serve as fallback targets.
SYNC_PROVIDERS = ("local", "openai", "gemini", "openrouter")


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process-wide client for provider calls: short connect, long read (images are slow)."""
    timeout = httpx.Timeout(settings.provider_read_timeout_s,
                            connect=settings.provider_connect_timeout_s)
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                             limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))


def build_providers(settings: Settings, clock: Clock,
                    http_client: httpx.AsyncClient) -> dict[str, ImageProvider]:
    """Build every configured provider, wrapped with fallback routing where the catalog asks."""
    models = {spec.name: spec for spec in settings.models}
    built: dict[str, ImageProvider] = {
        "local": LocalImageProvider(latency_s=settings.local_latency_s,
                                    failure_rate=settings.local_failure_rate, clock=clock,
                                    models=models)}
    # --- synchronous real providers (ADR 0020) ---
    common = {"client": http_client, "models": models, "clock": clock}
    if settings.openai_api_key:
        built["openai"] = OpenAIImageProvider(api_key=settings.openai_api_key,
                                              base_url=settings.openai_base_url, **common)
    if settings.gemini_api_key:
        built["gemini"] = GeminiImageProvider(api_key=settings.gemini_api_key,
                                              base_url=settings.gemini_base_url, **common)
    if settings.openrouter_api_key:
        built["openrouter"] = OpenRouterImageProvider(
            api_key=settings.openrouter_api_key, base_url=settings.openrouter_base_url, **common)
    # --- end synchronous real providers ---
    # --- asynchronous providers (ADR 0023) ---
    built.update(build_async_providers(settings, clock, http_client, models))
    # --- end asynchronous providers ---
    return with_fallbacks(built, models, SYNC_PROVIDERS)
