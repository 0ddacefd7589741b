"""SubmitBatch: many prompts on one model, or one prompt on many models, as one unit of work.

Every child is validated first; then one unit of work reserves credits for all children on the
same ledger (one append), adds every job, the batch and the dispatch messages, and commits.
Too few credits for the whole batch -> `InsufficientCredits` and nothing is created.
With caller-derived ids (an Idempotency-Key, ADR 0056) a batch that already exists under its id
is returned as it is, so a retry after a commit in doubt neither makes nor charges a second one.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from application.conflicts import retry_on_conflict
from application.ports import (
    Clock, IdGenerator, JobEventPublisher, OutboxMessage, ProviderRegistry, TaskQueue, UnitOfWorkFactory,
)
from application.use_cases.relay_outbox import DISPATCH_JOB, RelayOutbox
from domain.batches import MAX_BATCH_SIZE, Batch, BatchKind
from domain.catalog import ModelCatalog
from domain.credits import Balance
from domain.errors import InsufficientCredits, InvalidRequest
from domain.jobs import Job, JobState
from domain.pricing import ImageSize, estimate_credits


class BatchItem(msgspec.Struct, frozen=True, kw_only=True):
    prompt: str
    model: str


class SubmitBatchCommand(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    kind: BatchKind
    items: tuple[BatchItem, ...]
    field: str  # the request field the items came from, for error messages
    size: str = "1024x1024"
    n: int = 1
    seed: int | None = None
    project_id: str | None = None
    # The batch's and its children's ids when the caller derives them (an Idempotency-Key, ADR
    # 0056): a batch that already exists under that id is returned instead of a second one.
    batch_id: str | None = None
    job_ids: tuple[str, ...] = ()


class BatchResult(msgspec.Struct, frozen=True, kw_only=True):
    batch: Batch
    jobs: tuple[JobState, ...]
    balance: Balance
    created: bool = True


class SubmitBatch:
    def __init__(self, *, uow: UnitOfWorkFactory, catalog: ModelCatalog, providers: ProviderRegistry,
                 queue: TaskQueue, clock: Clock, ids: IdGenerator, publisher: JobEventPublisher,
                 reservation_ttl_s: int = 3600, publish_after_commit: bool = True) -> None:
        self._uow, self._catalog, self._providers = uow, catalog, providers
        self._eager = publish_after_commit  # False: the relay woken by the commit (ADR 0066)
        self._clock, self._ids, self._publisher = clock, ids, publisher
        self._ttl = timedelta(seconds=reservation_ttl_s)
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self, cmd: SubmitBatchCommand) -> BatchResult:
        if not 1 <= len(cmd.items) <= MAX_BATCH_SIZE:
            raise InvalidRequest(cmd.field, f"a batch has 1 to {MAX_BATCH_SIZE} items")
        size = ImageSize.parse(cmd.size)
        derived = cmd.batch_id is not None and len(cmd.job_ids) == len(cmd.items)
        planned = [(cmd.job_ids[i] if derived else self._ids.new_id("job"), item,
                    *self._price(cmd, i, item, size)) for i, item in enumerate(cmd.items)]
        total = sum(credits for *_, credits in planned)
        batch_id = cmd.batch_id if derived and cmd.batch_id else self._ids.new_id("bat")

        async def attempt() -> BatchResult:
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.lock_account(cmd.user_id)
                if derived and (existing := await uow.batches.get(batch_id)) is not None:
                    if existing.user_id != cmd.user_id:
                        raise InvalidRequest("Idempotency-Key", "names a batch of another account")
                    jobs = [await uow.jobs.get(job_id) for job_id in existing.job_ids]
                    return BatchResult(batch=existing, jobs=tuple(j.state for j in jobs if j is not None),
                                       balance=(await uow.ledgers.load(cmd.user_id)).balance,
                                       created=False)
                ledger = await uow.ledgers.load(cmd.user_id, job_ids=[job_id for job_id, *_ in planned])
                balance = ledger.balance
                if total > balance.available:
                    raise InsufficientCredits(cmd.user_id, total, balance.available,
                                              reserved=balance.reserved,
                                              lifetime_spent=balance.lifetime_spent)
                states = []
                for job_id, item, provider, credits in planned:
                    ledger.reserve(job_id, credits, expires_at=now + self._ttl, now=now)
                    job = Job.submit(JobState(
                        id=job_id, user_id=cmd.user_id, prompt=item.prompt, model=item.model,
                        provider=provider, width=size.width, height=size.height, n=cmd.n,
                        seed=cmd.seed, project_id=cmd.project_id, estimated_credits=credits,
                        created_at=now, updated_at=now))
                    await uow.jobs.add(job)
                    states.append(job.state)
                batch = Batch(id=batch_id, user_id=cmd.user_id, kind=cmd.kind, created_at=now,
                              job_ids=tuple(job_id for job_id, *_ in planned))
                await uow.batches.add(batch)
                await uow.ledgers.append(ledger)
                for message in messages:
                    await uow.outbox.add(message)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return BatchResult(batch=batch, jobs=tuple(states), balance=ledger.balance)

        now = self._clock.now()
        messages = [OutboxMessage(id=self._ids.new_id("msg"), job_id=job_id, topic=DISPATCH_JOB,
                                  created_at=now) for job_id, *_ in planned]
        result = await retry_on_conflict(attempt)
        for message in messages if result.created and self._eager else ():
            await self._relay.publish_committed(message)
        return result

    def _price(self, cmd: SubmitBatchCommand, index: int, item: BatchItem,
               size: ImageSize) -> tuple[str, int]:
        """The item's provider and estimated credits; InvalidRequest names the item's field."""
        field = f"{cmd.field}[{index}]"
        try:
            spec = self._catalog.get(item.model)
            spec.check_request(size, cmd.n, item.prompt)
        except InvalidRequest as exc:
            raise InvalidRequest(exc.field if exc.field in ("size", "n") else field, exc.reason) from exc
        if self._providers.provider_for(spec.provider) is None:
            raise InvalidRequest(field, f"{spec.name} needs provider {spec.provider!r}, which is not configured")
        return spec.provider, estimate_credits(spec, size, cmd.n)
