"""The `OutboxRepository` contract."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict
import msgspec

from application.ports import OutboxMessage, UnitOfWork
from domain.jobs import JobStatus, JobStatusChanged
from tests.contracts import PersistenceContract, at


def message(message_id: str, *, seconds: float = 0, not_before: float | None = None) -> OutboxMessage:
    return OutboxMessage(id=message_id, job_id=f"job_{message_id}", topic="job.dispatch",
                         created_at=at(seconds),
                         not_before=None if not_before is None else at(not_before))


async def claim(uow: UnitOfWork, *, now: float = 100, limit: int = 10) -> list[OutboxMessage]:
    """Claim as a relay at `at(now)` with a 30 s lease."""
    return await uow.outbox.claim_undispatched(limit, now=at(now), lease_until=at(now + 30))


class OutboxRepositoryContract(PersistenceContract):
    async def test_a_committed_message_is_claimed_with_every_field_and_one_attempt_counted(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1", not_before=30))
            await uow.commit()
        async with self.make_uow() as uow:
            claimed = await claim(uow)
            await uow.commit()
        assert claimed == [msgspec.structs.replace(message("m1", not_before=30), attempts=1,
                                                   claimed_until=at(130))]

    async def test_a_claimed_message_is_skipped_until_its_claim_lapses(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
            await uow.commit()
        async with self.make_uow() as uow:
            await claim(uow)
            await uow.commit()
        async with self.make_uow() as uow:
            assert await claim(uow, now=129) == []
        async with self.make_uow() as uow:
            again = await claim(uow, now=130)
        assert [(m.id, m.attempts, m.claimed_until) for m in again] == [("m1", 2, at(160))]

    async def test_a_released_message_is_claimed_again_at_once(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(msgspec.structs.replace(message("m1"), claimed_until=at(500)))
            await uow.commit()
        async with self.make_uow() as uow:
            assert await claim(uow) == []
            await uow.outbox.release(["m1"])
            await uow.commit()
        async with self.make_uow() as uow:
            assert [m.id for m in await claim(uow)] == ["m1"]

    async def test_job_events_are_recorded_as_messages_of_users_with_an_endpoint(self) -> None:
        event = JobStatusChanged(job_id="job_e", user_id="user_hooked", status=JobStatus.COMPLETED,
                                 progress_percent=100, current_step="done", occurred_at=at(1))
        await self.add_endpoint("user_hooked")
        async with self.make_uow() as uow:
            await uow.outbox.add_job_events([event], ids=["evt_1"])
            await uow.commit()
        async with self.make_uow() as uow:
            claimed = await claim(uow)
        assert [(m.id, m.topic, m.job_id, m.event, m.created_at) for m in claimed] == [
            ("evt_1", "job.event", "job_e", event, at(1))]

    async def add_endpoint(self, user_id: str) -> None:
        """Register a client webhook endpoint for `user_id` where the store needs one."""

    async def test_an_uncommitted_message_does_not_exist(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
        async with self.make_uow() as uow:
            assert await claim(uow, limit=10) == []

    async def test_claims_come_oldest_first_up_to_the_limit(self) -> None:
        async with self.make_uow() as uow:
            for message_id, seconds in (("m_c", 3), ("m_a", 1), ("m_b", 2)):
                await uow.outbox.add(message(message_id, seconds=seconds))
            await uow.commit()
        async with self.make_uow() as uow:
            assert [m.id for m in await claim(uow, limit=2)] == ["m_a", "m_b"]

    async def test_dispatched_messages_are_not_claimed_again(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1", seconds=1))
            await uow.outbox.add(message("m2", seconds=2))
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.outbox.mark_dispatched(["m1"], at=at(5))
            await uow.commit()
        async with self.make_uow() as uow:
            assert [m.id for m in await claim(uow, limit=10)] == ["m2"]

    async def test_marking_without_commit_changes_nothing(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.outbox.mark_dispatched(["m1"], at=at(5))
        async with self.make_uow() as uow:
            assert [m.id for m in await claim(uow, limit=10)] == ["m1"]

    async def test_adding_a_message_id_twice_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            await uow.outbox.add(message("m1"))
            await uow.commit()
        with pytest.raises(ConcurrencyConflict):
            async with self.make_uow() as uow:
                await uow.outbox.add(message("m1", seconds=9))
                await uow.commit()
