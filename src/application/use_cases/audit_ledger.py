"""AuditLedger: replay every account from its events and compare with the stored projection.

An account passes when its hash chain is intact, its versions have no gaps, and the folded
balance, version and last hash equal the `balances` projection.
"""

from __future__ import annotations

import msgspec

from application.ports import UnitOfWorkFactory
from domain.credits import CreditLedger
from domain.errors import LedgerIntegrityError
from domain.ledger_events import chain_breaks

PAGE = 10_000


class AccountAudit(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str
    events: int
    ok: bool
    problems: list[str]


class AuditReport(msgspec.Struct, frozen=True, kw_only=True):
    accounts: list[AccountAudit]

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.accounts)


class AuditLedger:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, account_id: str | None = None) -> AuditReport:
        async with self._uow() as uow:
            ids = [account_id] if account_id else await uow.ledgers.account_ids()
            return AuditReport(accounts=[await self._audit(uow, a) for a in sorted(ids)])

    @staticmethod
    async def _audit(uow, account_id: str) -> AccountAudit:  # type: ignore[no-untyped-def]
        events = []
        while True:
            page = await uow.ledgers.events(account_id, after_version=len(events), limit=PAGE)
            events.extend(page)
            if len(page) < PAGE:
                break
        problems = chain_breaks(events)
        stored = await uow.ledgers.projection(account_id)
        try:
            replayed = CreditLedger.replay(account_id, events).snapshot()
        except LedgerIntegrityError as exc:
            problems.append(str(exc))
            replayed = None
        if stored is None:
            problems.append("no balance projection is stored")
        elif replayed is not None and replayed != stored:
            problems.append(
                f"projection says available={stored.available} reserved={stored.reserved} "
                f"spent={stored.lifetime_spent} v{stored.version}; replay gives "
                f"available={replayed.available} reserved={replayed.reserved} "
                f"spent={replayed.lifetime_spent} v{replayed.version}")
        return AccountAudit(account_id=account_id, events=len(events), ok=not problems,
                            problems=list(dict.fromkeys(problems)))
