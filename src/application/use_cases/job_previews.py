"""JobPreviews: store a provider's partial images as a job's preview, and remove it at the end.

A sink is made per job attempt and handed to the provider. Each partial image is decoded
like any untrusted output (the inspector), written over the job's one preview object, indexed
and announced as `JobPreviewReady`. A preview that cannot be decoded or stored is dropped:
previews are best effort and must never fail or slow the job that makes them. When the job
ends (any terminal status event), the object and its index entry are deleted (ADR 0072).
"""

from __future__ import annotations

from collections.abc import Sequence

from application.ports import (
    Clock, GeneratedImage, ImageInspector, JobEventPublisher, ObjectStorage, PreviewIndex,
    PreviewSink,
)
from domain.failures import JobFailure
from domain.jobs import JobState, JobStatus, JobStatusChanged
from domain.previews import JobPreview, JobPreviewReady, preview_key


class JobPreviews:
    def __init__(self, *, index: PreviewIndex, storage: ObjectStorage, inspector: ImageInspector,
                 publisher: JobEventPublisher, clock: Clock) -> None:
        self._index, self._storage, self._inspector = index, storage, inspector
        self._publisher, self._clock = publisher, clock
        self.dropped = 0  # previews that could not be decoded or stored, for tests and metrics
        self._streamed: set[str] = set()  # jobs this process stored previews for

    def sink_for(self, job: JobState) -> PreviewSink:
        """The sink a provider streams this job's partial images into."""

        async def sink(data: bytes, index: int) -> None:
            await self._store(job, data, index)

        return sink

    async def current(self, job: JobState) -> JobPreview | None:
        """The live job's newest preview; None once the job ended (a result replaces it)."""
        if job.status.terminal or job.status is JobStatus.QUEUED:
            return None
        return await self._index.get(job.id)

    async def clear_finished(self, events: Sequence[JobStatusChanged]) -> None:
        """A fan-out listener: delete the previews of jobs that just ended.

        A job completes or fails in the worker that streamed it, so only jobs this process
        stored previews for are looked up then (no index round trip per finished job); a
        cancel comes from any process and is always looked up. A preview stranded by a retry
        on another worker is hidden (`current` shows none for a finished job) and its index
        entry expires.
        """
        for event in events:
            status = JobStatus(event.status)
            if not status.terminal:
                continue
            if status is JobStatus.CANCELLED or event.job_id in self._streamed:
                self._streamed.discard(event.job_id)
                preview = await self._index.delete(event.job_id)
                if preview is not None:
                    try:
                        await self._storage.delete(preview.key)
                    except JobFailure:
                        self.dropped += 1  # the object stays; its index entry is gone

    async def _store(self, job: JobState, data: bytes, index: int) -> None:
        try:
            info = await self._inspector.inspect(GeneratedImage(data=data))
            key = preview_key(job.user_id, job.id, info.extension)
            if len(self._streamed) > 10_000:  # jobs whose end this process never saw
                self._streamed.clear()
            self._streamed.add(job.id)
            await self._storage.put(key, info.data, info.content_type)
            before = await self._index.get(job.id)
            if before is not None and before.key != key:
                await self._storage.delete(before.key)  # one preview per job, whatever its type
            now = self._clock.now()
            await self._index.put(JobPreview(job_id=job.id, user_id=job.user_id, key=key,
                                             index=index, content_type=info.content_type,
                                             updated_at=now))
            await self._publisher.publish([JobPreviewReady(
                job_id=job.id, user_id=job.user_id, index=index, key=key, occurred_at=now)])
        except Exception:  # best effort by design: the final image is what the job delivers
            self.dropped += 1
