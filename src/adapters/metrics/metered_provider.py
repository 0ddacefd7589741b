"""Provider calls timed and counted by provider and model (ADR 0092).

`MeteredImageProvider` wraps any `ImageProvider`; everything else the inner adapter offers
(the async providers' fetch and cancel) passes through unchanged, so capability checks still
see what the inner adapter can do.
"""

from __future__ import annotations

import time
from typing import Any

from application.ports import ImageProvider, ProviderRegistry, ProviderRequest, ProviderResult
from domain.failures import JobFailure


class MeteredImageProvider:
    def __init__(self, inner: ImageProvider, metrics: Any) -> None:
        self._inner, self._metrics = inner, metrics
        self.name = inner.name

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        started = time.perf_counter()
        try:
            result = await self._inner.generate(request)
        except JobFailure as failure:
            self._observe(request.model, failure.error_class.value, started)
            raise
        except Exception:
            self._observe(request.model, "exception", started)
            raise
        self._observe(request.model, "accepted" if result.pending else "ok", started)
        return result

    def _observe(self, model: str, outcome: str, started: float) -> None:
        self._metrics.observe_provider_call(self.name, model, outcome, time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeteredProviderRegistry(ProviderRegistry):
    """The same lookups as the inner registry, each provider metered (wrapped once)."""

    def __init__(self, inner: ProviderRegistry, metrics: Any) -> None:
        self._inner, self._metrics = inner, metrics
        self._wrapped: dict[str, MeteredImageProvider] = {}

    def provider_for(self, provider_name: str) -> ImageProvider | None:
        provider = self._inner.provider_for(provider_name)
        if provider is None:
            return None
        wrapped = self._wrapped.get(provider_name)
        if wrapped is None or wrapped._inner is not provider:
            wrapped = self._wrapped[provider_name] = MeteredImageProvider(provider, self._metrics)
        return wrapped  # type: ignore[return-value]

    def names(self) -> list[str]:
        return self._inner.names()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
