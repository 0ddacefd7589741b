"""Idempotency records in a dict; `begin` is atomic because it never yields to the event loop."""

from __future__ import annotations

from datetime import datetime

import msgspec

from application.ports import IdempotencyStore
from domain.idempotency import IdempotencyRecord, StoredResponse


class InMemoryIdempotencyStore(IdempotencyStore):
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], IdempotencyRecord] = {}

    async def begin(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        slot = (record.api_key_id, record.key)
        existing = self._records.get(slot)
        if existing is not None and not existing.replaceable(now):
            return existing
        self._records[slot] = record
        return None

    async def complete(self, api_key_id: str, key: str, response: StoredResponse) -> None:
        slot = (api_key_id, key)
        if slot in self._records:
            self._records[slot] = msgspec.structs.replace(self._records[slot], response=response)

    async def forget(self, api_key_id: str, key: str) -> None:
        record = self._records.get((api_key_id, key))
        if record is not None and not record.in_progress:
            del self._records[(api_key_id, key)]

    async def release(self, api_key_id: str, key: str) -> None:
        record = self._records.get((api_key_id, key))
        if record is not None and record.in_progress:
            del self._records[(api_key_id, key)]

    async def mark_in_doubt(self, api_key_id: str, key: str) -> None:
        record = self._records.get((api_key_id, key))
        if record is not None and record.in_progress:
            self._records[(api_key_id, key)] = msgspec.structs.replace(record, in_doubt=True)

    async def resume(self, record: IdempotencyRecord, now: datetime) -> bool:
        slot = (record.api_key_id, record.key)
        existing = self._records.get(slot)
        if existing is None or not existing.in_doubt or existing.fingerprint != record.fingerprint:
            return False
        self._records[slot] = msgspec.structs.replace(existing, in_doubt=False, created_at=now)
        return True
