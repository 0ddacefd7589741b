"""Bare baseline: Litestar + msgspec POST that decodes a body and answers 201, no database.

Run with uvicorn exactly like `imagegen serve` runs the real API, so the ratio isolates our work.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, post


class Body(msgspec.Struct):
    prompt: str
    size: str = "64x64"


class Created(msgspec.Struct):
    id: str
    status: str


@post("/v1/jobs", status_code=201)
async def submit(data: Body) -> Created:
    return Created(id="job_x", status="queued")


app = Litestar([submit])
