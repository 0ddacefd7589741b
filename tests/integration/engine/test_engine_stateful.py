"""One Hypothesis state machine over the whole engine, on the real SQLAlchemy adapters (SQLite).

Two competing workers claim jobs whose provider calls the machine answers when it likes
(images, extra images, a retryable or a fatal failure); leases lapse; the sweeper runs; owners
cancel and retry. After every step the engine's invariants hold:

- each reservation is open with a live job, or settled exactly once;
- available + reserved + spent == granted, for every account;
- no completed job lacks an object it lists, and no object a completed job lists was deleted;
- the quota's used bytes equal the bytes of the images stored;
- the ledger audit passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from application.use_cases.retry_job import RetryJob
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.errors import DomainError
from domain.failures import ErrorClass, JobFailure
from domain.ledger_events import CreditsReserved, ReservationCaptured, ReservationReleased
from tests.integration.engine.harness import LEASE_S, MODELS, Engine, sqlite_engine

pytestmark = pytest.mark.integration

USERS = ("u1", "u2")
GRANT = 40
OUTCOMES = st.sampled_from([
    0, 2,  # images (2: two more than asked)
    JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, "503"),
    JobFailure(ErrorClass.TIMEOUT, "read timeout", unknown_outcome=True),
    JobFailure(ErrorClass.CONTENT_POLICY, "blocked"),
])


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        engine = self.run(sqlite_engine(Path(self.tmp.name)))
        self.eng = Engine(engine=engine, tmp=Path(self.tmp.name))
        self.jobs: dict[str, str] = {}  # job id -> user
        self.tasks: list[asyncio.Task[object]] = []
        for user in USERS:
            self.run(self.eng.grant(user, GRANT))

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _settle_tasks(self) -> None:
        """Let running attempts go as far as they can without an answer from the provider."""
        for _ in range(2000):  # every running attempt waits for the provider, or is done
            running = sum(not t.done() for t in self.tasks)
            if running == sum(not g.done() for g in self.eng.gated._gates):
                break
            await asyncio.sleep(0.001)
        for task in [t for t in self.tasks if t.done()]:
            self.tasks.remove(task)
            exc = task.exception()
            if exc is not None and not isinstance(exc, DomainError | JobFailure):
                raise exc

    # -- rules -----------------------------------------------------------------------------
    @precondition(lambda self: len(self.jobs) < 4)
    @rule(user=st.sampled_from(USERS), n=st.integers(1, 2))
    def submit(self, user: str, n: int) -> None:
        with contextlib.suppress(DomainError):  # out of credits: refused, nothing reserved
            self.jobs[self.run(self.eng.submit(user, n=n))] = user

    @precondition(lambda self: self.jobs)
    @rule(worker=st.sampled_from(["w1", "w2"]), data=st.data())
    def claim(self, worker: str, data: st.DataObject) -> None:
        queued = [j for j, status in zip(self.jobs, self.run(self._statuses()), strict=True)
                  if status == "queued"]  # mostly a queued job; sometimes any (a stale message)
        job_id = data.draw(st.sampled_from(queued or sorted(self.jobs)))
        self.tasks.append(self.loop.create_task(self.eng.worker(worker)(job_id)))
        self.run(self._settle_tasks())

    @precondition(lambda self: any(not g.done() for g in self.eng.gated._gates))
    @rule(data=st.data(), outcome=OUTCOMES)
    def provider_answers(self, data: st.DataObject, outcome: JobFailure | int) -> None:
        pending = [i for i, g in enumerate(self.eng.gated._gates) if not g.done()]
        self.eng.gated.release(data.draw(st.sampled_from(pending)), outcome)
        self.run(self._settle_tasks())

    @precondition(lambda self: self.jobs)
    @rule(worker=st.sampled_from(["w1", "w2"]), data=st.data(), outcome=OUTCOMES)
    def claim_and_answer(self, worker: str, data: st.DataObject, outcome: JobFailure | int) -> None:
        before = len(self.eng.gated._gates)
        self.claim(worker, data)
        if len(self.eng.gated._gates) > before:
            self.eng.gated.release(before, outcome)
            self.run(self._settle_tasks())

    @rule()
    def lease_lapses(self) -> None:
        self.eng.clock.advance(LEASE_S + 1)

    @rule(seconds=st.sampled_from([1, 5, 30]))
    def time_passes(self, seconds: int) -> None:
        self.eng.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        self.run(self.eng.sweeper()())
        self.run(self._settle_tasks())

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        with contextlib.suppress(DomainError):  # already finished
            self.run(self.eng.cancel(self.jobs[job_id], job_id))

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        user = self.jobs[job_id]
        submit = SubmitGeneration(uow=self.eng.uow, catalog=ModelCatalog(MODELS),
                                  providers=self.eng.registry, queue=self.eng.queue,
                                  clock=self.eng.clock, ids=self.eng.ids, publisher=self.eng.events)
        with contextlib.suppress(DomainError):  # not failed or cancelled, or out of credits
            outcome = self.run(RetryJob(uow=self.eng.uow, submit=submit)(user, job_id))
            self.jobs[outcome.job.id] = user

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def reservations_balances_objects_quota_and_audit_hold(self) -> None:
        self.run(self._check())

    async def _statuses(self) -> list[str]:
        return [(await self.eng.job(job_id)).status.value for job_id in self.jobs]

    async def _check(self) -> None:
        eng = self.eng
        async with eng.uow() as uow:
            for user in USERS:
                ledger = await uow.ledgers.load(user)
                b = ledger.balance
                assert b.available + b.reserved + b.lifetime_spent == GRANT
                events = await uow.ledgers.events(user)
                reserved = [e.job_id for e in events if isinstance(e, CreditsReserved)]
                settled = [e.job_id for e in events
                           if isinstance(e, ReservationCaptured | ReservationReleased)]
                assert len(settled) == len(set(settled)) and set(settled) <= set(reserved)
                stored = 0
                for job_id in (j for j, u in self.jobs.items() if u == user):
                    job = await uow.jobs.get(job_id)
                    assert job is not None
                    is_open = ledger.reservation_for(job_id) is not None
                    assert is_open == (not job.status.terminal), (job_id, job.status)
                    assert is_open or job_id in settled
                    images = await uow.images.for_job(job_id)
                    stored += sum(i.size_bytes for i in images)
                    if job.status.value == "completed":
                        assert images and len(images) <= job.state.n
                        for image in images:
                            assert eng.storage.exists(image.key), image.key
                            assert image.key not in eng.storage.deletes, image.key
                    else:
                        assert images == []
                assert (await uow.quotas.get(user)).used_bytes == stored
        assert await eng.audit_ok()

    def teardown(self) -> None:
        statuses = self.run(self._statuses())
        for status in sorted(set(statuses)):
            event(f"a run ended with a job {status}")
        for gate in self.eng.gated._gates:
            if not gate.done():
                gate.set_result(JobFailure(ErrorClass.CONTENT_POLICY, "teardown"))
        with contextlib.suppress(Exception):
            self.run(asyncio.gather(*self.tasks, return_exceptions=True))
        self.run(self.eng.engine.dispose())
        self.loop.close()
        self.tmp.cleanup()


EngineMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
test_engine_keeps_its_invariants = EngineMachine.TestCase
