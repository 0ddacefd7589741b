"""Routing with fallbacks: when a model's provider is down or out of quota, try its fallback models.

The chain is `ModelSpec.fallbacks`, in order. Only failures that prove the request did not run
(provider_unavailable), that our account cannot pay there (provider_quota) or that the
provider no longer serves the model (model_unavailable, a retired model) move on; a content
block, a bad request or an unknown outcome (a read timeout) never does, since the next model
would be asked the same thing or might bill twice. A fallback model is tried only if it can
serve the request as made (size, n, prompt length, edit support) and its provider is
configured and synchronous (an async provider's callback would come back to the wrong
adapter). The credits were reserved for the requested model and ProcessGeneration charges at
most that reservation, so a fallback never costs the user more; the result names the model
that served in `served_by_model`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import msgspec
import structlog

from application.ports import ImageProvider, ProviderRequest, ProviderResult
from domain.errors import InvalidRequest
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ImageSize, ModelSpec

log = structlog.get_logger("imagegen.providers")

#: Failure classes after which the next model in the chain is tried.
FALL_BACK_ON = frozenset({ErrorClass.PROVIDER_UNAVAILABLE, ErrorClass.PROVIDER_QUOTA,
                          ErrorClass.MODEL_UNAVAILABLE})


class FallbackProvider(ImageProvider):
    """Wraps one provider; other attributes (async extras such as cancel) pass through to it."""

    def __init__(self, primary: ImageProvider, *, models: Mapping[str, ModelSpec],
                 providers: Mapping[str, ImageProvider], sync_providers: Collection[str]) -> None:
        """Route `primary`'s models to their fallbacks.

        Args:
            primary: the provider jobs name.
            models: the catalog by name.
            providers: the unwrapped providers by name (fallbacks do not chain further).
            sync_providers: names of providers that answer in the call (fallback targets).
        """
        self.name = primary.name
        self._primary, self._models = primary, models
        self._providers, self._sync = providers, frozenset(sync_providers)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):  # never reached for our own attributes once __init__ ran
            raise AttributeError(item)
        return getattr(self._primary, item)

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Ask the primary, then each usable fallback model in order.

        Raises:
            JobFailure: the primary's failure when no fallback served (so its Retry-After and
                class drive the job's retry); any non-fallback failure of a fallback model.
        """
        try:
            return await self._primary.generate(request)
        except JobFailure as failure:
            if failure.error_class not in FALL_BACK_ON:
                raise
            primary_failure = failure
        spec = self._models.get(request.model)
        for name in spec.fallbacks if spec else ():
            provider = self._usable(name, request)
            if provider is None:
                continue
            try:
                result = await provider.generate(msgspec.structs.replace(request, model=name))
            except JobFailure as failure:
                if failure.error_class not in FALL_BACK_ON:
                    raise
                continue
            log.info("provider.fallback_served", job_id=request.job_id, requested=request.model,
                     served_by=name, reason=primary_failure.error_class.value)
            return msgspec.structs.replace(result, served_by_model=name)
        raise primary_failure

    def _usable(self, name: str, request: ProviderRequest) -> ImageProvider | None:
        spec = self._models.get(name)
        if spec is None or spec.provider not in self._sync:
            return None
        if (request.input_images or request.mask) and not spec.supports_edit:
            return None
        try:
            spec.check_request(ImageSize(request.width, request.height), request.n, request.prompt)
        except InvalidRequest:
            return None
        return self._providers.get(spec.provider)


def with_fallbacks(providers: Mapping[str, ImageProvider], models: Mapping[str, ModelSpec],
                   sync_providers: Collection[str]) -> dict[str, ImageProvider]:
    """Wrap each provider that primarily serves a model with a fallback chain; keep the rest."""
    routed = {spec.provider for spec in models.values() if spec.fallbacks}
    return {name: FallbackProvider(p, models=models, providers=providers,
                                   sync_providers=sync_providers)
            if name in routed else p for name, p in providers.items()}
