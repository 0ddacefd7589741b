"""/files/{key}: serves local-disk objects behind HMAC-signed, expiring URLs (embedded profile)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.exceptions import NotAuthorizedException, NotFoundException

from adapters.storage.local_disk import LocalDiskObjectStorage


@get("/files/{key:path}", tags=["images"], summary="A stored file, by signed URL", include_in_schema=True)
async def read_file(key: FromPath[str], expires: FromQuery[int], sig: FromQuery[str],
                    storage: NamedDependency[LocalDiskObjectStorage]) -> Response[bytes]:
    key = key.lstrip("/")
    try:
        valid = storage.verify(key, expires, sig)
    except ValueError:
        valid = False
    if not valid:
        raise NotAuthorizedException("the link is invalid or has expired")
    try:
        data = await storage.get(key)
    except Exception:
        raise NotFoundException("no such file") from None
    media = "image/png" if key.endswith(".png") else "image/jpeg" if key.endswith(".jpg") else "image/webp"
    return Response(content=data, media_type=media, headers={"Cache-Control": "private, max-age=300"})
