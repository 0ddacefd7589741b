"""SubmitGeneration: all or nothing."""

from __future__ import annotations

import pytest

from application.commands import SubmitJob
from domain.errors import InsufficientCredits, InvalidRequest
from domain.jobs import JobStatus

pytestmark = pytest.mark.unit


def cmd(**kw: object) -> SubmitJob:
    values: dict[str, object] = {"user_id": "u1", "prompt": "a lighthouse", "model": "local",
                                 "size": "512x512", "n": 1}
    values.update(kw)
    return SubmitJob(**values)  # type: ignore[arg-type]


async def test_submission_reserves_the_estimate_and_queues_the_job(world) -> None:
    await world.grant()("u1", 10)
    result = await world.submit()(cmd(model="dall-e-3", size="1792x1024"))
    assert result.job.status is JobStatus.QUEUED
    assert result.job.estimated_credits == 8  # 5 x 1.5 rounded up
    assert (result.balance.available, result.balance.reserved) == (2, 8)
    assert world.queue.items == [(result.job.id, 0.0)]
    assert (await world.balance()("u1")).reserved == 8


@pytest.mark.parametrize(("overrides", "field"), [
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "x" * 4001}, "prompt"),
    ({"model": "nope"}, "model"),
    ({"model": "dall-e-3", "size": "512x512"}, "size"),
    ({"size": "big"}, "size"),
    ({"n": 0}, "n"),
    ({"n": 5}, "n"),
    ({"model": "unkeyed"}, "model"),
    ({"parent_job_id": "job_missing"}, "parentJobId"),
])
async def test_rejected_requests_name_the_field_and_leave_nothing_behind(world, overrides, field) -> None:
    await world.grant()("u1", 10)
    with pytest.raises(InvalidRequest) as raised:
        await world.submit()(cmd(**overrides))
    assert raised.value.field == field
    balance = await world.balance()("u1")
    assert (balance.available, balance.reserved) == (10, 0)
    assert world.queue.items == []
    async with world.uow() as uow:
        page = await uow.jobs.list_for_user("u1", status=None, limit=10, cursor=None)
        assert page.items == []
        assert len(await uow.ledgers.events("u1")) == 1  # only the grant


async def test_insufficient_credits_creates_no_job_and_reports_the_balance(world) -> None:
    await world.grant()("u1", 3)
    with pytest.raises(InsufficientCredits) as raised:
        await world.submit()(cmd(n=4))
    assert (raised.value.requested, raised.value.available) == (4, 3)
    assert world.queue.items == []
    async with world.uow() as uow:
        assert (await uow.jobs.list_for_user("u1", status=None, limit=10, cursor=None)).items == []
        assert (await uow.ledgers.load("u1")).version == 1
