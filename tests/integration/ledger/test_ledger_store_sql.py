"""The SQL ledger store on SQLite and Postgres: settled reservations survive the snapshot, the
snapshot stops growing with open reservations (item 19), unkeyed chains are re-sealed only when
they verify (item 18's migration), and the audit streams and names the version that broke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import adapters.persistence.sqlalchemy.ledger as sql_ledger
from adapters.ledger_chain import KEYED_CHAIN, UNKEYED_CHAIN
from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.ledger import SqlAlchemyLedgerStore
from adapters.persistence.sqlalchemy.tables import balances
from adapters.persistence.sqlalchemy.tables_ledger import ledger_reservations
from adapters.persistence.sqlalchemy.uow import SqlAlchemyUnitOfWorkFactory, reseal_unkeyed_ledgers
from application.use_cases.audit_ledger import AuditLedger
from domain.errors import ReservationConflict
from domain.ledger_events import sha256_chain
from tests.integration.production.conftest import empty_tables

pytestmark = pytest.mark.integration

KEY = b"k" * 32
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("migrated_postgres"))


@pytest.fixture
async def uows(database_url: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        await create_schema(engine)
    else:
        await empty_tables(engine)
    try:
        yield SqlAlchemyUnitOfWorkFactory(engine, ledger_key=KEY)
    finally:
        await engine.dispose()


async def _grant(uows: SqlAlchemyUnitOfWorkFactory, account: str, amount: int = 100) -> None:
    async with uows() as uow:
        await uow.lock_account(account)
        ledger = await uow.ledgers.load(account)
        ledger.grant(amount, now=T0)
        await uow.ledgers.append(ledger)
        await uow.commit()


async def test_a_ledger_loaded_for_a_job_still_knows_its_settled_reservation(uows) -> None:  # type: ignore[no-untyped-def]
    await _grant(uows, "acct")
    async with uows() as uow:
        await uow.lock_account("acct")
        ledger = await uow.ledgers.load("acct", job_ids=["job_1"])
        ledger.reserve("job_1", 30, expires_at=T0 + timedelta(hours=1), now=T0)
        ledger.capture("job_1", 20, now=T0)
        await uow.ledgers.append(ledger)
        await uow.commit()
    async with uows() as uow:
        await uow.lock_account("acct")
        again = await uow.ledgers.load("acct", job_ids=["job_1"])
        again.capture("job_1", 20, now=T0)  # the identical settlement: a no-op
        assert again.pending_events == []
        with pytest.raises(ReservationConflict):
            again.capture("job_1", 25, now=T0)
        with pytest.raises(ReservationConflict):
            again.release("job_1", now=T0)
        with pytest.raises(ReservationConflict):
            again.reserve("job_1", 30, expires_at=T0, now=T0)


async def test_the_snapshot_does_not_grow_with_open_reservations(uows) -> None:  # type: ignore[no-untyped-def]
    await _grant(uows, "acct", 1000)
    sizes = []
    for i in range(40):
        async with uows() as uow:
            await uow.lock_account("acct")
            ledger = await uow.ledgers.load("acct", job_ids=[f"job_{i}"])
            ledger.reserve(f"job_{i}", 1, expires_at=T0 + timedelta(seconds=i), now=T0)
            await uow.ledgers.append(ledger)
            await uow.commit()
            sizes.append((await uow._db.execute("size", select(func.length(balances.c.snapshot))))
                         .scalar())
    async with uows() as uow:
        everything = await uow.ledgers.load("acct")  # all open reservations, from their rows
        rows = (await uow._db.execute("count", select(func.count()).select_from(
            ledger_reservations))).scalar()
        report = await AuditLedger(uow=uows)("acct")
    assert max(sizes) - min(sizes) <= 2  # the digits of `available` only: not O(open)
    assert rows == 40
    assert len(everything.expired_reservations(T0 + timedelta(seconds=9))) == 10
    assert report.ok, report


async def test_an_unkeyed_chain_is_resealed_with_the_key_only_if_it_verifies(uows) -> None:  # type: ignore[no-untyped-def]
    for account in ("legacy_ok", "legacy_forged"):
        async with uows() as uow:  # written as before the key existed
            uow.ledgers = SqlAlchemyLedgerStore(uow._db, sha256_chain, chain_kind=UNKEYED_CHAIN)
            ledger = await uow.ledgers.load(account)
            ledger.grant(100, now=T0)
            ledger.reserve("job_1", 10, expires_at=T0, now=T0)
            await uow.ledgers.append(ledger)
            await uow.commit()
    async with uows() as uow:  # forged before the migration: the unkeyed chain no longer verifies
        await uow._db.execute("forge", text(
            "UPDATE ledger_events SET amount = 1000, payload = replace(payload, :old, :new) "
            "WHERE account_id = 'legacy_forged' AND version = 1").bindparams(
            old='"amount":100,', new='"amount":1000,'))
        await uow.commit()
    before = await AuditLedger(uow=uows)()
    assert [a.ok for a in before.accounts] == [False, False]
    assert any("not keyed" in p for p in before.accounts[1].problems)

    assert await reseal_unkeyed_ledgers(uows.engine, KEY) == 1
    after = {a.account_id: a for a in (await AuditLedger(uow=uows)()).accounts}
    async with uows() as uow:
        kinds = dict((await uow._db.execute("kinds", select(
            balances.c.account_id, balances.c.chain_kind))).all())
    assert after["legacy_ok"].ok, after["legacy_ok"]
    assert not after["legacy_forged"].ok
    assert kinds == {"legacy_ok": KEYED_CHAIN, "legacy_forged": UNKEYED_CHAIN}


async def test_the_audit_streams_every_event_and_names_the_version_that_broke(
        uows, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sql_ledger, "STREAM_BATCH", 7)  # many round trips / cursor fetches
    async with uows() as uow:
        await uow.lock_account("big")
        ledger = await uow.ledgers.load("big")
        for i in range(60):
            ledger.grant(1 + i, now=T0)
        await uow.ledgers.append(ledger)
        await uow.commit()
    clean = await AuditLedger(uow=uows)("big")
    assert clean.ok and clean.accounts[0].events == 60, clean
    async with uows() as uow:
        await uow._db.execute("forge", text(
            "UPDATE ledger_events SET amount = 999 WHERE account_id = 'big' AND version = 44"))
        await uow.commit()
    forged = await AuditLedger(uow=uows)("big")
    account = forged.accounts[0]
    assert not forged.ok and account.account_id == "big" and account.events == 60
    assert account.problems == ["version 44: column amount=999 but the event says 44"]
