"""/files/{key}: serves local-disk objects behind HMAC-signed, expiring URLs (embedded profile).

With another storage (S3 on the production profile, whose URLs point at S3 or CloudFront) the
route answers 404. Every answer carries `X-Content-Type-Options: nosniff` (ADR 0080).
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from adapters.storage.local_disk import LocalDiskObjectStorage
from entrypoints.http.errors import error_response
from entrypoints.http.schemas import ErrorDetail

NOSNIFF = {"X-Content-Type-Options": "nosniff"}


@get("/files/{key:path}", tags=["images"], summary="A stored file, by signed URL", include_in_schema=True)
async def read_file(key: FromPath[str], expires: FromQuery[int], sig: FromQuery[str],
                    storage: NamedDependency[Any]) -> Response[bytes]:
    key = key.lstrip("/")
    if not isinstance(storage, LocalDiskObjectStorage):
        return error_response(404, ErrorDetail(type="not_found", message="no such file", field="key",
                                               reason="files are served by the object store"), NOSNIFF)
    try:
        valid = storage.verify(key, expires, sig)
    except ValueError:
        valid = False
    if not valid:
        return error_response(401, ErrorDetail(type="unauthorized", message="the link is invalid or has "
                                               "expired", field="sig", reason="bad or expired signature"),
                              NOSNIFF)
    try:
        data = await storage.get(key)
    except Exception:
        return error_response(404, ErrorDetail(type="not_found", message="no such file", field="key",
                                               reason="no such file"), NOSNIFF)
    media = "image/png" if key.endswith(".png") else "image/jpeg" if key.endswith(".jpg") else "image/webp"
    return Response(content=data, media_type=media,
                    headers={"Cache-Control": "private, max-age=300", **NOSNIFF})
