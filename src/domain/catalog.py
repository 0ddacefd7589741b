"""The model catalog: which models exist, from settings, and lookups that name the field."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import InvalidRequest
from domain.pricing import ModelSpec


class ModelCatalog:
    """Immutable map of model name to `ModelSpec`."""

    __slots__ = ("_models",)

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models = {m.name: m for m in models}

    def get(self, name: str) -> ModelSpec:
        """Return the model or raise `InvalidRequest` on the `model` field."""
        spec = self._models.get(name)
        if spec is None:
            known = ", ".join(sorted(self._models))
            raise InvalidRequest("model", f"unknown model {name!r}; known models: {known}")
        return spec

    def names(self) -> list[str]:
        return sorted(self._models)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._models.values())
