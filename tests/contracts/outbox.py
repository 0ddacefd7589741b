"""The `OutboxRepository` contract."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict
from application.ports import OutboxMessage
from tests.contracts import PersistenceContract, at


def message(message_id: str, *, seconds: float = 0, not_before: float | None = None) -> OutboxMessage:
    return OutboxMessage(id=message_id, job_id=f"job_{message_id}", topic="job.dispatch",
                         created_at=at(seconds),
                         not_before=None if not_before is None else at(not_before))


class OutboxRepositoryContract(PersistenceContract):
    async def test_a_committed_message_is_claimed_with_every_field_and_one_attempt_counted(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1", not_before=30))
            await uow.commit()
        async with self.make_uow() as uow:
            claimed = await uow.outbox.claim_undispatched(10)
            await uow.commit()
        assert claimed == [message("m1", not_before=30)]
        async with self.make_uow() as uow:
            again = await uow.outbox.claim_undispatched(10)
        assert [m.attempts for m in again] == [1]

    async def test_an_uncommitted_message_does_not_exist(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
        async with self.make_uow() as uow:
            assert await uow.outbox.claim_undispatched(10) == []

    async def test_claims_come_oldest_first_up_to_the_limit(self) -> None:
        async with self.make_uow() as uow:
            for message_id, seconds in (("m_c", 3), ("m_a", 1), ("m_b", 2)):
                await uow.outbox.add(message(message_id, seconds=seconds))
            await uow.commit()
        async with self.make_uow() as uow:
            assert [m.id for m in await uow.outbox.claim_undispatched(2)] == ["m_a", "m_b"]

    async def test_dispatched_messages_are_not_claimed_again(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1", seconds=1))
            await uow.outbox.add(message("m2", seconds=2))
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.outbox.mark_dispatched(["m1"], at=at(5))
            await uow.commit()
        async with self.make_uow() as uow:
            assert [m.id for m in await uow.outbox.claim_undispatched(10)] == ["m2"]

    async def test_marking_without_commit_changes_nothing(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.outbox.mark_dispatched(["m1"], at=at(5))
        async with self.make_uow() as uow:
            assert [m.id for m in await uow.outbox.claim_undispatched(10)] == ["m1"]

    async def test_adding_a_message_id_twice_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
            await uow.commit()
        with pytest.raises(ConcurrencyConflict):
            async with self.make_uow() as uow:
                await uow.outbox.add(message("m1", seconds=9))
                await uow.commit()
