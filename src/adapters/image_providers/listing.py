"""Catalog drift check: ask each keyed provider's own model listing whether our entries exist.

OpenAI `GET /v1/models`, Gemini `GET /v1beta/models` (paged), OpenRouter `GET /api/v1/models`
(with `expiration_date` for models going away), Replicate `GET /v1/models/{owner}/{name}` and
its versions (a pinned version that was deleted is missing), fal a status read of a request
id that does not exist on the endpoint's queue (an unknown request answers 404 naming the
request; an unknown application answers 404 naming the application) [unverified: the wording
of fal's two 404s]. Every call goes through the same base-URL settings the adapters use.
Statuses: available, deprecated (still listed, with a shutdown date when one is known),
missing, error (the listing could not be read: key, network), unchecked (no key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import msgspec
import structlog

from adapters.image_providers.fal import app_root
from adapters.image_providers.http_wire import redact
from domain.pricing import ModelSpec

log = structlog.get_logger("imagegen.providers")

_NIL_REQUEST = "00000000-0000-0000-0000-000000000000"


class ModelAvailability(msgspec.Struct, frozen=True, kw_only=True):
    """What one provider said about one catalog entry."""

    model: str
    provider: str
    upstream: str
    status: str  # available | deprecated | missing | error | unchecked
    shutdown_on: str = ""
    detail: str = ""


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    entries: tuple[ModelAvailability, ...] = ()
    checked: bool = False

    @property
    def missing(self) -> list[str]:
        return [e.model for e in self.entries if e.status == "missing"]

    @property
    def failed(self) -> list[str]:
        return [e.model for e in self.entries if e.status == "error"]

    def summary(self) -> str:
        """One line for /readyz and the start-up log."""
        if not self.checked:
            return "not checked yet"
        if self.missing:
            return f"missing: {', '.join(self.missing)}"
        if self.failed:
            return f"could not check: {', '.join(self.failed)}"
        deprecated = [e.model for e in self.entries if e.status == "deprecated"]
        return f"ok (deprecated: {', '.join(deprecated)})" if deprecated else "ok"


class ModelCheckBoard:
    """The last report of this process (shown by /readyz)."""

    def __init__(self) -> None:
        self.report = CheckReport()


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    """Keys and base URLs, as the adapters are configured (empty key: not configured)."""

    openai_key: str = ""
    openai_base: str = "https://api.openai.com/v1"
    gemini_key: str = ""
    gemini_base: str = "https://generativelanguage.googleapis.com/v1beta"
    openrouter_key: str = ""
    openrouter_base: str = "https://openrouter.ai/api/v1"
    replicate_key: str = ""
    replicate_base: str = "https://api.replicate.com/v1"
    fal_key: str = ""
    fal_queue: str = "https://queue.fal.run"


class ProviderModelListing:
    """Runs the check over a shared client; never raises for a provider's answer."""

    def __init__(self, client: httpx.AsyncClient, endpoints: Endpoints) -> None:
        self._client, self._e = client, endpoints

    async def check(self, specs: Iterable[ModelSpec]) -> CheckReport:
        specs = list(specs)
        listed: dict[str, asyncio.Task[Any]] = {}
        for provider, lister in (("openai", self._openai), ("gemini", self._gemini),
                                 ("openrouter", self._openrouter)):
            if self._key(provider) and any(s.provider == provider for s in specs):
                listed[provider] = asyncio.ensure_future(lister())
        results = await asyncio.gather(*listed.values(), return_exceptions=True)
        listings = dict(zip(listed, results, strict=True))
        entries = await asyncio.gather(*(self._entry(s, listings) for s in specs))
        report = CheckReport(entries=tuple(entries), checked=True)
        log.info("models.checked", summary=report.summary())
        return report

    def _key(self, provider: str) -> str:
        return {"openai": self._e.openai_key, "gemini": self._e.gemini_key,
                "openrouter": self._e.openrouter_key, "replicate": self._e.replicate_key,
                "fal": self._e.fal_key, "local": "built in"}.get(provider, "")

    async def _entry(self, spec: ModelSpec, listings: Mapping[str, Any]) -> ModelAvailability:
        base = {"model": spec.name, "provider": spec.provider, "upstream": spec.upstream}
        if spec.provider == "local":
            return ModelAvailability(**base, status="available", detail="built in")
        if not self._key(spec.provider):
            return ModelAvailability(**base, status="unchecked", detail="no key configured")
        try:
            if spec.provider == "replicate":
                found, shutdown, detail = await self._replicate(spec)
            elif spec.provider == "fal":
                found, shutdown, detail = await self._fal(spec)
            else:
                listing = listings[spec.provider]
                if isinstance(listing, BaseException):
                    raise listing
                found, detail = spec.upstream in listing, ""
                shutdown = listing.get(spec.upstream, "")
        except (httpx.HTTPError, _ListingError, ValueError) as exc:
            return ModelAvailability(**base, status="error", detail=redact(str(exc))[:200])
        shutdown = shutdown or spec.shutdown_on
        if not found:
            return ModelAvailability(**base, status="missing", detail=detail or "not listed")
        status = "deprecated" if shutdown or spec.status == "deprecated" else "available"
        return ModelAvailability(**base, status=status, shutdown_on=shutdown, detail=detail)

    async def _get(self, url: str, headers: Mapping[str, str],
                   params: Mapping[str, str] | None = None) -> httpx.Response:
        response = await self._client.get(url, headers=dict(headers), params=params)
        if response.status_code in (401, 403):
            raise _ListingError(f"{response.status_code}: the key was refused")
        if response.status_code >= 500 or response.status_code == 429:
            raise _ListingError(f"{response.status_code} from {httpx.URL(url).host}")
        return response

    async def _openai(self) -> dict[str, str]:
        r = await self._get(f"{self._e.openai_base.rstrip('/')}/models",
                            {"Authorization": f"Bearer {self._e.openai_key}"})
        return {str(m.get("id")): "" for m in _items(r, "data")}

    async def _gemini(self) -> dict[str, str]:
        found: dict[str, str] = {}
        token = ""
        for _ in range(20):  # pages of up to 1000 models
            params = {"pageSize": "1000", **({"pageToken": token} if token else {})}
            r = await self._get(f"{self._e.gemini_base.rstrip('/')}/models",
                                {"x-goog-api-key": self._e.gemini_key}, params)
            for m in _items(r, "models"):
                found[str(m.get("name", "")).removeprefix("models/")] = ""
            token = str(_json(r).get("nextPageToken") or "")
            if not token:
                break
        return found

    async def _openrouter(self) -> dict[str, str]:
        r = await self._get(f"{self._e.openrouter_base.rstrip('/')}/models",
                            {"Authorization": f"Bearer {self._e.openrouter_key}"},
                            {"output_modalities": "image"})
        return {str(m.get("id")): str(m.get("expiration_date") or "")[:10]
                for m in _items(r, "data")}

    async def _replicate(self, spec: ModelSpec) -> tuple[bool, str, str]:
        headers = {"Authorization": f"Bearer {self._e.replicate_key}"}
        name = spec.upstream.split(":", 1)[0]
        base = f"{self._e.replicate_base.rstrip('/')}/models/{name}"
        r = await self._get(base, headers)
        if r.status_code == 404:
            return False, "", "no such model"
        version = spec.upstream_version or spec.upstream.partition(":")[2]
        if not version:
            return True, "", "official" if spec.official else ""
        url: str | None = f"{base}/versions"
        for _ in range(10):
            if url is None:
                break
            page = await self._get(url, headers)
            if page.status_code == 404:
                break
            if any(v.get("id") == version for v in _items(page, "results")):
                return True, "", f"version {version[:12]}"
            url = _json(page).get("next") or None
        return False, "", f"version {version[:12]} is gone"

    async def _fal(self, spec: ModelSpec) -> tuple[bool, str, str]:
        root = f"{self._e.fal_queue.rstrip('/')}/{app_root(spec.upstream)}"
        url = f"{root}/requests/{_NIL_REQUEST}/status"
        r = await self._get(url, {"Authorization": f"Key {self._e.fal_key}"})
        detail = str(_json(r).get("detail") or r.text[:200]).lower()
        if r.status_code == 404 and ("application" in detail or "app " in detail
                                     or "endpoint" in detail):
            return False, "", "no such application"
        return True, "", ""


class _ListingError(Exception):
    """A listing that could not be read (refused key, outage)."""


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _items(response: httpx.Response, key: str) -> list[dict[str, Any]]:
    if response.status_code != 200:
        raise _ListingError(f"{response.status_code} from the listing")
    return [m for m in _json(response).get(key) or [] if isinstance(m, dict)]
