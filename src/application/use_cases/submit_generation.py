"""SubmitGeneration: validate, estimate, reserve credits, create the job, enqueue it.

Submitting again what was submitted already returns the first job and reserves nothing: the
retry of a job that has a retry (one per job, ADR 0052), or a job whose caller-derived id
exists (an idempotency key whose first outcome was in doubt).

All or nothing: the reservation, the job and its outbox message commit in one unit of work, so
a rejected request (bad input, unknown model, too few credits) leaves no job and no ledger
event behind, and an accepted one is never lost by the queue: the message is published right after the commit,
or later by the outbox relay if the queue could not take it; with `publish_after_commit=False`
(production, ADR 0066) only by the relay, which the commit wakes at once.
"""

from __future__ import annotations

import hashlib

from datetime import timedelta

import msgspec

from application.commands import SubmitJob
from application.conflicts import retry_on_conflict
from application.ports import (
    Clock, IdGenerator, JobEventPublisher, ProviderRegistry, TaskQueue, UnitOfWorkFactory,
)
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from domain.catalog import ModelCatalog
from domain.credits import Balance
from domain.errors import InsufficientCredits, InvalidRequest
from domain.jobs import Job, JobState
from domain.limits import MAX_INPUT_IMAGES, dedupe
from domain.pricing import ImageSize, ModelSpec, estimate_credits


class SubmitResult(msgspec.Struct, frozen=True, kw_only=True):
    job: JobState
    balance: Balance
    #: False when the job existed already (the retry of a retried job, or the job of an
    #: idempotency key whose first request's outcome was in doubt): nothing new was reserved.
    created: bool = True


def drawn_seed(job_id: str) -> int:
    """A seed for a request that gave none, drawn from the job's unique id (so it is recorded
    on the job and the job can be reproduced): 31 bits of its SHA-256."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


def bounded_inputs(cmd: SubmitJob) -> SubmitJob:
    """`cmd` with its input image ids deduplicated; InvalidRequest past `MAX_INPUT_IMAGES` (ADR 0080:
    20,000 ids once made one submit take 17 s for 1 credit)."""
    image_ids = dedupe(cmd.input_image_ids)
    if len(image_ids) > MAX_INPUT_IMAGES:
        raise InvalidRequest("inputImageIds", f"at most {MAX_INPUT_IMAGES} distinct images")
    return cmd if image_ids == cmd.input_image_ids else msgspec.structs.replace(cmd, input_image_ids=image_ids)


class SubmitGeneration:
    def __init__(self, *, uow: UnitOfWorkFactory, catalog: ModelCatalog, providers: ProviderRegistry,
                 queue: TaskQueue, clock: Clock, ids: IdGenerator, publisher: JobEventPublisher,
                 reservation_ttl_s: int = 3600, publish_after_commit: bool = True) -> None:
        """`publish_after_commit=False` leaves the message to the outbox relay woken by the
        commit (ADR 0066): the request never waits on the queue."""
        self._uow, self._catalog, self._providers = uow, catalog, providers
        self._queue, self._clock, self._ids, self._publisher = queue, clock, ids, publisher
        self._eager = publish_after_commit
        self._ttl = timedelta(seconds=reservation_ttl_s)
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    def _validated(self, cmd: SubmitJob, *, edit: bool) -> tuple[ModelSpec, ImageSize, int]:
        spec = self._catalog.get(cmd.model)
        size = ImageSize.parse(cmd.size)
        spec.check_request(size, cmd.n, cmd.prompt)
        if self._providers.provider_for(spec.provider) is None:
            raise InvalidRequest("model", f"{spec.name} needs provider {spec.provider!r}, which is not configured")
        if edit and not spec.supports_edit:
            raise InvalidRequest("model", f"{spec.name} does not edit images")
        return spec, size, estimate_credits(spec, size, cmd.n)

    async def precheck_edit(self, cmd: SubmitJob, *, upload_bytes: int) -> None:
        """Everything an edit would be refused for, checked before its uploads are stored
        (ADR 0080): model, size, n and prompt; the credits; the storage quota's headroom for
        `upload_bytes`. Reads only; the submit itself checks again in its unit of work."""
        _, _, credits = self._validated(cmd, edit=True)
        async with self._uow() as uow:
            balance = (await uow.ledgers.load(cmd.user_id)).balance
            if balance.available < credits:
                raise InsufficientCredits(cmd.user_id, credits, balance.available, reserved=balance.reserved,
                                          lifetime_spent=balance.lifetime_spent)
            (await uow.quotas.get(cmd.user_id)).ensure_room_for(upload_bytes)

    async def __call__(self, cmd: SubmitJob) -> SubmitResult:
        cmd = bounded_inputs(cmd)
        spec, size, credits = self._validated(cmd, edit=bool(cmd.input_image_ids or cmd.mask_image_id))
        job_id = cmd.job_id or self._ids.new_id("job")

        async def attempt() -> SubmitResult:
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.lock_account(cmd.user_id)
                existing = await self._existing(uow, cmd, job_id)
                if existing is not None:
                    balance = (await uow.ledgers.load(cmd.user_id)).balance
                    return SubmitResult(job=existing.state, balance=balance, created=False)
                await self._check_parent(uow, cmd)
                ledger = await uow.ledgers.load(cmd.user_id, job_ids=(job_id,))
                ledger.reserve(job_id, credits, expires_at=now + self._ttl, now=now)
                job = Job.submit(JobState(
                    id=job_id, user_id=cmd.user_id, prompt=cmd.prompt, model=spec.name,
                    provider=spec.provider, width=size.width, height=size.height, n=cmd.n,
                    seed=drawn_seed(job_id) if cmd.seed is None and spec.provider == "local"
                    else cmd.seed, project_id=cmd.project_id, parent_job_id=cmd.parent_job_id,
                    kind="edit" if cmd.input_image_ids or cmd.parent_job_id else "generate",
                    input_image_ids=cmd.input_image_ids, mask_image_id=cmd.mask_image_id,
                    estimated_credits=credits, created_at=now, updated_at=now,
                    retry_of_job_id=cmd.retry_of_job_id))
                await uow.jobs.add(job)
                await uow.ledgers.append(ledger)
                await uow.outbox.add(message)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return SubmitResult(job=job.state, balance=ledger.balance)

        message = dispatch_message(self._ids.new_id("msg"), job_id, now=self._clock.now(),
                                   own=self._eager)
        result = await retry_on_conflict(attempt)
        if result.created and self._eager:
            await self._relay.publish_committed(message)
        return result

    @staticmethod
    async def _existing(uow, cmd: SubmitJob, job_id: str) -> Job | None:  # type: ignore[no-untyped-def]
        """The job this command already made: the retry of `retry_of_job_id` (one per job, a
        unique index), or the job under a caller-derived id."""
        if cmd.retry_of_job_id is not None:
            return await uow.jobs.retry_of(cmd.retry_of_job_id)  # type: ignore[no-any-return]
        if cmd.job_id is None:
            return None
        job = await uow.jobs.get(job_id)
        if job is not None and job.state.user_id != cmd.user_id:
            raise InvalidRequest("Idempotency-Key", "names a job of another account")
        return job  # type: ignore[no-any-return]

    @staticmethod
    async def _check_parent(uow, cmd: SubmitJob) -> None:  # type: ignore[no-untyped-def]
        if cmd.parent_job_id is not None:
            parent = await uow.jobs.get(cmd.parent_job_id)
            if parent is None or parent.state.user_id != cmd.user_id:
                raise InvalidRequest("parentJobId", f"no job {cmd.parent_job_id} of yours")
        if cmd.project_id is not None and not await uow.users.has_project(cmd.user_id, cmd.project_id):
            raise InvalidRequest("projectId", f"{cmd.project_id} is not one of your projects "
                                 "(a project is named by one of your API keys)")
        for image_id in (*cmd.input_image_ids, *([cmd.mask_image_id] if cmd.mask_image_id else [])):
            image = await uow.images.get(image_id)
            if image is None or image.user_id != cmd.user_id:
                raise InvalidRequest("inputImageIds", f"no image {image_id} of yours")

