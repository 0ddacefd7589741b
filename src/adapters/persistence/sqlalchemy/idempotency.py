"""Idempotency records in SQL; each call is its own short transaction on the engine.

`begin` relies on the database for atomicity: the in-progress row is INSERTed first, and the
unique constraint on (api_key_id, key) lets exactly one of two racing requests win.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy.engine import connect, translated_errors
from adapters.persistence.sqlalchemy.tables_requests import idempotency_keys as t
from application.errors import ConcurrencyConflict
from application.ports import IdempotencyStore
from domain.idempotency import IdempotencyRecord, StoredResponse


def _to_domain(row: Any) -> IdempotencyRecord:
    response = None
    if row.status_code is not None:
        response = StoredResponse(status_code=row.status_code, body=bytes(row.body or b""),
                                  content_type=row.content_type or "application/json")
    return IdempotencyRecord(api_key_id=row.api_key_id, key=row.key, fingerprint=row.fingerprint,
                             created_at=row.created_at, response=response, in_doubt=bool(row.in_doubt))


class SqlAlchemyIdempotencyStore(IdempotencyStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _run(self, action: str, statement: Any) -> Any:
        conn = await connect(self._engine)
        try:
            with translated_errors(action):
                async with conn.begin():
                    result = await conn.execute(statement)
                    return result.first() if statement.is_select else result.rowcount
        finally:
            await conn.close()

    def _where(self, api_key_id: str, key: str) -> Any:
        return (t.c.api_key_id == api_key_id) & (t.c.key == key)

    async def begin(self, record: IdempotencyRecord, now: Any) -> IdempotencyRecord | None:
        """Insert the in-progress row; return the live record that beat us to it, if any."""
        where = self._where(record.api_key_id, record.key)
        for _ in range(5):
            try:
                await self._run("begin an idempotent request", t.insert().values(
                    api_key_id=record.api_key_id, key=record.key, fingerprint=record.fingerprint,
                    created_at=record.created_at))
                return None
            except ConcurrencyConflict:
                pass
            row = await self._run("read an idempotency key", select(t).where(where))
            if row is None:
                continue  # released or pruned meanwhile: try to insert again
            existing = _to_domain(row)
            if not existing.replaceable(now):
                return existing
            await self._run("prune an expired or abandoned idempotency key",
                            delete(t).where(where, t.c.created_at == existing.created_at))
        raise ConcurrencyConflict(f"idempotency key {record.key!r} keeps changing")

    async def complete(self, api_key_id: str, key: str, response: StoredResponse) -> None:
        await self._run("store an idempotent response", update(t).where(
            self._where(api_key_id, key)).values(status_code=response.status_code,
                                                 content_type=response.content_type, body=response.body))

    async def forget(self, api_key_id: str, key: str) -> None:
        await self._run("forget a finished idempotency key", delete(t).where(
            self._where(api_key_id, key), t.c.status_code.is_not(None)))

    async def release(self, api_key_id: str, key: str) -> None:
        await self._run("release an idempotency key", delete(t).where(
            self._where(api_key_id, key), t.c.status_code.is_(None), t.c.in_doubt.is_(False)))

    async def mark_in_doubt(self, api_key_id: str, key: str) -> None:
        await self._run("keep an idempotency key in doubt", update(t).where(
            self._where(api_key_id, key), t.c.status_code.is_(None)).values(in_doubt=True))

    async def resume(self, record: IdempotencyRecord, now: Any) -> bool:
        taken = await self._run("resume an idempotency key in doubt", update(t).where(
            self._where(record.api_key_id, record.key), t.c.in_doubt.is_(True),
            t.c.fingerprint == record.fingerprint).values(in_doubt=False, created_at=now))
        return bool(taken == 1)
