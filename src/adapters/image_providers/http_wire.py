"""HTTP plumbing the synchronous providers share: a classified POST, Retry-After, small helpers.

Transport failures are classified by what they prove (providers.md section 0, item 2): a
connection that never opened proves the request did not run (provider_unavailable, retried);
a read timeout or a dropped connection after the request was sent does not (timeout with
`unknown_outcome`, which `RetryPolicy` retries at most once, since it may bill twice).
"""

from __future__ import annotations

import base64
import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import structlog

from domain.failures import ErrorClass, JobFailure
from domain.model_mapping import RequestMapping
from domain.pricing import ModelSpec

log = structlog.get_logger("imagegen.providers")

#: Longest provider error text we copy into a job's message (the full text goes to the log).
MAX_MESSAGE = 160

#: Credential-looking runs in provider error text: OpenAI/OpenRouter `sk-...`, Replicate `r8_`,
#: Google `AIza...`, fal `key:secret` pairs, bearer tokens, and any long opaque token.
_SECRETS = re.compile(
    r"(?i)(bearer\s+\S+|\bkey\s+[\w:.-]{8,}|sk-[\w-]{6,}|r8_\w{6,}|AIza[\w-]{10,}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{16,}"
    r"|\b[A-Za-z0-9_+/=-]{32,}\b)")


async def post(client: httpx.AsyncClient, url: str, *, provider: str, job_id: str,
               headers: Mapping[str, str], **content: Any) -> httpx.Response:
    """POST and log status, latency and the provider's request id (never the headers).

    Args:
        client: the shared client (its timeouts apply).
        url: the provider endpoint.
        provider: provider name for logs and messages.
        job_id: our job id, for logs.
        headers: request headers, including the credential.
        **content: `json=`, or `data=` and `files=` for multipart.

    Raises:
        JobFailure: provider_unavailable when no connection could be made (or the request
            could not be sent); timeout with unknown_outcome when the answer did not come.
    """
    started = time.perf_counter()
    try:
        response = await client.post(url, headers=dict(headers), **content)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout,
            httpx.WriteError) as exc:
        log.warning("provider.unreachable", provider=provider, job_id=job_id,
                    error=type(exc).__name__)
        raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE,
                         f"{provider}: could not reach the API ({type(exc).__name__})") from exc
    except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
        log.warning("provider.no_answer", provider=provider, job_id=job_id,
                    error=type(exc).__name__)
        raise JobFailure(
            ErrorClass.TIMEOUT,
            f"{provider}: no answer after the request was sent ({type(exc).__name__}); the image "
            "may have been made and billed, so it is retried at most once",
            unknown_outcome=True) from exc
    except httpx.TransportError as exc:  # proxy or protocol trouble before any answer
        raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE,
                         f"{provider}: transport error ({type(exc).__name__})") from exc
    log.info("provider.response", provider=provider, job_id=job_id, status=response.status_code,
             request_id=response.headers.get("x-request-id", ""),
             latency_ms=round((time.perf_counter() - started) * 1000))
    return response


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; {} when it is not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Google sometimes wraps its error object in a one-element array
    return body if isinstance(body, dict) else {}


def retry_after_s(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds from `retry-after-ms`, else `retry-after` (delta-seconds or HTTP date), else None."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    text = headers.get("retry-after")
    if not text:
        return None
    try:
        value = float(text)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds()) if when.tzinfo else None


def redact(text: str) -> str:
    """`text` with every credential-looking run replaced by `[redacted]`."""
    return _SECRETS.sub("[redacted]", text)


def clip(provider: str, status: int, message: object) -> str:
    """A user-safe message: provider, status and the start of its text, redacted and short.

    The full text is logged (at info: the job's failure is logged by the use case), since
    support needs it and it can carry key fragments that end users must not see.
    """
    full = str(message or "no message")
    log.info("provider.error_text", provider=provider, status=status, text=full[:4000])
    short = redact(" ".join(full.split()))
    if len(short) > MAX_MESSAGE:
        short = short[:MAX_MESSAGE - 1].rstrip() + "…"
    return f"{provider} {status}: {short}"


def upstream_id(models: Mapping[str, ModelSpec], model: str) -> str:
    """The provider's own id for our catalog name (`upstream_model`, else the name itself)."""
    spec = models.get(model)
    return spec.upstream if spec else model


def mapping_of(models: Mapping[str, ModelSpec], model: str) -> RequestMapping:
    """The entry's request mapping (the defaults for a model missing from the catalog)."""
    spec = models.get(model)
    return spec.mapping if spec else RequestMapping()


def retired(provider: str, model: str, status: int, message: str) -> JobFailure:
    """The provider does not serve `model` (retired or never enabled): an operator error."""
    return JobFailure(ErrorClass.MODEL_UNAVAILABLE,
                      clip(provider, status, f"model {model} is not available: {message}"))


def table_cost(models: Mapping[str, ModelSpec], model: str, images: int) -> int:
    """The per-image table price times the images made; 0 for an unknown model."""
    spec = models.get(model)
    return spec.price_micros_per_image * images if spec else 0


def sniff_mime(data: bytes) -> str:
    """The image type of input bytes we hold (they were decoded when stored), PNG by default."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def data_url(data: bytes) -> str:
    """A base64 data: URL for an input image."""
    return f"data:{sniff_mime(data)};base64,{base64.b64encode(data).decode()}"


#: Aspect ratios the Gemini image models document (providers.md section 2.2), as w / h.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def aspect_ratio(width: int, height: int) -> str:
    """The documented aspect ratio nearest to width:height (832x1248 gives '2:3')."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(ASPECT_RATIOS, key=distance)
