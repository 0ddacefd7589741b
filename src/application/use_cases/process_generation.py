"""ProcessGeneration: what a worker runs for one job.

Stages: claim (queued -> processing -> generating, under a lease), call the provider, decode
and verify every image (untrusted bytes), check the storage quota, upload, then record images,
storage usage, the capture and completion in one unit of work. Any classified failure goes to
`FailOrRetry` with the stage it happened in. Running twice for one job is harmless: only a
queued, due job can be claimed, and the final unit re-reads the job before it captures.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import msgspec

from application.conflicts import retry_on_conflict
from application.errors import ProviderUnreachable
from application.ports import (
    Clock, EditTurn, ImageInfo, ImageInspector, JobEventPublisher, ObjectStorage,
    ProviderRegistry, ProviderRequest, ProviderResult, UnitOfWorkFactory,
)
from application.use_cases.job_previews import JobPreviews
from application.use_cases.renew_lease import LeaseKeeper
from application.use_cases.settle_failure import FailOrRetry
from domain.errors import StorageQuotaExceeded
from domain.failures import ErrorClass, JobFailure
from domain.images import StoredImage, image_key
from domain.jobs import FailureStage, JobState, JobStatus


class ProcessGeneration:
    def __init__(self, *, uow: UnitOfWorkFactory, providers: ProviderRegistry,
                 inspector: ImageInspector, storage: ObjectStorage, clock: Clock,
                 publisher: JobEventPublisher, fail_or_retry: FailOrRetry, worker_id: str,
                 lease_s: int = 300, lease_keeper: LeaseKeeper | None = None,
                 previews: JobPreviews | None = None, history_depth: int = 0) -> None:
        self._uow, self._providers, self._inspector = uow, providers, inspector
        self._storage, self._clock, self._publisher = storage, clock, publisher
        self._fail_or_retry, self._worker_id = fail_or_retry, worker_id
        self._lease = timedelta(seconds=lease_s)
        self._keeper = lease_keeper
        self._previews, self._history_depth = previews, history_depth  # ADR 0072; multi-turn

    async def __call__(self, job_id: str) -> JobState | None:
        """Process the job if it is queued and due; return its state after (None if skipped)."""
        job = await self._claim(job_id)
        if job is None:
            return None
        if self._keeper is None:
            return await self._run(job)
        async with self._keeper.hold(job_id):  # renew the lease while the provider works
            return await self._run(job)

    async def _run(self, job: JobState) -> JobState | None:
        job_id = job.id
        try:
            result = await self._generate(job)
        except JobFailure as failure:
            await self._fail_or_retry(job_id, failure, FailureStage.GENERATING)
            return await self._state(job_id)
        except Exception as exc:  # an unclassified bug must still settle the job's credits
            await self._fail_unexpectedly(job_id, exc, FailureStage.GENERATING)
            raise
        if result.pending:
            return await retry_on_conflict(lambda: self._park(job_id, result))
        return await self.finish(job_id, result)

    async def finish(self, job_id: str, result: ProviderResult) -> JobState | None:
        """Verify, store and complete a provider's finished result (also for async callbacks)."""
        stage = FailureStage.GENERATING
        try:
            images = await self._inspect(result)
            stage = FailureStage.UPLOADING
            total = sum(len(i.data) for i in images)
            job = await retry_on_conflict(  # a lease renewal may have saved the row meanwhile
                lambda: self._begin_upload(job_id, total, result.cost_micros or 0))
            if job is None:
                return await self._state(job_id)
            records = await self._upload(job, images)
            stage = FailureStage.PERSISTING
            try:
                return await retry_on_conflict(lambda: self._complete(job_id, records))
            except BaseException:
                await self._discard(records)
                raise
        except JobFailure as failure:
            await self._fail_or_retry(job_id, failure, stage)
        except StorageQuotaExceeded as exceeded:
            await self._fail_or_retry(job_id, JobFailure(ErrorClass.STORAGE_QUOTA, str(exceeded)), stage)
        except Exception as exc:
            await self._fail_unexpectedly(job_id, exc, stage)
            raise
        return await self._state(job_id)

    async def _fail_unexpectedly(self, job_id: str, exc: Exception, stage: FailureStage) -> None:
        failure = JobFailure(ErrorClass.INTERNAL, f"internal error ({type(exc).__name__})")
        await self._fail_or_retry(job_id, failure, stage, allow_retry=False)

    async def _claim(self, job_id: str) -> JobState | None:
        async def attempt() -> JobState | None:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None or job.status is not JobStatus.QUEUED:
                    return None
                due = job.state.next_attempt_at
                if due is not None and due > now:
                    return None
                job.start(now=now, worker_id=self._worker_id, lease_expires_at=now + self._lease)
                job.begin_generation(now=now)
                await uow.jobs.save(job)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return job.state

        return await retry_on_conflict(attempt, retries=2)

    async def _generate(self, job: JobState) -> ProviderResult:
        provider = self._providers.provider_for(job.provider)
        if provider is None:
            raise JobFailure(ErrorClass.INVALID_REQUEST, f"provider {job.provider} is not configured")
        inputs = await self._input_images(job)
        return await provider.generate(ProviderRequest(
            job_id=job.id, model=job.model, prompt=job.prompt, width=job.width, height=job.height,
            n=job.n, seed=job.seed, input_images=inputs[0], mask=inputs[1],
            user_ref=hashlib.sha256(job.user_id.encode()).hexdigest()[:32],
            history=await self._history(job),
            previews=self._previews.sink_for(job) if self._previews else None))

    async def _history(self, job: JobState) -> tuple[EditTurn, ...]:
        """The parent chain's prompts and output images, oldest first, up to the depth."""
        turns: list[EditTurn] = []
        parent_id = job.parent_job_id
        while parent_id and len(turns) < self._history_depth:
            async with self._uow() as uow:
                parent = await uow.jobs.get(parent_id)
                ids = parent.state.image_ids if parent else ()
                records = [await uow.images.get(i) for i in ids]
            if parent is None or parent.state.user_id != job.user_id:
                break
            images = tuple([await self._storage.get(r.key) for r in records if r is not None])
            turns.append(EditTurn(prompt=parent.state.prompt, images=images))
            parent_id = parent.state.parent_job_id
        return tuple(reversed(turns))

    async def _input_images(self, job: JobState) -> tuple[tuple[bytes, ...], bytes | None]:
        if not (job.input_image_ids or job.parent_job_id or job.mask_image_id):
            return (), None  # a plain generation reads nothing more
        async with self._uow() as uow:
            ids = list(job.input_image_ids)
            if not ids and job.parent_job_id:
                parent = await uow.jobs.get(job.parent_job_id)
                ids = list(parent.state.image_ids[:1]) if parent else []
            records = [await uow.images.get(i) for i in ids]
            mask = await uow.images.get(job.mask_image_id) if job.mask_image_id else None
        if job.parent_job_id and not records:
            raise JobFailure(ErrorClass.INVALID_REQUEST, "the parent job has no image to edit")
        inputs = tuple([await self._storage.get(r.key) for r in records if r is not None])
        return inputs, (await self._storage.get(mask.key) if mask else None)

    async def _inspect(self, result: ProviderResult) -> list[ImageInfo]:
        """Keep every image that decodes; fail only when none does (partial success).

        When none does and the provider can read its job again (`refresh`: result URLs that
        expire, as Replicate's do after an hour), the fresh result is inspected once more.
        """
        good: list[ImageInfo] = []
        last: JobFailure | None = None
        for image in result.images:
            try:
                good.append(await self._inspector.inspect(image))
            except JobFailure as failure:
                last = failure
        if not good and result.refresh is not None:
            try:
                fresh = await result.refresh()
            except ProviderUnreachable:
                fresh = None  # the first failure stands
            if fresh is not None:
                return await self._inspect(msgspec.structs.replace(fresh, refresh=None))
        if not good:
            raise last or JobFailure(ErrorClass.INVALID_OUTPUT, "the provider returned no image")
        return good

    async def _park(self, job_id: str, result: ProviderResult) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.status is not JobStatus.GENERATING:
                return job.state if job else None
            job.await_callback(now=self._clock.now(), provider_job_id=result.provider_job_id or "")
            await uow.jobs.save(job)
            await uow.commit()
            events = uow.collect_new_events()
        await self._publisher.publish(events)
        return job.state

    async def _begin_upload(self, job_id: str, total_bytes: int, cost_micros: int) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.status not in (JobStatus.GENERATING, JobStatus.AWAITING_CALLBACK):
                return None
            (await uow.quotas.get(job.state.user_id)).ensure_room_for(total_bytes)
            job.begin_upload(now=self._clock.now(), provider_cost_micros=cost_micros)
            await uow.jobs.save(job)
            await uow.commit()
            events = uow.collect_new_events()
        await self._publisher.publish(events)
        return job.state

    async def _upload(self, job: JobState, images: list[ImageInfo]) -> list[StoredImage]:
        now = self._clock.now()
        records: list[StoredImage] = []
        try:
            for index, info in enumerate(images):
                key = image_key(job.user_id, job.id, index, info.extension)
                await self._storage.put(key, info.data, info.content_type)
                records.append(StoredImage(
                    id=f"img_{job.id.removeprefix('job_')}_{index}", job_id=job.id, user_id=job.user_id,
                    index=index, key=key, content_type=info.content_type, size_bytes=len(info.data),
                    width=info.width, height=info.height, sha256=hashlib.sha256(info.data).hexdigest(),
                    created_at=now))
        except JobFailure:
            await self._discard(records)
            raise
        return records

    async def _complete(self, job_id: str, records: list[StoredImage]) -> JobState | None:
        now = self._clock.now()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.status is not JobStatus.UPLOADING:
                await self._discard(records)  # cancelled (and released) while we worked
                return job.state if job else None
            await uow.lock_account(job.state.user_id)  # account first, then job and quota (ADR 0045)
            total = sum(r.size_bytes for r in records)
            for record in records:
                await uow.images.add(record)
            await uow.quotas.add_usage(job.state.user_id, total)  # the quota check is this write
            charged = job.state.estimated_credits * len(records) // job.state.n
            ledger = await uow.ledgers.load(job.state.user_id, job_ids=(job_id,))
            ledger.capture(job_id, charged, now=now)
            job.complete(now=now, image_ids=tuple(r.id for r in records), charged_credits=charged)
            await uow.jobs.save(job)
            await uow.ledgers.append(ledger)
            await uow.commit()
            events = uow.collect_new_events()
        await self._publisher.publish(events)
        return job.state

    async def _discard(self, records: list[StoredImage]) -> None:
        for record in records:
            try:
                await self._storage.delete(record.key)
            except JobFailure:
                pass  # an orphaned object costs bytes, not correctness; the key is user-scoped

    async def _state(self, job_id: str) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            return job.state if job else None

