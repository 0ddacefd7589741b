"""Outgoing-webhook rules: Standard Webhooks signatures, the retry schedule, event types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.jobs import JobStatus, JobStatusChanged
from domain.webhooks import (
    RETRY_SCHEDULE_S, DeliveryStatus, WebhookDelivery, after_attempt, event_type_for, sign, verify,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_signature_matches_the_published_standard_webhooks_example() -> None:
    # The example of the Standard Webhooks / Svix documentation.
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                '{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verification_accepts_any_listed_signature_and_refuses_a_changed_body() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    good = sign(secret, "msg_1", 100, "{}")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "100",
               "webhook-signature": f"v1,bm9wZQ== {good}"}
    assert verify(secret, headers, "{}")
    assert not verify(secret, headers, "{ }")


def delivery() -> WebhookDelivery:
    return WebhookDelivery(id="msg_1", endpoint_id="whep_1", user_id="u", event_type="job.completed",
                           payload="{}", created_at=T0, next_attempt_at=T0)


def test_failures_follow_the_schedule_and_the_eighth_failure_gives_up() -> None:
    d, now, waits = delivery(), T0, []
    while d.status is DeliveryStatus.PENDING:
        d = after_attempt(d, now=now, status_code=503, error=None)
        if d.next_attempt_at is not None:
            waits.append((d.next_attempt_at - now).total_seconds())
            now = d.next_attempt_at
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000] == list(RETRY_SCHEDULE_S[1:])
    assert (d.status, d.attempts, d.next_attempt_at) == (DeliveryStatus.FAILED, 8, None)


@pytest.mark.parametrize(("code", "succeeded"), [(200, True), (204, True), (299, True), (301, False),
                                                 (410, False), (500, False), (None, False)])
def test_only_a_2xx_answer_is_a_success(code: int | None, succeeded: bool) -> None:
    d = after_attempt(delivery(), now=T0 + timedelta(seconds=1), status_code=code, error=None)
    assert (d.status is DeliveryStatus.SUCCEEDED) is succeeded
    assert (d.delivered_at is not None) is succeeded


@pytest.mark.parametrize(("status", "event_type"), [
    (JobStatus.COMPLETED, "job.completed"), (JobStatus.FAILED, "job.failed"),
    (JobStatus.CANCELLED, "job.cancelled"), (JobStatus.GENERATING, "job.status_changed")])
def test_terminal_states_have_their_own_event_type(status: JobStatus, event_type: str) -> None:
    event = JobStatusChanged(job_id="j", user_id="u", status=status, progress_percent=0,
                             current_step="", occurred_at=T0)
    assert event_type_for(event) == event_type
