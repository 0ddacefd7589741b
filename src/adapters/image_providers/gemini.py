"""Google Gemini image ("Nano Banana") adapter: generateContent with image output, edits, errors.

Wire shapes (providers.md section 2):
* 2.1 `POST {base}/models/{model}:generateContent`, header `x-goog-api-key`, JSON body.
* 2.2 body `{"contents": [{"role": "user", "parts": [{"text"}, {"inlineData": {"mimeType",
  "data"}}...]}], "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig":
  {"aspectRatio"}, "seed"?}}`; input images go as `inlineData` parts after the text. A
  multi-turn edit sends the earlier turns first, oldest first: each as a `user` turn with its
  prompt and a `model` turn with its output images (the request's `history`, up to the
  configured depth); the parent's image is then not repeated in the new turn. Gemini
  takes no mask: a masked request fails as invalid_request. The size becomes the nearest
  documented aspect ratio.
* 2.3 images are `candidates[].content.parts[].inlineData.data` (base64; snake_case
  `inline_data` accepted too). A 200 without an image part is a failure: `promptFeedback.
  blockReason` or a safety `finishReason` (SAFETY, PROHIBITED_CONTENT, IMAGE_SAFETY,
  IMAGE_PROHIBITED_CONTENT, BLOCKLIST, SPII) -> content_policy; any other finish reason
  (NO_IMAGE, MAX_TOKENS, IMAGE_OTHER, STOP with text only, ...) -> invalid_output, a
  provider/output error (corrections of 2026-12-01). The model may make fewer images than
  asked; ProcessGeneration charges per stored image.
* 2.4 errors `{"error": {"code", "message", "status", "details": [...]}}` (maybe wrapped in a
  list): NOT_FOUND -> model_unavailable (a retired model answers it, ADR 0071);
  INVALID_ARGUMENT -> invalid_request (safety wording -> content_policy);
  FAILED_PRECONDITION (billing/region) -> provider_quota; PERMISSION_DENIED/UNAUTHENTICATED, or
  an ErrorInfo reason API_KEY_INVALID (a bad key answers 400; [unverified] in the reference) ->
  auth; RESOURCE_EXHAUSTED -> provider_quota when the quota is daily (a QuotaFailure id with
  "PerDay", or "exceeded your current quota" without a RetryInfo), else rate_limited after
  `RetryInfo.retryDelay` ("37s"); INTERNAL/UNAVAILABLE -> provider_unavailable;
  DEADLINE_EXCEEDED -> timeout with unknown outcome.
* 2.5 cost: `usageMetadata` token counts by modality times the model's `token_prices`
  (IMAGE candidates tokens are image output; `thoughtsTokenCount`, billed by Gemini 3.x as
  output, is priced at the text output rate), else the table.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.image_providers.http_wire import (
    aspect_ratio, clip, json_body, post, retry_after_s, sniff_mime, table_cost, upstream_id,
)
from application.ports import Clock, GeneratedImage, ImageProvider, ProviderRequest, ProviderResult
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"

#: Finish and block reasons that mean a content-policy refusal; any other is an output error.
SAFETY_REASONS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY",
                            "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII"})

_STATUS_CLASSES = {
    "INVALID_ARGUMENT": ErrorClass.INVALID_REQUEST, "NOT_FOUND": ErrorClass.MODEL_UNAVAILABLE,
    "FAILED_PRECONDITION": ErrorClass.PROVIDER_QUOTA, "PERMISSION_DENIED": ErrorClass.AUTH,
    "UNAUTHENTICATED": ErrorClass.AUTH, "INTERNAL": ErrorClass.PROVIDER_UNAVAILABLE,
    "UNAVAILABLE": ErrorClass.PROVIDER_UNAVAILABLE, "DEADLINE_EXCEEDED": ErrorClass.TIMEOUT,
}


class GeminiImageProvider(ImageProvider):
    """Calls `generateContent` on the Gemini API synchronously over a shared `httpx.AsyncClient`."""

    def __init__(self, *, api_key: str, client: httpx.AsyncClient, models: Mapping[str, ModelSpec],
                 clock: Clock, base_url: str = DEFAULT_BASE_URL, name: str = "gemini") -> None:
        """Keep the credential and the client; the key only ever goes into the request header.

        Args:
            api_key: the Gemini API key.
            client: the process-wide client.
            models: the catalog by name, for upstream ids and prices.
            clock: for HTTP-date Retry-After values.
            base_url: the API root, up to and including the version.
            name: the provider name jobs route to.
        """
        self.name = name
        self._headers = {"x-goog-api-key": api_key}
        self._client, self._models, self._clock = client, models, clock
        self._base = base_url.rstrip("/")

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Generate, or edit the input images (a parent job's output for a multi-turn edit).

        Raises:
            JobFailure: classified as the module docstring says.
        """
        if request.mask is not None:
            raise JobFailure(ErrorClass.INVALID_REQUEST, f"{self.name}: masks are not supported")
        earlier = {d for turn in request.history for d in turn.images}
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        parts += [_inline(d) for d in request.input_images if d not in earlier]
        ratio = aspect_ratio(request.width, request.height)
        config: dict[str, Any] = {"responseModalities": ["IMAGE"],
                                  "imageConfig": {"aspectRatio": ratio}}
        if request.seed is not None:
            config["seed"] = request.seed
        url = f"{self._base}/models/{upstream_id(self._models, request.model)}:generateContent"
        response = await post(self._client, url, provider=self.name, job_id=request.job_id,
                              headers=self._headers,
                              json={"contents": [*_history(request),
                                                 {"role": "user", "parts": parts}],
                                    "generationConfig": config})
        body = json_body(response)
        if response.status_code != 200:
            raise self._failure(response, body)
        images = tuple(_images(body))
        if not images:
            reason, text = self._refusal(body)
            kind = (ErrorClass.CONTENT_POLICY if reason in SAFETY_REASONS
                    else ErrorClass.INVALID_OUTPUT)
            raise JobFailure(kind, text,
                             provider_cost_micros=self._token_cost(request.model, body) or 0)
        cost = self._token_cost(request.model, body)
        return ProviderResult(images=images, cost_micros=cost if cost is not None
                              else table_cost(self._models, request.model, len(images)))

    def _token_cost(self, model: str, body: dict[str, Any]) -> int | None:
        spec = self._models.get(model)
        usage = body.get("usageMetadata")
        if spec is None or spec.token_prices is None or not isinstance(usage, dict):
            return None
        prompt = _by_modality(usage.get("promptTokensDetails"))
        out = _by_modality(usage.get("candidatesTokensDetails"))
        prompt_total = int(usage.get("promptTokenCount") or 0)
        out_total = int(usage.get("candidatesTokenCount") or 0)
        text_in = prompt.get("TEXT", prompt_total - prompt.get("IMAGE", 0))
        image_out = out.get("IMAGE", out_total - out.get("TEXT", 0))
        return spec.token_prices.cost_micros(
            text_in=text_in, image_in=prompt.get("IMAGE", 0), image_out=image_out,
            text_out=out.get("TEXT", 0) + int(usage.get("thoughtsTokenCount") or 0))

    def _refusal(self, body: dict[str, Any]) -> tuple[str, str]:
        """The block or finish reason of an answer without an image, and a message."""
        feedback = body.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            reason = str(feedback["blockReason"])
            # a blocked prompt is a refusal whatever the reason's name (OTHER included)
            return "SAFETY", f"{self.name}: the prompt was blocked ({reason})"
        candidates = body.get("candidates") or [{}]
        first = candidates[0] if isinstance(candidates[0], dict) else {}
        reason = str(first.get("finishReason") or "no image")
        texts = [p.get("text", "") for p in (first.get("content") or {}).get("parts") or []
                 if isinstance(p, dict) and p.get("text") and not p.get("thought")]
        detail = first.get("finishMessage") or " ".join(texts)
        return reason, clip(self.name, 200, f"no image ({reason}) {detail}".strip())

    def _failure(self, response: httpx.Response, body: dict[str, Any]) -> JobFailure:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        status, message = str(error.get("status") or ""), str(error.get("message") or "")
        text = clip(self.name, response.status_code, message or response.reason_phrase)
        details = [d for d in error.get("details") or [] if isinstance(d, dict)]
        if status == "RESOURCE_EXHAUSTED" or response.status_code == 429:
            return _exhausted(text, message, details, response, self._clock.now())
        error_class = _STATUS_CLASSES.get(status) or _class_for_status(response.status_code)
        if any("API_KEY" in str(d.get("reason", "")) for d in details):  # 400 API_KEY_INVALID
            error_class = ErrorClass.AUTH
        if error_class is ErrorClass.INVALID_REQUEST and "safety" in message.lower():
            error_class = ErrorClass.CONTENT_POLICY
        return JobFailure(error_class, text, unknown_outcome=error_class is ErrorClass.TIMEOUT)


def _inline(data: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": sniff_mime(data), "data": base64.b64encode(data).decode()}}


def _history(request: ProviderRequest) -> list[dict[str, Any]]:
    """Earlier turns as contents: the user's prompt, then the model's output images."""
    contents: list[dict[str, Any]] = []
    for turn in request.history:
        contents.append({"role": "user", "parts": [{"text": turn.prompt}]})
        if turn.images:
            contents.append({"role": "model", "parts": [_inline(d) for d in turn.images]})
    return contents


def _exhausted(text: str, message: str, details: list[dict[str, Any]], response: httpx.Response,
               now: Any) -> JobFailure:
    delay = next((_seconds(d.get("retryDelay")) for d in details
                  if str(d.get("@type", "")).endswith("google.rpc.RetryInfo")), None)
    quota_ids = [str(v.get("quotaId", "")) for d in details for v in d.get("violations") or []
                 if isinstance(v, dict)]
    daily = any("perday" in q.lower() for q in quota_ids) or (
        delay is None and "exceeded your current quota" in message.lower())
    if daily:
        return JobFailure(ErrorClass.PROVIDER_QUOTA, text)
    if delay is None:
        delay = retry_after_s(response.headers, now)
    return JobFailure(ErrorClass.RATE_LIMITED, text, retry_after_s=delay)


def _seconds(value: object) -> float | None:
    """Parse a protobuf Duration in JSON ('37s', '0.5s'); None when it is not one."""
    try:
        return float(str(value).removesuffix("s"))
    except ValueError:
        return None


def _class_for_status(status: int) -> ErrorClass:
    if status in (401, 403):
        return ErrorClass.AUTH
    if status == 404:
        return ErrorClass.MODEL_UNAVAILABLE
    if status == 504:
        return ErrorClass.TIMEOUT
    return ErrorClass.PROVIDER_UNAVAILABLE if status >= 500 else ErrorClass.INVALID_REQUEST


def _by_modality(details: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            key = str(item.get("modality", ""))
            counts[key] = counts.get(key, 0) + int(item.get("tokenCount") or 0)
    return counts


def _images(body: dict[str, Any]) -> list[GeneratedImage]:
    images = []
    for candidate in body.get("candidates") or []:
        for part in ((candidate or {}).get("content") or {}).get("parts") or []:
            if not isinstance(part, dict):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if not isinstance(inline, dict) or not inline.get("data"):
                continue
            try:
                images.append(GeneratedImage(data=base64.b64decode(inline["data"], validate=True)))
            except (binascii.Error, ValueError, TypeError):
                images.append(GeneratedImage())  # the inspector refuses it as invalid output
    return images
