"""GET /v1/models: the model catalog a caller may choose from, with prices and sizes."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from application.principal import Principal
from domain.catalog import ModelCatalog
from domain.pricing import MEGAPIXEL, ImageSize, credits_per_image
from entrypoints.http.schemas import Api


class ModelOut(Api):
    id: str
    provider: str
    credits_per_image: int  # up to one megapixel
    credits_per_image_high_res: int  # above one megapixel (x1.5, rounded up)
    sizes: list[str]  # empty: any WxH up to max_pixels
    max_pixels: int
    max_n: int
    max_prompt_chars: int
    supports_edit: bool
    available: bool  # its provider is configured in this deployment


class ModelList(Api):
    items: list[ModelOut]
    default_model: str


@get("/v1/models", tags=["models"], summary="The model catalog: prices in credits, sizes, edits",
     description="Every model of the catalog; `available` is false when its provider has no "
                 "credentials here (a job on it is refused with 400).")
async def list_models(principal: NamedDependency[Principal], model_catalog: NamedDependency[ModelCatalog],
                      provider_registry: NamedDependency[Any],
                      settings: NamedDependency[Any]) -> ModelList:
    high_res = ImageSize(MEGAPIXEL + 1, 1)
    items = [ModelOut(
        id=m.name, provider=m.provider, credits_per_image=m.credits_per_image,
        credits_per_image_high_res=credits_per_image(m, high_res), sizes=list(m.sizes),
        max_pixels=m.max_pixels, max_n=m.max_n, max_prompt_chars=m.max_prompt_chars,
        supports_edit=m.supports_edit,
        available=provider_registry.provider_for(m.provider) is not None,
    ) for m in sorted(model_catalog, key=lambda m: m.name)]
    return ModelList(items=items, default_model=settings.default_model)
