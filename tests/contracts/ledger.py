"""The `LedgerStore` contract: append and load, optimistic concurrency, replay, settlement guard."""

from __future__ import annotations

import asyncio

import pytest

from application.errors import ConcurrencyConflict
from domain.credits import CreditLedger
from domain.ledger_events import CreditsGranted, CreditsReserved, ReservationCaptured
from tests.contracts import PersistenceContract, at


class LedgerStoreContract(PersistenceContract):
    async def _funded(self, account_id: str, amount: int = 100) -> CreditLedger:
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load(account_id)
            ledger.grant(amount, now=at(0), reason="starter")
            await uow.ledgers.append(ledger)
            await uow.commit()
        return ledger

    async def test_an_account_without_events_loads_empty_at_version_zero(self) -> None:
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_new")
            assert await uow.ledgers.projection("acct_new") is None
            assert await uow.ledgers.events("acct_new") == []
        assert ledger.version == 0
        assert ledger.balance.available == 0

    async def test_appended_events_load_back_as_the_same_ledger(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            ledger.reserve("job_1", 30, expires_at=at(600), now=at(1))
            ledger.reserve("job_2", 20, expires_at=at(600), now=at(2))
            ledger.capture("job_1", 25, now=at(3))
            await uow.ledgers.append(ledger)
            assert ledger.pending_events == []
            await uow.commit()
        async with self.make_uow() as uow:
            loaded = await uow.ledgers.load("acct_1")
        assert loaded.snapshot() == ledger.snapshot()
        assert loaded.balance.available == 55 and loaded.balance.reserved == 20
        assert loaded.balance.lifetime_spent == 25
        assert loaded.reservation_for("job_2") == ledger.reservation_for("job_2")
        assert loaded.last_hash == ledger.last_hash and loaded.version == 4

    async def test_a_ledger_can_be_appended_twice_in_one_unit(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            ledger.reserve("job_1", 10, expires_at=at(600), now=at(1))
            await uow.ledgers.append(ledger)
            ledger.release("job_1", now=at(2))
            await uow.ledgers.append(ledger)
            await uow.commit()
        async with self.make_uow() as uow:
            assert (await uow.ledgers.load("acct_1")).version == 3

    async def test_events_come_back_in_version_order_and_replay_to_the_projection(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            ledger.reserve("job_1", 40, expires_at=at(600), now=at(1))
            ledger.capture("job_1", 40, now=at(2))
            ledger.adjust(-5, now=at(3), reason="correction")
            await uow.ledgers.append(ledger)
            await uow.commit()
        async with self.make_uow() as uow:
            events = await uow.ledgers.events("acct_1")
            projection = await uow.ledgers.projection("acct_1")
            tail = await uow.ledgers.events("acct_1", after_version=1, limit=2)
            hasher = uow.ledgers.hasher
        assert [e.version for e in events] == [1, 2, 3, 4]
        assert [type(e) for e in tail] == [CreditsReserved, ReservationCaptured]
        assert isinstance(events[0], CreditsGranted) and events[0].occurred_at == at(0)
        assert CreditLedger.replay("acct_1", events, hasher=hasher).snapshot() == projection

    async def test_the_second_of_two_units_appending_from_one_version_conflicts(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as first, self.make_uow() as second:
            mine = await first.ledgers.load("acct_1")
            theirs = await second.ledgers.load("acct_1")
            mine.reserve("job_1", 60, expires_at=at(600), now=at(1))
            await first.ledgers.append(mine)
            await first.commit()
            theirs.reserve("job_2", 70, expires_at=at(600), now=at(1))
            with pytest.raises(ConcurrencyConflict):
                await second.ledgers.append(theirs)
        async with self.make_uow() as uow:
            stored = await uow.ledgers.events("acct_1")
            projection = await uow.ledgers.projection("acct_1")
        assert [getattr(e, "job_id", None) for e in stored] == [None, "job_1"]
        assert projection == mine.snapshot()

    async def test_of_two_units_reserving_at_once_exactly_one_commits(self) -> None:
        await self._funded("acct_1")
        both_loaded = asyncio.Barrier(2)

        async def reserve(job_id: str) -> str | None:
            try:
                async with self.make_uow() as uow:
                    ledger = await uow.ledgers.load("acct_1")
                    await both_loaded.wait()
                    ledger.reserve(job_id, 60, expires_at=at(600), now=at(1))
                    await uow.ledgers.append(ledger)
                    await asyncio.sleep(0.05)  # hold the write open while the other tries
                    await uow.commit()
                    return job_id
            except ConcurrencyConflict:
                return None

        winners = [j for j in await asyncio.gather(reserve("job_1"), reserve("job_2")) if j]
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            events = await uow.ledgers.events("acct_1")
        assert len(winners) == 1
        assert ledger.version == 2 and len(events) == 2
        assert ledger.reservation_for(winners[0]) is not None
        assert ledger.balance.available == 40

    async def test_two_first_appends_to_a_new_account_conflict(self) -> None:
        async with self.make_uow() as first, self.make_uow() as second:
            mine = await first.ledgers.load("acct_new")
            theirs = await second.ledgers.load("acct_new")
            mine.grant(10, now=at(0))
            await first.ledgers.append(mine)
            await first.commit()
            theirs.grant(20, now=at(0))
            with pytest.raises(ConcurrencyConflict):
                await second.ledgers.append(theirs)
        async with self.make_uow() as uow:
            assert (await uow.ledgers.load("acct_new")).balance.available == 10

    async def test_a_second_settlement_of_one_job_is_refused_by_the_store(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            ledger.reserve("job_1", 10, expires_at=at(600), now=at(1))
            ledger.capture("job_1", 10, now=at(2))
            await uow.ledgers.append(ledger)
            await uow.commit()
        async with self.make_uow() as uow:
            # A snapshot-loaded ledger no longer knows job_1 settled, so it lets it reserve again.
            ledger = await uow.ledgers.load("acct_1")
            ledger.reserve("job_1", 5, expires_at=at(600), now=at(3))
            ledger.release("job_1", now=at(4))
            with pytest.raises(ConcurrencyConflict):
                await uow.ledgers.append(ledger)
        async with self.make_uow() as uow:
            assert (await uow.ledgers.load("acct_1")).version == 3

    async def test_an_uncommitted_append_leaves_no_trace(self) -> None:
        await self._funded("acct_1")
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_1")
            ledger.grant(5, now=at(1))
            await uow.ledgers.append(ledger)
            ledger2 = await uow.ledgers.load("acct_2")
            ledger2.grant(5, now=at(1))
            await uow.ledgers.append(ledger2)
        async with self.make_uow() as uow:
            assert (await uow.ledgers.load("acct_1")).version == 1
            assert len(await uow.ledgers.events("acct_1")) == 1
            assert await uow.ledgers.account_ids() == ["acct_1"]

    async def test_account_ids_lists_every_account_with_events_once(self) -> None:
        for account_id in ("acct_b", "acct_a", "acct_c"):
            await self._funded(account_id)
        async with self.make_uow() as uow:
            ledger = await uow.ledgers.load("acct_a")
            ledger.grant(1, now=at(1))
            await uow.ledgers.append(ledger)
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.ledgers.account_ids() == ["acct_a", "acct_b", "acct_c"]
