"""Bare baseline for P5: Litestar forwards the OpenAI image request with httpx and returns the body.

Needs UPSTREAM_URL (the fake OpenAI root, e.g. http://127.0.0.1:9000/v1). No auth, no job, no
ledger, no image check: the building block the sync OpenAI route is compared with.
"""

from __future__ import annotations

import os

import httpx
from litestar import Litestar, Request, Response, post

_client: httpx.AsyncClient | None = None


async def startup() -> None:
    global _client
    _client = httpx.AsyncClient(base_url=os.environ["UPSTREAM_URL"], timeout=30)


async def shutdown() -> None:
    if _client is not None:
        await _client.aclose()


@post("/v1/images/generations", status_code=200)
async def generations(request: Request) -> Response[bytes]:
    assert _client is not None
    upstream = await _client.post("/images/generations", content=await request.body(),
                                  headers={"content-type": "application/json",
                                           "authorization": "Bearer sk-fake"})
    return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")


app = Litestar([generations], on_startup=[startup], on_shutdown=[shutdown])
