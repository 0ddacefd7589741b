"""Wiring of the async providers (Replicate, fal), their webhook receivers and the URL fetcher.

A provider is built only when its credential is set; its receiver only when its verification
keys are. Results of async providers are URLs, so the image inspector gets an SSRF-checked
fetcher; `image_fetch_allow_hosts` exempts named hosts (development and tests only).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import structlog

from adapters.image_providers.fal import FalImageProvider
from adapters.image_providers.replicate import ReplicateImageProvider
from adapters.images.inspector import HttpxUrlFetcher, PillowImageInspector
from adapters.webhooks_in.fal_jwks import FalJwksKeys
from adapters.webhooks_in.receivers import FalWebhookReceiver, ReplicateWebhookReceiver
from application.ports import Clock, ImageProvider, WebhookVerifier
from domain.pricing import ModelSpec
from entrypoints.settings import Settings

log = structlog.get_logger("imagegen.webhooks")

#: Providers that answer through a webhook (never fallback targets).
ASYNC_PROVIDERS = ("replicate", "fal")


def webhook_url(settings: Settings, provider: str) -> str:
    """The URL a provider is told to call: {webhook_base_url or public base}/webhooks/{provider}."""
    base = (settings.webhook_base_url or settings.resolved_base_url).rstrip("/")
    return f"{base}/webhooks/{provider}"


def build_async_providers(settings: Settings, clock: Clock, http_client: httpx.AsyncClient,
                          models: Mapping[str, ModelSpec]) -> dict[str, ImageProvider]:
    """Replicate and fal adapters, for those whose key is set."""
    built: dict[str, ImageProvider] = {}
    common = {"client": http_client, "models": models, "clock": clock}
    if settings.replicate_api_token:
        built["replicate"] = ReplicateImageProvider(
            api_token=settings.replicate_api_token, base_url=settings.replicate_base_url,
            webhook_url=webhook_url(settings, "replicate"), **common)
    if settings.fal_api_key:
        built["fal"] = FalImageProvider(
            api_key=settings.fal_api_key, queue_url=settings.fal_queue_url,
            webhook_url=webhook_url(settings, "fal"), **common)
    return built


def build_webhook_receivers(settings: Settings, clock: Clock,
                            http_client: httpx.AsyncClient | None = None) -> dict[str, WebhookVerifier]:
    """A receiver per provider whose verification keys are configured; fal's keys come from
    its JWKS (cached) whenever fal is keyed, unless static keys override them."""
    receivers: dict[str, WebhookVerifier] = {}
    tolerance = settings.webhook_tolerance_s
    if settings.replicate_webhook_secrets:
        receivers["replicate"] = ReplicateWebhookReceiver(settings.replicate_webhook_secrets, clock,
                                                          tolerance)
    if settings.fal_webhook_public_keys or (settings.fal_api_key and http_client is not None):
        jwks = None if settings.fal_webhook_public_keys else FalJwksKeys(
            client=http_client, clock=clock, url=settings.fal_jwks_url,
            cache_s=settings.fal_jwks_cache_s)
        if not settings.fal_user_id:
            log.warning("fal.user_id_not_pinned", hint="set IMAGEGEN_FAL_USER_ID so that only "
                        "your fal account's signed callbacks are accepted")
        receivers["fal"] = FalWebhookReceiver(settings.fal_webhook_public_keys, clock, tolerance,
                                              jwks=jwks, user_id=settings.fal_user_id)
    return receivers


def build_inspector(settings: Settings) -> PillowImageInspector:
    """The image inspector, able to fetch https result URLs (with its own client)."""
    timeout = httpx.Timeout(30.0, connect=settings.provider_connect_timeout_s)
    fetcher = HttpxUrlFetcher(httpx.AsyncClient(timeout=timeout),
                              allow_hosts=settings.image_fetch_allow_hosts)
    return PillowImageInspector(fetcher=fetcher)
