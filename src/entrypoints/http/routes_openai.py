"""OpenAI-compatible image routes: /v1/images/generations (JSON) and /v1/images/edits (multipart).

Each request becomes an ordinary job (same validation, same credit ledger), and the answer
waits for it, up to `openai_wait_s`, so the official `openai` SDK works unchanged (ADR 0035).
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

import msgspec
import structlog
from litestar import Controller, Request, Response, post
from litestar.datastructures import ResponseHeader, UploadFile
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from application.commands import SubmitJob
from application.principal import Principal
from application.use_cases.await_job import AwaitJob
from application.use_cases.get_job import GetJob
from application.use_cases.submit_generation import SubmitGeneration
from application.use_cases.upload_input_image import UploadInputImage
from domain.errors import InvalidRequest
from domain.limits import MAX_INPUT_IMAGES, MAX_PROMPT_CHARS, TEXT_PATTERN
from domain.jobs import JobStatus
from entrypoints.http.bounded import Prompt, Short
from entrypoints.http.middleware_idempotency import idempotent_job_id
from entrypoints.http.openai_errors import OPENAI_EXCEPTION_HANDLERS, OpenAIError, openai_error
from entrypoints.settings import Settings

ResponseFormat = Literal["url", "b64_json"]
_CONTROL = re.compile(TEXT_PATTERN.replace("[^", "[", 1).strip("^$*"))
URL_TTL_S = 3600
MAX_EDIT_BODY = 20 * 1024 * 1024
_NO_RETRY = {"x-should-retry": "false"}  # a retry would start (and charge) another job
log = structlog.get_logger("imagegen.openai")


class ImageGenerationRequest(msgspec.Struct, kw_only=True):
    """OpenAI's generation body; fields we do not use (quality, style...) are accepted and ignored."""

    prompt: Prompt
    model: Short | None = None
    n: int | None = None
    size: Short | None = None
    response_format: ResponseFormat | None = None
    quality: Short | None = None
    style: Short | None = None
    background: Short | None = None
    output_format: Short | None = None
    moderation: Short | None = None
    user: Short | None = None


class ImageData(msgspec.Struct, kw_only=True, omit_defaults=True):
    b64_json: str | None = None
    url: str | None = None


class ImagesResponse(msgspec.Struct, kw_only=True):
    created: int
    data: list[ImageData]
    size: str | None = None
    output_format: str | None = None


_ERRORS = {code: ResponseSpec(OpenAIError, description=text) for code, text in {
    400: "invalid request (param names the field) or content policy",
    401: "missing or bad API key",
    429: "insufficient_quota: not enough credits; sent with `x-should-retry: false`",
    500: "the job failed", 503: "briefly unavailable", 504: "the job did not finish in time"}.items()}


_HEADERS = [ResponseHeader(name="x-imagegen-job-id", documentation_only=True,
                           description="the job that made the images (follow it at /v1/jobs/{id})")]


class OpenAIImagesController(Controller):
    path = "/v1/images"
    tags = ["openai-compatible"]
    response_headers = _HEADERS
    exception_handlers = OPENAI_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @post("/generations", status_code=200, summary="Create images (OpenAI-compatible)",
          responses=_ERRORS)
    async def generations(self, request: Request[Any, Any, Any], data: JSONBody[ImageGenerationRequest],
                          principal: NamedDependency[Principal], settings: NamedDependency[Settings],
                          submit_job: NamedDependency[SubmitGeneration], await_job: NamedDependency[AwaitJob],
                          get_job: NamedDependency[GetJob], storage: NamedDependency[Any]) -> Response[Any]:
        size = data.size if data.size not in (None, "auto") else "1024x1024"
        cmd = SubmitJob(user_id=principal.user_id, prompt=data.prompt,
                        model=data.model or settings.default_model, size=size or "1024x1024",
                        n=1 if data.n is None else data.n, project_id=principal.project_id,
                        job_id=idempotent_job_id(request.scope))  # type: ignore[arg-type]
        return await _run(cmd, data.response_format or "b64_json", settings, submit_job, await_job,
                          get_job, storage)

    @post("/edits", status_code=200, summary="Edit an image (OpenAI-compatible, multipart)",
          request_max_body_size=MAX_EDIT_BODY, responses=_ERRORS,
          description="multipart/form-data: `image` (or repeated `image[]`), optional `mask`, "
                      "`prompt`, `model`, `n`, `size`, `response_format` (url or b64_json).")
    async def edits(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                    settings: NamedDependency[Settings], submit_job: NamedDependency[SubmitGeneration],
                    await_job: NamedDependency[AwaitJob], get_job: NamedDependency[GetJob],
                    storage: NamedDependency[Any],
                    upload_input_image: NamedDependency[UploadInputImage]) -> Response[Any]:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise InvalidRequest("image", "send multipart/form-data")
        form = await request.form()
        files = [f for f in (*form.getall("image", []), *form.getall("image[]", []))
                 if isinstance(f, UploadFile)]
        prompt = form.get("prompt")
        if not files:
            raise InvalidRequest("image", "required: one image file")
        if len(files) > MAX_INPUT_IMAGES:
            raise InvalidRequest("image", f"at most {MAX_INPUT_IMAGES} images")
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequest("prompt", "required")
        for name in ("prompt", "model", "size", "response_format", "n", "user"):
            _check_text(form, name)
        response_format = _text(form, "response_format") or "b64_json"
        if response_format not in ("url", "b64_json"):
            raise InvalidRequest("response_format", "url or b64_json")
        mask = form.get("mask")
        blobs = [("image", await f.read()) for f in files]
        if isinstance(mask, UploadFile):
            blobs.append(("mask", await mask.read()))
        # Everything that could refuse the edit is checked before a byte is stored (ADR 0080):
        upload_bytes = upload_input_image.check_all(blobs)  # sizes, headers, pixel caps
        size = _text(form, "size")
        if size in (None, "auto"):
            _, width, height = upload_input_image.dimensions(blobs[0][1])
            size = f"{width}x{height}"
        draft = SubmitJob(user_id=principal.user_id, prompt=prompt,
                          model=_text(form, "model") or settings.default_model, size=size,
                          n=_int(form, "n", 1), project_id=principal.project_id,
                          job_id=idempotent_job_id(request.scope))  # type: ignore[arg-type]
        await submit_job.precheck_edit(draft, upload_bytes=upload_bytes)  # model, credits, quota room
        stored = await upload_input_image.many(  # all or none; the quota counted in the write
            principal.user_id, [(data, field) for field, data in blobs])
        inputs = [i for (field, _), i in zip(blobs, stored, strict=True) if field == "image"]
        mask_image = next((i for (field, _), i in zip(blobs, stored, strict=True) if field == "mask"), None)
        cmd = msgspec.structs.replace(draft, input_image_ids=tuple(i.id for i in inputs),
                                      mask_image_id=mask_image.id if mask_image else None)
        return await _run(cmd, response_format, settings, submit_job, await_job,  # type: ignore[arg-type]
                          get_job, storage)


def _check_text(form: Any, name: str) -> None:
    value = form.get(name)
    if isinstance(value, str) and (len(value) > MAX_PROMPT_CHARS or _CONTROL.search(value)):
        raise InvalidRequest(name, f"at most {MAX_PROMPT_CHARS} characters, no control characters")


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def _int(form: Any, name: str, default: int) -> int:
    value = _text(form, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(name, "an integer") from None


async def _run(cmd: SubmitJob, response_format: ResponseFormat, settings: Settings,
               submit_job: SubmitGeneration, await_job: AwaitJob, get_job: GetJob,
               storage: Any) -> Response[Any]:
    submitted = await submit_job(cmd)
    job_id = submitted.job.id
    try:  # the job is committed (and charged): every answer from here names it and is never retried
        response = await _answer(job_id, submitted.job.created_at.timestamp(), cmd.user_id, response_format,
                                 settings, await_job, get_job, storage)
    except Exception as exc:  # noqa: BLE001 - after the commit a retry would start another job
        log.exception("openai.failed_after_commit", job_id=job_id, error_type=type(exc).__name__)
        response = openai_error(500, f"The server had an error answering for job {job_id}; follow it at "
                                     f"/v1/jobs/{job_id} instead of retrying.", "server_error",
                                code="server_error")
    response.headers["x-imagegen-job-id"] = job_id
    if (response.status_code or 200) >= 400:
        response.headers.update(_NO_RETRY)
    return response


async def _answer(job_id: str, created: float, user_id: str, response_format: ResponseFormat,
                  settings: Settings, await_job: AwaitJob, get_job: GetJob, storage: Any) -> Response[Any]:
    state = await await_job(user_id, job_id, timeout_s=settings.openai_wait_s)
    if state.status is JobStatus.COMPLETED:
        images = sorted((await get_job(user_id, job_id)).images, key=lambda i: i.index)
        data = [ImageData(b64_json=base64.b64encode(await storage.get(i.key)).decode())
                if response_format == "b64_json" else
                ImageData(url=storage.url_for(i.key, expires_in_s=URL_TTL_S)) for i in images]
        body = ImagesResponse(created=int(created), data=data,
                              size=f"{state.width}x{state.height}",
                              output_format=images[0].content_type.split("/")[-1] if images else None)
        return Response(msgspec.json.encode(body), media_type="application/json",
                        headers={"x-imagegen-job-id": job_id})
    if not state.status.terminal:
        return openai_error(504, f"Job {job_id} is still {state.status.value}; follow it at "
                                 f"/v1/jobs/{job_id}.", "server_error", code="timeout", headers=_NO_RETRY)
    if state.error_class == "content_policy":
        return openai_error(400, state.error_message or "Your request was rejected by the safety system.",
                            "invalid_request_error", param="prompt", code="content_policy_violation")
    if state.error_class == "invalid_request":
        return openai_error(400, state.error_message or "invalid request", "invalid_request_error")
    return openai_error(500, f"Job {job_id} {state.status.value}: {state.error_class or 'cancelled'}",
                        "server_error", code=state.error_class, headers=_NO_RETRY)
