"""AuditLedger: replay every account from its stored event rows and compare with what is stored.

One stream of event rows, grouped by account in version order (bounded memory whatever the
size, ADR 0049), is folded account by account. Each row is checked: the keyed hash chain (the
store's hasher, ADR 0047) over the stored bytes, the version sequence, every stored column
(account, version, type, job, amount, time, hashes) against the decoded payload, and each
reservation settling what it reserved. Finished accounts are compared in batches with their
`balances` row: every scalar (version, last hash, available, reserved, spent), the snapshot
document, the open reservation rows, and that the chain is keyed at all. Each problem names the
version that broke; the report names the account.
"""

from __future__ import annotations

import msgspec

from application.ports import LedgerStore, StoredBalance, StoredLedgerEvent, UnitOfWorkFactory
from domain.credits import LedgerFold, LedgerSnapshot

#: Problems kept per account; the count of the rest is reported.
MAX_PROBLEMS = 50
#: Finished accounts compared with their balance rows per round trip.
ACCOUNT_BATCH = 500


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


class _Account:
    __slots__ = ("account_id", "fold", "problems")

    def __init__(self, account_id: str, fold: LedgerFold) -> None:
        self.account_id, self.fold = account_id, fold
        self.problems: list[str] = []

    def add(self, found: list[str]) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.extend(p for p in found if p not in self.problems)
        elif self.problems[-1] != "(further problems not listed)":
            self.problems.append("(further problems not listed)")


class AuditLedger:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, account_id: str | None = None) -> AuditReport:
        async with self._uow() as uow:
            ledgers = uow.ledgers
            audits: list[AccountAudit] = []
            finished: list[_Account] = []
            current: _Account | None = None
            async for batch in ledgers.stream_events(account_id):
                for row in batch:
                    if current is None or row.account_id != current.account_id:
                        if current is not None:
                            finished.append(current)
                        current = _Account(row.account_id,
                                           LedgerFold(row.account_id, ledgers.hasher))
                    found = current.fold.feed(row.event, row.canonical)
                    if found or not _columns_match(row):
                        current.add(found + _column_mismatches(row))
                if len(finished) >= ACCOUNT_BATCH:
                    audits += await _settle_accounts(ledgers, finished)
            if current is not None:
                finished.append(current)
            seen = {a.account_id for a in finished} | {a.account_id for a in audits}
            empty = [account_id] if account_id is not None and not seen else [
                a for a in await ledgers.accounts_without_events()
                if a not in seen and (account_id is None or a == account_id)]
            finished += [_Account(a, LedgerFold(a, ledgers.hasher)) for a in empty]
            audits += await _settle_accounts(ledgers, finished)
        return AuditReport(accounts=sorted(audits, key=lambda a: a.account_id))


async def _settle_accounts(ledgers: LedgerStore, finished: list[_Account]) -> list[AccountAudit]:
    stored = await ledgers.stored_balances([a.account_id for a in finished])
    audits = []
    for account in finished:
        account.problems.extend(_balance_mismatches(stored.get(account.account_id), account.fold))
        audits.append(AccountAudit(account_id=account.account_id, events=account.fold.events,
                                   ok=not account.problems, problems=account.problems))
    finished.clear()
    return audits


def _columns_match(row: StoredLedgerEvent) -> bool:
    e = row.event
    return (row.account_id, row.version, row.amount, row.prev_hash, row.hash, row.occurred_at,
            row.type, row.job_id) == (e.account_id, e.version, e.amount, e.prev_hash, e.hash,
                                      e.occurred_at, e.__struct_config__.tag,
                                      getattr(e, "job_id", None))


def _column_mismatches(row: StoredLedgerEvent) -> list[str]:
    event = row.event
    found = [f"version {row.version}: column {name}={getattr(row, name)!r} but the event says "
             f"{getattr(event, name)!r}"
             for name in ("account_id", "version", "amount", "occurred_at", "prev_hash", "hash")
             if getattr(row, name) != getattr(event, name)]
    tag = event.__struct_config__.tag
    if row.type != tag:
        found.append(f"version {row.version}: column type={row.type!r} but the event is {tag!r}")
    job_id = getattr(event, "job_id", None)
    if row.job_id != job_id:
        found.append(f"version {row.version}: column job_id={row.job_id!r} but the event says "
                     f"{job_id!r}")
    return found


def _balance_mismatches(stored: StoredBalance | None, fold: LedgerFold) -> list[str]:
    replayed = fold.snapshot()
    if stored is None:
        return ["no balance projection is stored"]
    problems = [] if stored.keyed else ["the chain is not keyed (sealed without the ledger key)"]
    want = _scalars(replayed)
    for source, got in (("balances row", _scalars_of_row(stored)),
                        ("balances snapshot", _scalars(stored.snapshot))):
        for name, value in got.items():
            if value != want[name]:
                problems.append(f"at version {replayed.version}: {source} says {name}={value!r}; "
                                f"replay gives {want[name]!r}")
    open_now = fold.open_reservations()
    if stored.open_reservations != open_now:
        differ = {job for job in {*stored.open_reservations, *open_now}
                  if stored.open_reservations.get(job) != open_now.get(job)}
        problems.append(f"at version {replayed.version}: stored open reservations differ from "
                        f"the replay for jobs {sorted(differ)}")
    return problems


def _scalars(snapshot: LedgerSnapshot) -> dict[str, object]:
    return {"version": snapshot.version, "last_hash": snapshot.last_hash,
            "available": snapshot.available, "reserved": snapshot.reserved,
            "lifetime_spent": snapshot.lifetime_spent}


def _scalars_of_row(stored: StoredBalance) -> dict[str, object]:
    return {"version": stored.version, "last_hash": stored.last_hash,
            "available": stored.available, "reserved": stored.reserved,
            "lifetime_spent": stored.lifetime_spent}
