"""A production submit never talks to the queue (ADR 0066): it commits its job and its
`job.dispatch` message, wakes this process's relay, and answers; the relay sends the message
in its next batch and marks it dispatched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.persistence.sqlalchemy.tables_outbox import outbox
from application.commands import SubmitJob
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container

pytestmark = pytest.mark.integration


async def _dispatch_rows(container) -> dict[str, object]:  # type: ignore[no-untyped-def]
    async with container.adapters.engine().connect() as conn:
        return dict((await conn.execute(select(outbox.c.job_id, outbox.c.dispatched_at).where(
            outbox.c.topic == "job.dispatch"))).all())


async def test_the_submit_commits_the_message_and_only_the_woken_relay_sends_it(
        migrated_postgres: str, tmp_path: Path) -> None:
    queue = RecordingQueue(broken=True)  # a queue the request path must never reach
    container = production_container(migrated_postgres, tmp_path, queue=queue)
    await empty_tables(container.adapters.engine())
    try:
        await container.use_cases.ensure_user()("user_relay", starter_credits=3)
        signal = container.adapters.outbox_signal()
        assert await signal.wait(0) is False  # nothing pending yet (binds the waiter's loop)
        waiter = asyncio.create_task(signal.wait(5.0))
        await asyncio.sleep(0)
        result = await container.use_cases.submit_job()(SubmitJob(
            user_id="user_relay", prompt="p", model="local", size="64x64", n=1))
        assert await asyncio.wait_for(waiter, 5.0) is True  # the commit woke the relay
        assert queue.items == [] and (await _dispatch_rows(container)) == {result.job.id: None}
        queue.broken = False
        assert await container.use_cases.relay_outbox()(100) == 1
        rows = await _dispatch_rows(container)
    finally:
        await container.close()
    assert queue.items == [(result.job.id, 0.0)]
    assert rows[result.job.id] is not None
