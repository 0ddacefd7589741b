"""POST /v1/uploads: keep an input image (an edit's source or mask) and answer its id.

The id goes into `inputImageIds` / `maskImageId` of POST /v1/jobs, so an edit is an ordinary
job that can be watched over SSE (the OpenAI-compatible /v1/images/edits waits instead).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from application.principal import Principal
from domain.errors import InvalidRequest
from entrypoints.http.schemas import Api, ErrorBody

MAX_UPLOAD_BODY = 9 * 1024 * 1024  # the use case refuses images over 8 MiB, naming the field


class UploadOut(Api):
    id: str
    content_type: str
    width: int
    height: int
    size_bytes: int


@post("/v1/uploads", status_code=201, tags=["images"], summary="Upload an input image or mask",
      request_max_body_size=MAX_UPLOAD_BODY,
      description="multipart/form-data with one file in `image` or in `mask` (PNG, JPEG or "
                  "WebP, up to 8 MiB); use the id in `inputImageIds` or `maskImageId`.",
      responses={400: ResponseSpec(ErrorBody, description="no file, or not a decodable image")})
async def upload_image(request: Request[Any, Any, Any], principal: NamedDependency[Principal],
                       upload_input_image_use_case: NamedDependency[Any]) -> UploadOut:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("image", "send multipart/form-data")
    form = await request.form()
    field = "mask" if isinstance(form.get("mask"), UploadFile) else "image"
    file = form.get(field)
    if not isinstance(file, UploadFile):
        raise InvalidRequest("image", "required: one file in `image` or `mask`")
    stored = await upload_input_image_use_case(principal.user_id, await file.read(), field=field)
    return UploadOut(id=stored.id, content_type=stored.content_type, width=stored.width,
                     height=stored.height, size_bytes=stored.size_bytes)
