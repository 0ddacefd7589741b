"""ProcessGeneration: what a worker runs for one job.

Stages: claim (queued -> processing -> generating, under a lease), call the provider, decode
and verify every image (untrusted bytes), keep at most `n` of them, check the storage quota,
upload, then record images, storage usage, the capture and completion in one unit of work.
Any classified failure goes to `FailOrRetry` with the stage it happened in.

Every write after the claim is fenced by the claim's `Attempt` (ADR 0040): a stale attempt (its
lease lapsed and the sweeper moved the job on) gets `StaleAttempt` and stops, changing nothing.
Its objects carry the attempt in their keys, and it deletes only those, never after a commit
was attempted unless a re-read proves the job does not list them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
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
from domain.errors import StaleAttempt, StorageQuotaExceeded
from domain.failures import ErrorClass, JobFailure
from domain.images import StoredImage, image_key
from domain.jobs import Attempt, FailureStage, JobState, JobStatus, JobStatusChanged

log = logging.getLogger("imagegen.worker")


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
        attempt = Attempt(job.attempts, self._worker_id)
        try:
            if self._keeper is None:
                return await self._run(job, attempt)
            async with self._keeper.hold(job_id, attempt):  # renew the lease while we work
                return await self._run(job, attempt)
        except StaleAttempt as stale:
            log.warning("job.stale_attempt_stopped", extra={"job_id": job_id, "reason": str(stale)})
            return await self._state(job_id)

    async def _run(self, job: JobState, attempt: Attempt) -> JobState | None:
        job_id = job.id
        try:
            result = await self._generate(job)
        except JobFailure as failure:
            await self._fail_or_retry(job_id, failure, FailureStage.GENERATING, attempt=attempt)
            return await self._state(job_id)
        except Exception as exc:  # an unclassified bug must still settle the job's credits
            await self._fail_unexpectedly(job_id, exc, FailureStage.GENERATING, attempt)
            raise
        if result.pending:
            return await retry_on_conflict(lambda: self._park(job_id, result, attempt))
        return await self.finish(job_id, result, attempt)

    async def finish(self, job_id: str, result: ProviderResult, attempt: Attempt) -> JobState | None:
        """Verify, store and complete a provider's finished result for `attempt` (also for
        async callbacks, whose resume claim is the attempt); `StaleAttempt` if it lost the job."""
        stage = FailureStage.GENERATING
        try:
            images = await self._inspect(result)
            stage = FailureStage.UPLOADING
            job, kept = await retry_on_conflict(  # a lease renewal may have saved the row meanwhile
                lambda: self._begin_upload(job_id, images, result.cost_micros or 0, attempt))
            records = await self._upload(job, kept, attempt)
            stage = FailureStage.PERSISTING
            try:
                return await retry_on_conflict(lambda: self._complete(job_id, records, attempt))
            except BaseException:
                await self._discard_unless_listed(job_id, records)
                raise
        except StaleAttempt:
            raise
        except JobFailure as failure:
            await self._fail_or_retry(job_id, failure, stage, attempt=attempt)
        except StorageQuotaExceeded as exceeded:
            await self._fail_or_retry(job_id, JobFailure(ErrorClass.STORAGE_QUOTA, str(exceeded)),
                                      stage, attempt=attempt)
        except Exception as exc:
            await self._fail_unexpectedly(job_id, exc, stage, attempt)
            raise
        return await self._state(job_id)

    async def _fail_unexpectedly(self, job_id: str, exc: Exception, stage: FailureStage,
                                 attempt: Attempt) -> None:
        """Fail the job as `internal` if this attempt still holds it; the caller then re-raises
        `exc` (a job that already ended, say committed just before the error, stays as it is)."""
        failure = JobFailure(ErrorClass.INTERNAL, f"internal error ({type(exc).__name__})")
        with contextlib.suppress(StaleAttempt):
            await self._fail_or_retry(job_id, failure, stage, allow_retry=False, attempt=attempt)

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
            await self._publish(events)
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

    async def _park(self, job_id: str, result: ProviderResult, attempt: Attempt) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                return None
            job.fence(attempt)
            job.await_callback(now=self._clock.now(), provider_job_id=result.provider_job_id or "")
            await uow.jobs.save(job)
            await uow.commit()
            events = uow.collect_new_events()
        await self._publish(events)
        return job.state

    async def _begin_upload(self, job_id: str, images: list[ImageInfo], cost_micros: int,
                            attempt: Attempt) -> tuple[JobState, list[ImageInfo]]:
        """Move the job to uploading under a fresh lease; keep at most `n` images (a provider
        may return more than asked: they are dropped, never stored nor charged)."""
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                raise StaleAttempt(job_id, attempt.number, "the job is gone")
            job.fence(attempt)
            kept = images[:job.state.n]
            (await uow.quotas.get(job.state.user_id)).ensure_room_for(sum(len(i.data) for i in kept))
            now = self._clock.now()
            job.begin_upload(now=now, provider_cost_micros=cost_micros,
                             lease_expires_at=now + self._lease)
            await uow.jobs.save(job)
            await uow.commit()
            events = uow.collect_new_events()
        await self._publish(events)
        return job.state, kept

    async def _upload(self, job: JobState, images: list[ImageInfo], attempt: Attempt) -> list[StoredImage]:
        now = self._clock.now()
        records: list[StoredImage] = []
        try:
            for index, info in enumerate(images):
                key = image_key(job.user_id, job.id, index, info.extension, attempt=attempt.number)
                await self._storage.put(key, info.data, info.content_type)
                records.append(StoredImage(
                    id=f"img_{job.id.removeprefix('job_')}_{index}", job_id=job.id, user_id=job.user_id,
                    index=index, key=key, content_type=info.content_type, size_bytes=len(info.data),
                    width=info.width, height=info.height, sha256=hashlib.sha256(info.data).hexdigest(),
                    created_at=now))
        except BaseException:  # nothing was committed yet: these keys are ours alone
            await self._discard(records)
            raise
        return records

    async def _complete(self, job_id: str, records: list[StoredImage], attempt: Attempt) -> JobState | None:
        now = self._clock.now()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                raise StaleAttempt(job_id, attempt.number, "the job is gone")
            job.fence(attempt)  # cancelled, failed or taken over while we worked: StaleAttempt
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
        await self._publish(events)
        return job.state

    async def _discard_unless_listed(self, job_id: str, records: list[StoredImage]) -> None:
        """After a commit was attempted: delete our objects only if a fresh read proves the job
        does not list them (a commit reported as failed may have succeeded). If the read fails
        too, keep them: an orphan costs bytes, a deleted image of a charged job costs trust."""
        if not records:
            return
        try:
            async with self._uow() as uow:
                listed = {image.key for image in await uow.images.for_job(job_id)}
        except Exception:  # noqa: BLE001 - cannot prove anything: keep the objects
            log.warning("job.objects_kept_unproven", extra={"job_id": job_id})
            return
        await self._discard([r for r in records if r.key not in listed])

    async def _discard(self, records: list[StoredImage]) -> None:
        for record in records:
            try:
                await self._storage.delete(record.key)
            except JobFailure:
                pass  # an orphaned object costs bytes, not correctness; the key is user-scoped

    async def _publish(self, events: list[JobStatusChanged]) -> None:
        """Publish committed events; a failure here must not undo or fail committed work."""
        try:
            await self._publisher.publish(events)
        except Exception:  # noqa: BLE001 - the commit stands; progress streams catch up on read
            log.warning("job.events_not_published", exc_info=True)

    async def _state(self, job_id: str) -> JobState | None:
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            return job.state if job else None
