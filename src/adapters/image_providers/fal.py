"""fal: queue requests submitted with `?fal_webhook=`, so jobs park in awaiting_callback.

Submit: `POST {queue}/{endpoint}?fal_webhook=<url>` with the model's input (field names from
the catalog entry's mapping); the answer's `request_id` is the provider job id. Status, result
and cancel live under `{queue}/[{namespace}/]{owner}/{alias}/requests/{id}`, built as
`fal_client` builds them (`AppId.from_endpoint_id`): the namespaces `workflows` and `comfy`
take one more segment, and any sub-path (`fal-ai/flux/dev` -> `fal-ai/flux`) is dropped.
Request errors carry `{"detail": "...", "error_type": ...}`; model errors
`{"detail": [{loc, msg, type}]}`; a content-policy failure is typed in the result body
(`error_type` or `detail[].type` such as `content_policy_violation`), whatever the status
text says. An ingress 502/503/504 on a status or result read means "ask again", not a
timeout of the request (corrections of 2026-12-01). A 404 on submit: model_unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
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

DEFAULT_QUEUE_URL = "https://queue.fal.run"
_POLICY_WORDS = ("nsfw", "safety", "content_policy", "content policy", "moderation")
#: First path segments that name a namespace, not an owner (fal_client's APP_NAMESPACES).
APP_NAMESPACES = ("workflows", "comfy")


def app_root(endpoint_id: str) -> str:
    """`[namespace/]owner/alias` of an endpoint id, as fal_client's `AppId` parses it.

    Raises:
        ValueError: for an id with too few segments.
    """
    parts = [p for p in endpoint_id.strip("/").split("/") if p]
    if parts and parts[0] in APP_NAMESPACES:
        if len(parts) < 3:
            raise ValueError(f"fal endpoint {endpoint_id!r} needs namespace/owner/alias")
        return "/".join(parts[:3])
    if len(parts) < 2:
        raise ValueError(f"fal endpoint {endpoint_id!r} needs owner/alias")
    return "/".join(parts[:2])


class FalImageProvider(ImageProvider, AsyncProviderControl):
    """Submits queue requests with a webhook; reads status, result and cancels by request id."""

    def __init__(self, *, api_key: str, client: httpx.AsyncClient, models: Mapping[str, ModelSpec],
                 clock: Clock, webhook_url: str, queue_url: str = DEFAULT_QUEUE_URL,
                 name: str = "fal") -> None:
        """Keep the credential (it only ever goes into the Authorization header).

        Args:
            api_key: the FAL_KEY.
            client: the process-wide HTTP client.
            models: the catalog by name; `upstream_model` is the endpoint ("fal-ai/flux/dev").
            clock: for HTTP-date Retry-After values.
            webhook_url: where fal posts finished requests (our receiver).
            queue_url: the queue root (tests, proxies).
            name: the provider name jobs route to.
        """
        self.name = name
        self._headers = {"Authorization": f"Key {api_key}"}
        self._client, self._models, self._clock = client, dict(models), clock
        self._webhook_url, self._queue = webhook_url, queue_url.rstrip("/")

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Submit the request to the queue and return its request id.

        Raises:
            JobFailure: classified submit errors.
        """
        body = model_input(mapping_of(self._models, request.model), request)
        endpoint = upstream_id(self._models, request.model).strip("/")
        url = str(httpx.URL(f"{self._queue}/{endpoint}", params={"fal_webhook": self._webhook_url}))
        response = await post(self._client, url, provider=self.name, job_id=request.job_id,
                              headers=self._headers, json=body)
        if response.status_code == 404:
            raise retired(self.name, endpoint, 404, _detail(response))
        if response.status_code not in (200, 201, 202):
            raise self._failure(response)
        request_id = json_body(response).get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE,
                             f"{self.name}: submit answered without a request_id")
        log.info("fal.request_submitted", job_id=request.job_id, request_id=request_id)
        return ProviderResult(provider_job_id=request_id)

    async def status(self, request_id: str, *, model: str) -> dict[str, Any]:
        """`GET …/requests/{id}/status`: IN_QUEUE, IN_PROGRESS or COMPLETED (errors as `result`)."""
        return (await self._call("GET", self._request_url(model, request_id, "/status")))[1]

    async def result(self, request_id: str, *, model: str) -> dict[str, Any]:
        """`GET …/requests/{id}`: the model's output.

        Raises:
            ProviderUnreachable: network errors, 429 and 5xx other than fal's timeouts.
            JobFailure: the request's own failure (model errors, timeouts, auth).
        """
        return (await self._call("GET", self._request_url(model, request_id, "")))[1]

    async def fetch_result(self, provider_job_id: str, *, model: str = "") -> ProviderResult | None:
        """The finished request's images, None while queued or running."""
        state = await self.status(provider_job_id, model=model)
        if state.get("status") != "COMPLETED":
            return None
        if state.get("error"):
            raise _classify(str(state.get("error_type") or ""), str(state["error"]), self.name)
        output = await self.result(provider_job_id, model=model)
        typed = _typed_error(output)
        if typed is not None:
            raise _classify(typed[0], typed[1], self.name)
        return parse_result(output, provider=self.name,
                            cost_micros=None, price=lambda n: table_cost(self._models, model, n))

    async def cancel(self, provider_job_id: str, *, model: str = "") -> None:
        """`PUT …/requests/{id}/cancel` (queued: removed; running: the app is signalled)."""
        await self._call("PUT", self._request_url(model, provider_job_id, "/cancel"))

    def _request_url(self, model: str, request_id: str, suffix: str) -> str:
        app = app_root(upstream_id(self._models, model))
        return f"{self._queue}/{app}/requests/{request_id}{suffix}"

    async def _call(self, method: str, url: str) -> tuple[int, dict[str, Any]]:
        try:
            response = await self._client.request(method, url, headers=self._headers)
        except httpx.TransportError as exc:
            raise ProviderUnreachable(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code == 504 and _ingress(response):
            # the gateway timed out answering the poll; the request itself runs on
            raise ProviderUnreachable(clip(self.name, 504, "ingress timeout; poll again"))
        if response.status_code in (429, 502, 503) or (response.status_code >= 500
                                                        and response.status_code != 504):
            raise ProviderUnreachable(clip(self.name, response.status_code, _detail(response)))
        if response.status_code in (400, 422) and _typed_error(json_body(response)):
            kind, text = _typed_error(json_body(response)) or ("", "")
            raise _classify(kind, text, self.name)
        if response.status_code >= 400:
            raise self._failure(response)
        return response.status_code, json_body(response)

    def _failure(self, response: httpx.Response) -> JobFailure:
        status, body = response.status_code, json_body(response)
        message = clip(self.name, status, _detail(response))
        error_type = str(body.get("error_type") or response.headers.get("x-fal-error-type", ""))
        if status == 429:
            return JobFailure(ErrorClass.RATE_LIMITED, message,
                              retry_after_s=retry_after_s(response.headers, self._clock.now()))
        if status in (401, 403):
            return JobFailure(ErrorClass.AUTH, message)
        if status == 402:
            return JobFailure(ErrorClass.PROVIDER_QUOTA, message)
        if status == 504 or error_type.endswith("timeout"):
            return JobFailure(ErrorClass.TIMEOUT, message)
        if status >= 500:
            return JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, message)
        return _classify(_model_error_type(body), message, self.name, prefixed=True)


def _ingress(response: httpx.Response) -> bool:
    """True for a gateway 504 (nginx-style, no fal error type), not a request's own timeout."""
    error_type = str(json_body(response).get("error_type")
                     or response.headers.get("x-fal-error-type", ""))
    return not error_type.endswith("timeout")


def _typed_error(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(type, message) of an error typed in a result body, or None for an ordinary result."""
    if body.get("images"):
        return None
    if isinstance(body.get("error_type"), str) and body["error_type"]:
        text = body.get("detail") or body.get("error") or body["error_type"]
        return body["error_type"], str(text)
    detail = body.get("detail")
    first = detail[0] if isinstance(detail, list) and detail else None
    if isinstance(first, dict) and first.get("type"):
        return str(first["type"]), str(first.get("msg") or first["type"])
    return None


def _detail(response: httpx.Response) -> str:
    detail = json_body(response).get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg") or detail[0].get("type") or detail)
    return str(detail or response.text[:200])


def _model_error_type(body: Mapping[str, Any]) -> str:
    detail = body.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("type") or "")
    return ""


def _classify(error_type: str, message: str, provider: str, *,
              prefixed: bool = False) -> JobFailure:
    text = message if prefixed else clip(provider, 200, message)
    lowered = f"{error_type} {message}".lower()
    if any(w in lowered for w in _POLICY_WORDS):
        return JobFailure(ErrorClass.CONTENT_POLICY, text)
    if error_type.endswith("timeout"):
        return JobFailure(ErrorClass.TIMEOUT, text)
    if error_type.startswith("runner_"):
        return JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, text)
    return JobFailure(ErrorClass.INVALID_REQUEST, text)


def parse_result(output: Mapping[str, Any], *, provider: str = "fal",
                 cost_micros: int | None = None,
                 price: Callable[[int], int] | None = None) -> ProviderResult:
    """An image model's output `{images: [{url, ...}], ...}` as a result.

    Raises:
        JobFailure: invalid_output when there is no image URL.
    """
    images = output.get("images")
    urls = [i["url"] for i in images or [] if isinstance(i, dict) and isinstance(i.get("url"), str)]
    if not urls:
        raise JobFailure(ErrorClass.INVALID_OUTPUT, f"{provider}: the result has no image URL")
    if cost_micros is None and price is not None:
        cost_micros = price(len(urls))
    images = tuple(GeneratedImage(url=u) for u in urls)
    return ProviderResult(images=images, cost_micros=cost_micros)
