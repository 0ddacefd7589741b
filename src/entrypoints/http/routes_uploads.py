"""POST /v1/uploads: keep an input image (an edit's source or mask) and answer its id.

The id goes into `inputImageIds` / `maskImageId` of POST /v1/jobs, so an edit is an ordinary
job that can be watched over SSE (the OpenAI-compatible /v1/images/edits waits instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body

from application.principal import Principal
from domain.errors import InvalidRequest
from entrypoints.http.errors import error_response
from entrypoints.http.schemas import Api, ErrorBody, ErrorDetail

MAX_UPLOAD_BODY = 9 * 1024 * 1024  # the use case refuses images over 8 MiB, naming the field


@dataclass
class UploadForm:
    """The multipart form: a file in `image`, or in `mask`."""

    image: UploadFile | None = None
    mask: UploadFile | None = None


class UploadOut(Api):
    id: str
    content_type: str
    width: int
    height: int
    size_bytes: int


def _undecodable_form(_: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[bytes]:
    """Litestar decodes non-file form fields as UTF-8 before the handler runs; bad bytes are a 400."""
    return error_response(400, ErrorDetail(type="invalid_request", message="body: a form field is not UTF-8",
                                           field="body", reason="a form field is not UTF-8 text"))


@post("/v1/uploads", status_code=201, tags=["images"], summary="Upload an input image or mask",
      request_max_body_size=MAX_UPLOAD_BODY,
      exception_handlers={UnicodeDecodeError: _undecodable_form},
      description="multipart/form-data with one file in `image` or in `mask` (PNG, JPEG or "
                  "WebP, up to 8 MiB); use the id in `inputImageIds` or `maskImageId`.",
      responses={400: ResponseSpec(ErrorBody, description="no file, or not a decodable image"),
                 413: ResponseSpec(ErrorBody, description="the body is too large, or the image "
                                   "does not fit in the storage quota")})
async def upload_image(
    data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    principal: NamedDependency[Principal], upload_input_image_use_case: NamedDependency[Any],
) -> UploadOut:
    field = "mask" if isinstance(data.mask, UploadFile) else "image"
    file = data.mask if field == "mask" else data.image
    if not isinstance(file, UploadFile):
        raise InvalidRequest("image", "required: one file in `image` or `mask`")
    stored = await upload_input_image_use_case(principal.user_id, await file.read(), field=field)
    return UploadOut(id=stored.id, content_type=stored.content_type, width=stored.width,
                     height=stored.height, size_bytes=stored.size_bytes)
