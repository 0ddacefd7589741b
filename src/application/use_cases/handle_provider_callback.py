"""HandleProviderCallback: a provider's webhook, verified, recorded once, and turned into a resume.

The verifier checks the signature over the raw body before anything is read from it. A
delivery id already recorded is answered as a duplicate and changes nothing (providers retry
terminal webhooks; two receivers may race, and the table's key lets one win). A finished
delivery for a job awaiting its callback enqueues the job: the worker resumes it through
`ResumeAwaitingJob`, so the webhook itself never runs provider or storage I/O. A delivery
for a prediction we do not know is recorded and acknowledged (the poller covers a callback
that overtook the commit of the job's provider id), and so is one whose enqueue failed: the
resume's queue message commits with the delivery record (ADR 0051), so the relay sends it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping

import msgspec

from application.errors import ConcurrencyConflict, NotFound, WebhookRejected
from application.ports import (
    Clock, ProviderDelivery, TaskQueue, UnitOfWorkFactory, WebhookVerifier,
)
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from domain.jobs import JobStatus


class CallbackOutcome(enum.StrEnum):
    RESUMING = "resuming"  # the job was enqueued to resume
    DUPLICATE = "duplicate"  # this delivery was handled before
    UNKNOWN_JOB = "unknown_job"  # no job has this provider job id
    IGNORED = "ignored"  # the job is not awaiting a callback, or the event is not terminal
    DEFERRED = "deferred"  # the queue refused the resume; the poller will pick the job up


class CallbackReceipt(msgspec.Struct, frozen=True, kw_only=True):
    outcome: CallbackOutcome
    provider: str
    delivery_id: str
    provider_job_id: str
    job_id: str | None = None


class HandleProviderCallback:
    def __init__(self, *, uow: UnitOfWorkFactory, verifiers: Mapping[str, WebhookVerifier],
                 queue: TaskQueue, clock: Clock) -> None:
        self._uow, self._verifiers, self._queue, self._clock = uow, dict(verifiers), queue, clock
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self, provider: str, headers: Mapping[str, str],
                       body: bytes) -> CallbackReceipt:
        """Verify and handle one delivery.

        Raises:
            NotFound: no receiver is configured for `provider`.
            WebhookRejected: from the verifier (malformed: 400, bad signature: 401).
        """
        verifier = self._verifiers.get(provider)
        if verifier is None:
            raise NotFound("webhook receiver", provider)
        delivery = await _verify(verifier, headers, body)
        receipt = CallbackReceipt(outcome=CallbackOutcome.DUPLICATE, provider=provider,
                                  delivery_id=delivery.delivery_id,
                                  provider_job_id=delivery.provider_job_id)
        try:
            async with self._uow() as uow:
                if await uow.provider_deliveries.seen(provider, delivery.delivery_id):
                    return receipt
                job = await uow.jobs.by_provider_job_id(provider, delivery.provider_job_id)
                now = self._clock.now()
                await uow.provider_deliveries.record(delivery, job_id=job.id if job else None,
                                                     received_at=now)
                resume = (job is not None and job.status is JobStatus.AWAITING_CALLBACK
                          and delivery.finished)
                if resume:  # the resume is a side effect of this record: same unit (ADR 0051)
                    message = dispatch_message(_resume_id(provider, delivery.delivery_id),
                                               job.id, now=now, own=True)  # type: ignore[union-attr]
                    await uow.outbox.add(message)
                await uow.commit()
        except ConcurrencyConflict:
            return receipt  # another receiver recorded the same delivery first
        if job is None:
            return msgspec.structs.replace(receipt, outcome=CallbackOutcome.UNKNOWN_JOB)
        receipt = msgspec.structs.replace(receipt, job_id=job.id, outcome=CallbackOutcome.IGNORED)
        if not resume:
            return receipt
        if not await self._relay.publish_committed(message):  # the relay sends it later
            return msgspec.structs.replace(receipt, outcome=CallbackOutcome.DEFERRED)
        return msgspec.structs.replace(receipt, outcome=CallbackOutcome.RESUMING)


def _resume_id(provider: str, delivery_id: str) -> str:
    digest = hashlib.sha256(f"{provider}|{delivery_id}".encode()).hexdigest()[:26]
    return f"msg_resume_{digest}"


async def _verify(verifier: WebhookVerifier, headers: Mapping[str, str],
                  body: bytes) -> ProviderDelivery:
    """Verify, letting a verifier with rotating keys (fal's JWKS) refresh them first, and once
    more when no key verified (the keys may have rotated since they were read)."""
    prepare = getattr(verifier, "prepare", None)
    if prepare is not None:
        await prepare()
    try:
        return verifier.verify(headers, body)
    except WebhookRejected:
        if prepare is None or not await prepare(force=True):
            raise
        return verifier.verify(headers, body)
