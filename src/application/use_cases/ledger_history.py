"""LedgerHistory: one account's ledger events, oldest first, a page at a time."""

from __future__ import annotations

import msgspec

from application.ports import UnitOfWorkFactory
from domain.errors import InvalidRequest
from domain.ledger_events import AnyLedgerEvent

MAX_PAGE = 200


#: Versions are stored in a signed 64-bit column; a larger cursor can only be a client error.
MAX_VERSION = 2**63 - 1


class LedgerPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AnyLedgerEvent]
    next_after_version: int | None  # pass as `after_version` for the next page; None at the end


class LedgerHistory:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, account_id: str, *, after_version: int = 0, limit: int = 50) -> LedgerPage:
        if not 0 <= after_version <= MAX_VERSION:
            raise InvalidRequest("afterVersion", f"must be between 0 and {MAX_VERSION}")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest("limit", f"must be between 1 and {MAX_PAGE}")
        async with self._uow() as uow:
            events = await uow.ledgers.events(account_id, after_version=after_version, limit=limit + 1)
        items = events[:limit]
        more = len(events) > limit
        return LedgerPage(items=items, next_after_version=items[-1].version if more else None)
