"""GET /console: the web console (a static page using the public API), and its assets.

The page holds no server-side state: it signs in with the API key the user pastes, kept in
the browser's sessionStorage and sent as a bearer token on every /v1 call (ADR 0100).
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from entrypoints.container import AppContainer
from entrypoints.http.console_assets import (
    ASSET_CACHE, INDEX_CACHE, ConsoleBundle, load_bundle, security_headers,
)
from entrypoints.http.routes_models import list_models
from entrypoints.http.routes_uploads import upload_image


@get(["/console", "/console/index.html"], include_in_schema=False)
async def console_index(console_bundle: NamedDependency[ConsoleBundle],
                        console_headers: NamedDependency[dict[str, str]]) -> Response[bytes]:
    return Response(console_bundle.index, media_type="text/html; charset=utf-8",
                    headers={**console_headers, "Cache-Control": INDEX_CACHE})


@get("/console/assets/{name:str}", include_in_schema=False)
async def console_asset(name: FromPath[str], console_bundle: NamedDependency[ConsoleBundle],
                        console_headers: NamedDependency[dict[str, str]]) -> Response[bytes]:
    asset = console_bundle.assets.get(name)
    if asset is None:  # an old hash after an upgrade: the index (no-cache) names the new one
        raise NotFoundException("no such console asset")
    return Response(asset.body, media_type=asset.media_type,
                    headers={**console_headers, "Cache-Control": ASSET_CACHE})


def console_handlers() -> list[Any]:
    """The console's pages, and the two API routes it added (the model catalog, uploads)."""
    return [console_index, console_asset, list_models, upload_image]


def console_dependencies(container: AppContainer) -> dict[str, Provide]:
    bundle = load_bundle()  # read once per app
    headers = security_headers(container.settings)
    catalog = container.core.catalog
    registry = container.adapters.image_providers
    upload = container.watching.upload_image  # type: ignore[attr-defined]

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    def lazy(provider: Any) -> Provide:
        return Provide(lambda: provider(), use_cache=True, sync_to_thread=False)

    return {"console_bundle": constant(bundle), "console_headers": constant(headers),
            "model_catalog": lazy(catalog), "provider_registry": lazy(registry),
            "upload_input_image_use_case": lazy(upload)}
