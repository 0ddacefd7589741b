"""Replicate: predictions created with a webhook, so jobs park in awaiting_callback.

Create: `POST /v1/models/{owner}/{name}/predictions` only for official models (catalog
`official = true`); a community model is pinned by `upstream_version` and created with
`POST /v1/predictions {version}` (the model route answers 404 for it, corrections of
2026-12-01). The input object follows the entry's request mapping (each model has its own
schema). Replicate then calls `{webhook_url}` once the prediction is terminal
(`webhook_events_filter: ["completed"]`); the job resumes by fetching the prediction by id.
Output files are deleted about an hour after the prediction: a result carries `refresh`,
which reads the prediction again by id for fresh URLs before the job gives up, and a
prediction whose `data_removed` is set fails as invalid_output.
Errors follow providers.md table 0.1: 401/403 auth, 402 provider_quota, 429 rate_limited
(Retry-After honoured), 404 on create model_unavailable (ADR 0071), 400/422
invalid_request, 5xx provider_unavailable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec
import structlog

from adapters.image_providers.http_wire import (
    clip, json_body, mapping_of, post, retired, retry_after_s, table_cost, upstream_id,
)
from adapters.image_providers.inputs import model_input
from application.errors import ProviderUnreachable
from application.ports import (
    AsyncProviderControl, Clock, GeneratedImage, ImageProvider, ProviderRequest, ProviderResult,
)
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec

log = structlog.get_logger("imagegen.providers")

DEFAULT_BASE_URL = "https://api.replicate.com/v1"
_VERSION = re.compile(r"^[0-9a-f]{64}$")
_THROTTLE_S = re.compile(r"~\s*(\d+)\s*s")
_POLICY_WORDS = ("nsfw", "safety", "sensitive", "content policy", "flagged")


#: The most output URLs one prediction may list; more is a broken or hostile answer.
MAX_OUTPUT_URLS = 16

class ReplicateImageProvider(ImageProvider, AsyncProviderControl):
    """Creates predictions (never waits for them) and reads or cancels them by id."""

    def __init__(self, *, api_token: str, client: httpx.AsyncClient,
                 models: Mapping[str, ModelSpec], clock: Clock, webhook_url: str,
                 base_url: str = DEFAULT_BASE_URL, name: str = "replicate") -> None:
        """Keep the credential (it only ever goes into the Authorization header).

        Args:
            api_token: the `r8_` API token.
            client: the process-wide HTTP client.
            models: the catalog by name, for upstream ids and prices.
            clock: for HTTP-date Retry-After values.
            webhook_url: where Replicate posts terminal predictions (our receiver).
            base_url: the API root (tests, proxies).
            name: the provider name jobs route to.
        """
        self.name = name
        self._headers = {"Authorization": f"Bearer {api_token}"}
        self._client, self._models, self._clock = client, dict(models), clock
        self._webhook_url, self._base = webhook_url, base_url.rstrip("/")

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Create the prediction and return its id (the job then awaits the webhook).

        Raises:
            JobFailure: classified create errors; a finished-at-once prediction's failure.
        """
        url, body = self._create_call(request)
        response = await post(self._client, url, provider=self.name, job_id=request.job_id,
                              headers=self._headers, json=body)
        if response.status_code == 404:
            raise retired(self.name, upstream_id(self._models, request.model), 404,
                          _detail(response))
        if response.status_code not in (200, 201):
            raise self._failure(response)
        prediction = json_body(response)
        if not isinstance(prediction.get("id"), str):
            raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE,
                             f"{self.name}: create answered without an id")
        log.info("replicate.prediction_created", job_id=request.job_id,
                 prediction_id=prediction["id"])
        return ProviderResult(provider_job_id=prediction["id"])

    async def get_prediction(self, prediction_id: str) -> dict[str, Any]:
        """The prediction object, as `GET /v1/predictions/{id}` returns it.

        Raises:
            ProviderUnreachable: network errors, 429 and 5xx (ask again later).
            JobFailure: auth (401/403) or a prediction that does not exist (404).
        """
        return await self._call("GET", f"{self._base}/predictions/{prediction_id}")

    async def fetch_result(self, provider_job_id: str, *, model: str = "") -> ProviderResult | None:
        """The finished prediction's images, None while it runs (see `parse_prediction`).

        The result's `refresh` reads the prediction again (once) for fresh output URLs.
        """
        result = await self._read_result(provider_job_id, model)
        if result is None:
            return None

        async def refresh() -> ProviderResult | None:
            log.info("replicate.prediction_reread", prediction_id=provider_job_id)
            return await self._read_result(provider_job_id, model)

        return msgspec.structs.replace(result, refresh=refresh)

    async def _read_result(self, provider_job_id: str, model: str) -> ProviderResult | None:
        prediction = await self.get_prediction(provider_job_id)
        if prediction.get("data_removed") and prediction.get("status") == "succeeded":
            raise JobFailure(ErrorClass.INVALID_OUTPUT, f"{self.name}: the prediction's output "
                             "was deleted by Replicate (about an hour after it finished)")
        return parse_prediction(prediction, cost_micros=None, provider=self.name,
                                price=lambda n: table_cost(self._models, model, n))

    async def cancel(self, provider_job_id: str, *, model: str = "") -> None:
        """`POST /v1/predictions/{id}/cancel`; errors as in `get_prediction`."""
        await self._call("POST", f"{self._base}/predictions/{provider_job_id}/cancel")

    def _create_call(self, request: ProviderRequest) -> tuple[str, dict[str, Any]]:
        upstream = upstream_id(self._models, request.model)
        spec = self._models.get(request.model)
        body: dict[str, Any] = {"input": model_input(mapping_of(self._models, request.model),
                                                     request),
                                "webhook": self._webhook_url,
                                "webhook_events_filter": ["completed"]}
        _, colon, version = upstream.partition(":")
        version = (spec.upstream_version if spec else "") or version
        if version or _VERSION.match(upstream):
            return f"{self._base}/predictions", {"version": version or upstream, **body}
        return f"{self._base}/models/{upstream}/predictions", body

    async def _call(self, method: str, url: str) -> dict[str, Any]:
        try:
            response = await self._client.request(method, url, headers=self._headers)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnreachable(clip(self.name, response.status_code, _detail(response)))
        if response.status_code >= 400:
            raise self._failure(response)
        return json_body(response)

    def _failure(self, response: httpx.Response) -> JobFailure:
        status, detail = response.status_code, _detail(response)
        message = clip(self.name, status, detail)
        if status == 429:
            wait = retry_after_s(response.headers, self._clock.now())
            if wait is None and (match := _THROTTLE_S.search(detail)):
                wait = float(match.group(1))
            return JobFailure(ErrorClass.RATE_LIMITED, message, retry_after_s=wait)
        if status in (401, 403):
            return JobFailure(ErrorClass.AUTH, message)
        if status == 402:
            return JobFailure(ErrorClass.PROVIDER_QUOTA, message)
        if status >= 500:
            return JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, message)
        return JobFailure(ErrorClass.INVALID_REQUEST, message)


def _detail(response: httpx.Response) -> str:
    """RFC 7807 `detail` (or `title`), else the start of the body."""
    body = json_body(response)
    return str(body.get("detail") or body.get("title") or response.text[:200])


def parse_prediction(prediction: Mapping[str, Any], *, cost_micros: int | None = None,
                     provider: str = "replicate",
                     price: Callable[[int], int] | None = None) -> ProviderResult | None:
    """A terminal prediction as a result; None while starting or processing.

    Output may be one URL or a list of URLs (model-defined). Replicate reports no price, so
    `price(images)` (the catalog's table) gives the cost when `cost_micros` is None.

    Raises:
        JobFailure: content_policy or provider_unavailable for `failed` (by the error text),
            cancelled for `canceled`, timeout for `aborted`, invalid_output for a success
            without any URL.
    """
    status = str(prediction.get("status") or "")
    if status in ("starting", "processing", ""):
        return None
    error = str(prediction.get("error") or "no error text")
    if status == "failed":
        lowered = error.lower()
        kind = (ErrorClass.CONTENT_POLICY if any(w in lowered for w in _POLICY_WORDS)
                else ErrorClass.PROVIDER_UNAVAILABLE)
        raise JobFailure(kind, clip(provider, 200, f"prediction failed: {error}"))
    if status == "canceled":
        raise JobFailure(ErrorClass.CANCELLED, f"{provider}: prediction was canceled")
    if status == "aborted":
        raise JobFailure(ErrorClass.TIMEOUT,
                         f"{provider}: prediction passed its deadline before starting")
    output = prediction.get("output")
    if isinstance(output, list) and len(output) > MAX_OUTPUT_URLS:  # each URL is a fetch (ADR 0084)
        raise JobFailure(ErrorClass.INVALID_OUTPUT,
                         f"{provider}: prediction returned {len(output)} outputs, over {MAX_OUTPUT_URLS}")
    urls = [output] if isinstance(output, str) else [u for u in output or [] if isinstance(u, str)]
    if status != "succeeded" or not urls:
        raise JobFailure(ErrorClass.INVALID_OUTPUT,
                         f"{provider}: prediction {status} without an image URL")
    if cost_micros is None and price is not None:
        cost_micros = price(len(urls))
    return ProviderResult(images=tuple(GeneratedImage(url=u) for u in urls),
                          cost_micros=cost_micros,
                          provider_job_id=str(prediction.get("id") or "") or None)
