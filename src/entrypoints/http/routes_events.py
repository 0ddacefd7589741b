"""GET /v1/jobs/{id}/events: a job's state changes as Server-Sent Events, until it finishes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.ports import JobEventSubscriber
from application.principal import Principal
from application.use_cases.get_job import GetJob
from domain.jobs import JobState, JobStatus
from domain.previews import JobPreviewReady
from entrypoints.http.schemas import Api, ErrorBody

#: Seconds between keep-alive comments while nothing happens.
KEEPALIVE_S = 15.0


class JobEventOut(Api):
    """The `data` of every event on the stream (event name `status`)."""

    job_id: str
    status: str
    progress_percent: int
    step: str
    occurred_at: datetime
    terminal: bool


class JobPreviewOut(Api):
    """The `data` of a `preview` event: the job's newest partial image (ADR 0072)."""

    job_id: str
    index: int
    preview_url: str
    occurred_at: datetime


def _preview(seq: int, event: JobPreviewReady,
             url_for: Callable[[str], str]) -> ServerSentEventMessage:
    out = JobPreviewOut(job_id=event.job_id, index=event.index, preview_url=url_for(event.key),
                        occurred_at=event.occurred_at)
    return ServerSentEventMessage(data=msgspec.json.encode(out).decode(), event="preview", id=seq)


def _message(seq: int, out: JobEventOut) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(out).decode(), event="status", id=seq)


def _from_state(state: JobState) -> JobEventOut:
    return JobEventOut(job_id=state.id, status=state.status.value,
                       progress_percent=state.progress_percent, step=state.current_step,
                       occurred_at=state.updated_at, terminal=state.status.terminal)


#: Order of statuses within one instant (a claim moves queued -> processing -> generating at once).
_RANK = {JobStatus.QUEUED: 0, JobStatus.PROCESSING: 1, JobStatus.GENERATING: 2,
         JobStatus.AWAITING_CALLBACK: 3, JobStatus.UPLOADING: 4, JobStatus.COMPLETED: 5,
         JobStatus.FAILED: 5, JobStatus.CANCELLED: 5}


def _position(at: datetime, status: JobStatus) -> tuple[datetime, int]:
    return at, _RANK[status]


async def job_event_stream(job_id: str, user_id: str, get_job: GetJob, events: JobEventSubscriber,
                           keepalive_s: float = KEEPALIVE_S,
                           preview_url: Callable[[str], str] | None = None,
                           ) -> AsyncIterator[ServerSentEventMessage]:
    """Subscribe, then send the stored state, then every change until a terminal status.

    Subscribing before reading means no change falls between the snapshot and the stream (a
    change may be sent twice, which is harmless: each event carries the full status).
    """
    seq = itertools.count(1)
    async with events.subscribe(job_id) as queue:
        snapshot = (await get_job(user_id, job_id)).job
        yield _message(next(seq), _from_state(snapshot))
        if snapshot.status.terminal:
            return
        last_sent = _position(snapshot.updated_at, snapshot.status)
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            if isinstance(event, JobPreviewReady):
                if preview_url is not None:
                    yield _preview(next(seq), event, preview_url)
                continue
            status = JobStatus(event.status)
            position = _position(event.occurred_at, status)
            if position <= last_sent:
                continue  # queued before the snapshot was read: already shown, or older
            last_sent = position
            yield _message(next(seq), JobEventOut(
                job_id=event.job_id, status=status.value, progress_percent=event.progress_percent,
                step=event.current_step, occurred_at=event.occurred_at, terminal=status.terminal))
            if status.terminal:
                return


@get("/v1/jobs/{job_id:str}/events", tags=["jobs"], summary="Watch a job as Server-Sent Events",
     media_type="text/event-stream",
     description=("`text/event-stream` of `status` events whose data is a JobEventOut JSON object, "
                  "and `preview` events (a JobPreviewOut: the newest partial image's URL) while a "
                  "streaming model works; "
                  "the first event is the job's current state, the stream ends after `completed`, "
                  "`failed` or `cancelled`. Keep-alive comments every 15 s. 404 for a job that "
                  "is not the caller's."),
     responses={404: ResponseSpec(ErrorBody, description="not the caller's job"),
                401: ResponseSpec(ErrorBody, description="missing or bad API key")},
     response_description="event: status / id: n / data: {jobId, status, progressPercent, step, occurredAt, terminal}")
async def job_events(job_id: FromPath[str], principal: NamedDependency[Principal],
                     get_job: NamedDependency[GetJob],
                     job_event_source: NamedDependency[Any], storage: NamedDependency[Any],
                     settings: NamedDependency[Any]) -> ServerSentEvent:
    await get_job(principal.user_id, job_id)  # 404 before the stream starts
    ttl = settings.image_url_ttl_s
    return ServerSentEvent(job_event_stream(
        job_id, principal.user_id, get_job, job_event_source,
        preview_url=lambda key: storage.url_for(key, expires_in_s=ttl)))

