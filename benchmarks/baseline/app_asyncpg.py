"""Bare baseline for the production submit: Litestar + raw asyncpg, the same two inserts
(a job row and a ledger event) in one transaction, no auth, no balance check, no outbox.

Needs BASELINE_DSN (a Postgres database where `SCHEMA` below may be created).
"""

from __future__ import annotations

import itertools
import os
import uuid

import asyncpg
import msgspec
from litestar import Litestar, post

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id uuid PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL,
  prompt text NOT NULL, params jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ledger_events (id bigserial PRIMARY KEY, account_id bigint NOT NULL,
  version bigint NOT NULL, type text NOT NULL, amount bigint NOT NULL, payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_account_version_uq UNIQUE (account_id, version));
"""
ACCOUNT = os.getpid()
_version = itertools.count(1)
_enc = msgspec.json.Encoder()
_pool: asyncpg.Pool | None = None


class Body(msgspec.Struct):
    prompt: str
    size: str = "64x64"


class Created(msgspec.Struct):
    id: str
    status: str


async def startup() -> None:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=10, max_size=10)
    async with _pool.acquire() as con:
        await con.execute(SCHEMA)


@post("/v1/jobs", status_code=201)
async def submit(data: Body) -> Created:
    assert _pool is not None
    jid, v = uuid.uuid4(), next(_version)
    params = _enc.encode({"model": "local", "size": data.size, "n": 1}).decode()
    payload = _enc.encode({"job_id": str(jid), "reason": "job_create"}).decode()
    async with _pool.acquire() as con, con.transaction():
        await con.execute("INSERT INTO jobs (id, user_id, status, prompt, params) "
                          "VALUES ($1, $2, 'queued', $3, $4::jsonb)", jid, 42, data.prompt, params)
        await con.execute("INSERT INTO ledger_events (account_id, version, type, amount, payload) "
                          "VALUES ($1, $2, 'credits_reserved', -1, $3::jsonb)", ACCOUNT, v, payload)
    return Created(id=str(jid), status="queued")


app = Litestar([submit], on_startup=[startup])
