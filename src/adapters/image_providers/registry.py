"""A fixed map of provider name to adapter, built once by the container."""

from __future__ import annotations

from collections.abc import Mapping

from application.ports import ImageProvider, ProviderRegistry


class StaticProviderRegistry(ProviderRegistry):
    """Looks providers up by name in a map fixed at construction."""

    def __init__(self, providers: Mapping[str, ImageProvider]) -> None:
        """Keep a copy of `providers`, keyed by the name jobs and the catalog use."""
        self._providers = dict(providers)

    def provider_for(self, provider_name: str) -> ImageProvider | None:
        """Return the provider registered as `provider_name`, or None if there is none."""
        return self._providers.get(provider_name)

    def names(self) -> list[str]:
        """Return the registered names, sorted (for readiness checks and logs)."""
        return sorted(self._providers)
