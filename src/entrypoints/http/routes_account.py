"""/v1/credits and /v1/images: the caller's balance and stored images."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from application.principal import Principal
from application.use_cases.credits import GetBalance
from application.use_cases.get_image import GetImage
from entrypoints.http.schemas import BalanceOut, ImageOut
from entrypoints.http.views import balance_out


@get("/v1/credits", tags=["credits"], summary="The caller's balance")
async def read_balance(principal: NamedDependency[Principal],
                       get_balance: NamedDependency[GetBalance]) -> BalanceOut:
    return balance_out(await get_balance(principal.user_id))


@get("/v1/images/{image_id:str}", tags=["images"], summary="Image metadata and a signed URL")
async def read_image(image_id: FromPath[str], principal: NamedDependency[Principal],
                     get_image: NamedDependency[GetImage]) -> ImageOut:
    view = await get_image(principal.user_id, image_id)
    image = view.image
    return ImageOut(id=image.id, job_id=image.job_id, index=image.index, content_type=image.content_type,
                    width=image.width, height=image.height, size_bytes=image.size_bytes,
                    sha256=image.sha256, url=view.url, expires_in=view.expires_in_s,
                    created_at=image.created_at)
