"""OpenRouter adapter: image output through chat completions, errors in statuses and in 200 bodies.

Wire shapes (providers.md section 3):
* `POST {base}/chat/completions`, `Authorization: Bearer <key>`, `X-Title` for attribution.
* body: OpenAI chat format, `messages: [{"role": "user", "content": [{"type": "text"}, {"type":
  "image_url", "image_url": {"url": <data: URL>}}...]}]` (input images for edits),
  `modalities` from the catalog entry's mapping (`["image"]` for image-only models such as
  Flux, `["image", "text"]` for Gemini; corrections of 2026-12-01), `image_config:
  {"aspect_ratio"}`, optional `seed`, `user`.
* response: `choices[0].message.images[].image_url.url`, base64 data URLs, passed on as URLs
  (the inspector decodes them under its byte cap). No image and no error: a refusal;
  `finish_reason` "content_filter" -> content_policy, otherwise invalid_output.
* errors `{"error": {"code": <int>, "message", "metadata"?}}` in a non-200 response, or in a
  200 body when the failure happened during generation: mapped by that code. 400 ->
  invalid_request; 401 -> auth; 402 -> provider_quota; 403 (moderation, `metadata.reasons`)
  -> content_policy; 404 (no such model or no endpoint serves it) -> model_unavailable;
  408 -> timeout (the upstream model may have run: unknown outcome); 429 ->
  rate_limited after `Retry-After`; 502/503 (and other 5xx) -> provider_unavailable.
* cost: `usage.cost` is USD as a float; we store round(cost * 1_000_000) integer
  micro-dollars (half a micro-dollar is far below any price). Without it, the per-image table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.image_providers.http_wire import (
    aspect_ratio, clip, data_url, json_body, mapping_of, post, retry_after_s, table_cost,
    upstream_id,
)
from application.ports import Clock, GeneratedImage, ImageProvider, ProviderRequest, ProviderResult
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"

_CODE_CLASSES = {
    400: ErrorClass.INVALID_REQUEST, 401: ErrorClass.AUTH, 402: ErrorClass.PROVIDER_QUOTA,
    403: ErrorClass.CONTENT_POLICY, 404: ErrorClass.MODEL_UNAVAILABLE, 408: ErrorClass.TIMEOUT,
    422: ErrorClass.INVALID_REQUEST, 429: ErrorClass.RATE_LIMITED,
}


class OpenRouterImageProvider(ImageProvider):
    """Calls OpenRouter's chat completions with image output over a shared `httpx.AsyncClient`."""

    def __init__(self, *, api_key: str, client: httpx.AsyncClient, models: Mapping[str, ModelSpec],
                 clock: Clock, base_url: str = DEFAULT_BASE_URL, name: str = "openrouter") -> None:
        """Keep the credential and the client; the key only ever goes into the request header.

        Args:
            api_key: the OpenRouter key (sk-or-v1-...).
            client: the process-wide client.
            models: the catalog by name; `upstream_model` holds the OpenRouter slug.
            clock: for HTTP-date Retry-After values.
            base_url: the API root.
            name: the provider name jobs route to.
        """
        self.name = name
        self._headers = {"Authorization": f"Bearer {api_key}", "X-Title": "imagegen"}
        self._client, self._models, self._clock = client, models, clock
        self._base = base_url.rstrip("/")

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Generate, or edit the input images.

        Raises:
            JobFailure: classified as the module docstring says.
        """
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        content += [{"type": "image_url", "image_url": {"url": data_url(d)}}
                    for d in request.input_images]
        body: dict[str, Any] = {
            "model": upstream_id(self._models, request.model),
            "messages": [{"role": "user", "content": content}],
            "modalities": list(mapping_of(self._models, request.model).modalities
                               or ("image", "text")),
            "image_config": {"aspect_ratio": aspect_ratio(request.width, request.height)},
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.user_ref:
            body["user"] = request.user_ref
        response = await post(self._client, f"{self._base}/chat/completions", provider=self.name,
                              job_id=request.job_id, headers=self._headers, json=body)
        answer = json_body(response)
        error = answer.get("error")
        if response.status_code != 200 or isinstance(error, dict):
            raise self._failure(response, error if isinstance(error, dict) else {})
        choices = answer.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message") or {}
        images = tuple(GeneratedImage(url=_image_url(item))
                       for item in message.get("images") or [] if isinstance(item, dict))
        if not images:
            refusal = clip(self.name, 200, f"no image ({choice.get('finish_reason')}) "
                                           f"{message.get('content') or ''}".strip())
            blocked = choice.get("finish_reason") == "content_filter"
            error_class = ErrorClass.CONTENT_POLICY if blocked else ErrorClass.INVALID_OUTPUT
            raise JobFailure(error_class, refusal)
        cost = self._cost(request.model, answer, len(images))
        return ProviderResult(images=images, cost_micros=cost)

    def _cost(self, model: str, answer: dict[str, Any], images: int) -> int:
        cost = (answer.get("usage") or {}).get("cost")
        if isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0:
            return round(cost * 1_000_000)
        return table_cost(self._models, model, images)

    def _failure(self, response: httpx.Response, error: dict[str, Any]) -> JobFailure:
        code = error.get("code")
        code = code if isinstance(code, int) and code >= 400 else response.status_code
        message = str(error.get("message") or response.reason_phrase)
        metadata = error.get("metadata")
        reasons = metadata.get("reasons") if isinstance(metadata, dict) else None
        text = clip(self.name, code, f"{message} {reasons}" if reasons else message)
        error_class = _CODE_CLASSES.get(code) or (
            ErrorClass.PROVIDER_UNAVAILABLE if code >= 500 else ErrorClass.INVALID_REQUEST)
        retry_after = None
        if error_class in (ErrorClass.RATE_LIMITED, ErrorClass.PROVIDER_UNAVAILABLE):
            retry_after = retry_after_s(response.headers, self._clock.now())
        return JobFailure(error_class, text, retry_after_s=retry_after,
                          unknown_outcome=error_class is ErrorClass.TIMEOUT)


def _image_url(item: dict[str, Any]) -> str | None:
    """The URL of one `images[]` entry (a data: URL in practice); None when it has none."""
    image_url = item.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    return str(url) if url else None
