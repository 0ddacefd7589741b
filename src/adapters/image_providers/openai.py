"""OpenAI Images API adapter: generations (JSON) and edits (multipart), errors mapped to classes.

Wire shapes (providers.md section 1):
* 1.1 `POST {base}/images/generations` (JSON) and `POST {base}/images/edits` (multipart),
  `Authorization: Bearer <key>`; every response carries `x-request-id`, which we log.
* 1.2/1.3 `model` is always sent (generations otherwise default to dall-e-2); `n`, `size` as
  'WxH', `safety_identifier` = our hashed user id (it superseded `user`, corrections of
  2026-12-01); `response_format: b64_json` for dall-e models only (GPT-image always answers
  base64 and rejects the field).
* 1.6 streaming: for a model whose catalog mapping asks for `partial_images` and a request
  for one image with a preview sink, `stream: true` + `partial_images`; each
  `*.partial_image` event goes to the sink, the `*.completed` event is the result (ADR 0072).
* 1.4 edits: one input as `image`, several as repeated `image[]` parts, optional `mask` part.
* 1.5 `data[]` items carry `b64_json` or `url` (dall-e URLs live 60 min: the inspector fetches
  them at once with the SSRF-guarded fetcher); GPT-image adds `usage{input_tokens,
  input_tokens_details{text_tokens,image_tokens}, output_tokens, output_tokens_details?}`.
* 1.7 errors `{"error": {"message", "type", "param", "code"}}`, mapped as table 0.1 says:
  400 content_policy_violation / moderation_blocked -> content_policy (an output-stage block
  records the table cost, the model ran); "organization must be verified" (403 now, 400
  before) -> auth, an operator error; 404 or `model_not_found` -> model_unavailable (a
  retired model, ADR 0071); other 400, 422 -> invalid_request; 401/403 -> auth;
  408 -> timeout; 409, 5xx ->
  provider_unavailable (504 -> timeout with unknown outcome); 429 insufficient_quota ->
  provider_quota, other 429 -> rate_limited with `retry-after-ms`, then `retry-after`.
* 1.8 cost: from `usage` and the model's `token_prices` when both exist (output tokens without
  `output_tokens_details` are all image tokens), else the per-image table times images.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import structlog

from adapters.image_providers.http_wire import (
    clip, json_body, mapping_of, post, retired, retry_after_s, sniff_mime, table_cost,
    upstream_id,
)
from application.ports import Clock, GeneratedImage, ImageProvider, ProviderRequest, ProviderResult
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec

log = structlog.get_logger("imagegen.providers")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_SAFETY_CODES = frozenset({"content_policy_violation", "moderation_blocked"})


class OpenAIImageProvider(ImageProvider):
    """Calls the OpenAI Images API synchronously over a shared `httpx.AsyncClient`."""

    def __init__(self, *, api_key: str, client: httpx.AsyncClient, models: Mapping[str, ModelSpec],
                 clock: Clock, base_url: str = DEFAULT_BASE_URL, name: str = "openai") -> None:
        """Keep the credential and the client; the key only ever goes into the request header.

        Args:
            api_key: the OpenAI API key.
            client: the process-wide client (its timeouts and pool apply).
            models: the catalog by name, for upstream ids and prices.
            clock: for HTTP-date Retry-After values.
            base_url: the API root (overridden in tests and for proxies).
            name: the provider name jobs route to.
        """
        self.name = name
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._client, self._models, self._clock = client, models, clock
        self._base = base_url.rstrip("/")

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Generate, or edit when the request carries input images.

        Raises:
            JobFailure: classified as the module docstring says.
        """
        model = upstream_id(self._models, request.model)
        fields: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": request.n,
                                  "size": f"{request.width}x{request.height}"}
        if request.user_ref:
            fields["safety_identifier"] = request.user_ref[:128]
        if model.startswith("dall-e"):
            fields["response_format"] = "b64_json"
        partials = mapping_of(self._models, request.model).partial_images
        if partials and request.previews is not None and request.n == 1:
            fields.update(stream=True, partial_images=partials)
            return await self._stream(request, fields)
        if request.input_images:
            response = await post(
                self._client, f"{self._base}/images/edits", provider=self.name,
                job_id=request.job_id, headers=self._headers,
                data={k: str(v) for k, v in fields.items()}, files=_edit_files(request))
        else:
            response = await post(
                self._client, f"{self._base}/images/generations", provider=self.name,
                job_id=request.job_id, headers=self._headers, json=fields)
        if response.status_code != 200:
            raise self._failure(response, request)
        body = json_body(response)
        images = tuple(_image(item) for item in body.get("data") or [] if isinstance(item, dict))
        if not images:
            raise JobFailure(ErrorClass.INVALID_OUTPUT, f"{self.name}: the response held no image")
        cost = self._cost(request.model, body, len(images))
        return ProviderResult(images=images, cost_micros=cost)

    async def _stream(self, request: ProviderRequest, fields: dict[str, Any]) -> ProviderResult:
        """One streamed call: partial images to the preview sink, the completed event kept."""
        if request.input_images:
            url, content = f"{self._base}/images/edits", {
                "data": {k: str(v).lower() if isinstance(v, bool) else str(v)
                         for k, v in fields.items()}, "files": _edit_files(request)}
        else:
            url, content = f"{self._base}/images/generations", {"json": fields}
        started = time.perf_counter()
        try:
            async with self._client.stream("POST", url, headers=self._headers, **content) as answer:
                if answer.status_code != 200:
                    await answer.aread()
                    raise self._failure(answer, request)
                completed = await self._read_events(answer, request)
        except httpx.ConnectError as exc:
            raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, f"{self.name}: could not reach "
                             f"the API ({type(exc).__name__})") from exc
        except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise JobFailure(ErrorClass.TIMEOUT, f"{self.name}: the stream broke off "
                             f"({type(exc).__name__}); retried at most once",
                             unknown_outcome=True) from exc
        log.info("provider.response", provider=self.name, job_id=request.job_id, status=200,
                 streamed=True, latency_ms=round((time.perf_counter() - started) * 1000))
        image = _image(completed)
        if image.data is None:
            raise JobFailure(ErrorClass.INVALID_OUTPUT, f"{self.name}: the stream held no image")
        return ProviderResult(images=(image,), cost_micros=self._cost(request.model, completed, 1))

    async def _read_events(self, answer: httpx.Response,
                           request: ProviderRequest) -> dict[str, Any]:
        """Read SSE `data:` lines until the completed event; partials go to the sink."""
        async for line in answer.aiter_lines():
            if not line.startswith("data:"):
                continue
            try:
                event = json.loads(line[5:].strip())
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            kind = str(event.get("type") or "")
            if kind.endswith(".partial_image") and request.previews is not None:
                preview = _image(event)
                if preview.data is not None:
                    await request.previews(preview.data, int(event.get("partial_image_index") or 0))
            elif kind.endswith(".completed"):
                return event
            elif kind == "error" or "error" in event:
                error = event.get("error") if isinstance(event.get("error"), dict) else event
                raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE,
                                 clip(self.name, 200, error.get("message") or "stream error"))
        raise JobFailure(ErrorClass.INVALID_OUTPUT,
                         f"{self.name}: the stream ended without an image")

    def _cost(self, model: str, body: dict[str, Any], images: int) -> int:
        spec = self._models.get(model)
        usage = body.get("usage")
        if spec is None or spec.token_prices is None or not isinstance(usage, dict):
            return table_cost(self._models, model, images)
        inputs = usage.get("input_tokens_details") or {}
        outputs = usage.get("output_tokens_details")
        input_total = int(usage.get("input_tokens") or 0)
        image_in = int(inputs.get("image_tokens") or 0)
        text_in = int(inputs.get("text_tokens") or (input_total - image_in))
        output_total = int(usage.get("output_tokens") or 0)
        if isinstance(outputs, dict):
            text_out = int(outputs.get("text_tokens") or 0)
            image_out = int(outputs.get("image_tokens") or (output_total - text_out))
        else:  # no breakdown: every output token is an image token (litellm #31142)
            text_out, image_out = 0, output_total
        return spec.token_prices.cost_micros(text_in=text_in, image_in=image_in,
                                             text_out=text_out, image_out=image_out)

    def _failure(self, response: httpx.Response, request: ProviderRequest) -> JobFailure:
        status = response.status_code
        body = json_body(response)
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
        text = clip(self.name, status, message or response.reason_phrase)
        if status == 400 and code in _SAFETY_CODES:
            details = error.get("moderation_details") or body.get("moderation_details") or {}
            ran = isinstance(details, dict) and details.get("moderation_stage") == "output"
            cost = table_cost(self._models, request.model, request.n) if ran else 0
            return JobFailure(ErrorClass.CONTENT_POLICY, text, provider_cost_micros=cost)
        if status in (400, 403) and "must be verified" in message.lower():
            return JobFailure(ErrorClass.AUTH, text)  # the operator verifies the organization
        if status == 404 or code == "model_not_found":
            return retired(self.name, upstream_id(self._models, request.model), status, message)
        if status in (401, 403):
            return JobFailure(ErrorClass.AUTH, text)
        if status == 429:
            if code == "insufficient_quota" or "exceeded your current quota" in message.lower():
                return JobFailure(ErrorClass.PROVIDER_QUOTA, text)
            return JobFailure(ErrorClass.RATE_LIMITED, text,
                              retry_after_s=retry_after_s(response.headers, self._clock.now()))
        if status == 408:
            return JobFailure(ErrorClass.TIMEOUT, text)
        if status == 504:
            return JobFailure(ErrorClass.TIMEOUT, text, unknown_outcome=True)
        if status == 409 or status >= 500:
            return JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, text,
                              retry_after_s=retry_after_s(response.headers, self._clock.now()))
        return JobFailure(ErrorClass.INVALID_REQUEST, text)


def _edit_files(request: ProviderRequest) -> list[tuple[str, tuple[str, bytes, str]]]:
    field = "image" if len(request.input_images) == 1 else "image[]"
    files = [(field, (f"image{i}.{sniff_mime(d).split('/')[1]}", d, sniff_mime(d)))
             for i, d in enumerate(request.input_images)]
    if request.mask is not None:
        files.append(("mask", ("mask.png", request.mask, "image/png")))
    return files


def _image(item: dict[str, Any]) -> GeneratedImage:
    if item.get("b64_json"):
        try:
            return GeneratedImage(data=base64.b64decode(item["b64_json"], validate=True))
        except (binascii.Error, ValueError, TypeError):
            return GeneratedImage()  # the inspector rejects it; other images may still be good
    return GeneratedImage(url=str(item["url"])) if item.get("url") else GeneratedImage()
