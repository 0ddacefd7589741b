"""Examples of `RetryPolicy`: 2 s, 4 s, 8 s backoff, three retries, Retry-After honoured."""

from __future__ import annotations

import pytest

from domain.failures import ErrorClass, JobFailure
from domain.retry import RetryPolicy

pytestmark = pytest.mark.unit

POLICY = RetryPolicy()


def failure(error_class: ErrorClass = ErrorClass.PROVIDER_UNAVAILABLE,
            retry_after_s: float | None = None) -> JobFailure:
    return JobFailure(error_class, "upstream trouble", retry_after_s=retry_after_s)


def test_retries_back_off_2_4_8_seconds_then_give_up() -> None:
    delays = [POLICY.delay_before_retry(failure(), attempts) for attempts in (1, 2, 3, 4, 5)]

    assert delays == [2.0, 4.0, 8.0, None, None]


@pytest.mark.parametrize("error_class", [c for c in ErrorClass if not c.retryable])
def test_a_non_retryable_failure_is_never_retried(error_class: ErrorClass) -> None:
    assert POLICY.delay_before_retry(failure(error_class), 1) is None


def test_only_failures_that_prove_the_request_did_not_run_are_retryable() -> None:
    assert {c for c in ErrorClass if c.retryable} == {
        ErrorClass.RATE_LIMITED, ErrorClass.PROVIDER_UNAVAILABLE, ErrorClass.TIMEOUT}


def test_storage_failures_are_not_retried_because_the_image_was_already_paid_for() -> None:
    assert POLICY.delay_before_retry(failure(ErrorClass.STORAGE), 1) is None


def test_a_retry_after_longer_than_the_backoff_is_honoured() -> None:
    assert POLICY.delay_before_retry(failure(ErrorClass.RATE_LIMITED, retry_after_s=30), 1) == 30


def test_a_retry_after_shorter_than_the_backoff_waits_the_backoff() -> None:
    assert POLICY.delay_before_retry(failure(ErrorClass.RATE_LIMITED, retry_after_s=1), 3) == 8.0


def test_a_retry_after_at_the_maximum_is_still_waited_for() -> None:
    assert POLICY.delay_before_retry(failure(retry_after_s=120.0), 1) == 120.0


def test_a_retry_after_above_the_maximum_fails_the_job_now() -> None:
    assert POLICY.delay_before_retry(failure(retry_after_s=120.5), 1) is None


def test_retry_after_does_not_extend_the_number_of_retries() -> None:
    assert POLICY.delay_before_retry(failure(retry_after_s=5), 4) is None


def test_the_policy_can_be_tuned() -> None:
    policy = RetryPolicy(max_retries=1, base_delay_s=0.5, max_retry_after_s=10)

    assert policy.delay_before_retry(failure(), 1) == 0.5
    assert policy.delay_before_retry(failure(), 2) is None
    assert policy.delay_before_retry(failure(retry_after_s=11), 1) is None


def test_an_unknown_outcome_is_retried_only_after_the_first_attempt() -> None:
    unknown = JobFailure(ErrorClass.TIMEOUT, "read timeout", unknown_outcome=True)

    assert POLICY.delay_before_retry(unknown, 1) == 2.0
    assert POLICY.delay_before_retry(unknown, 2) is None


def test_a_timeout_known_not_to_have_run_keeps_the_normal_retries() -> None:
    assert POLICY.delay_before_retry(JobFailure(ErrorClass.TIMEOUT, "408"), 3) == 8.0


def test_unknown_outcome_retries_can_be_turned_off() -> None:
    unknown = JobFailure(ErrorClass.TIMEOUT, "read timeout", unknown_outcome=True)

    assert RetryPolicy(max_unknown_outcome_retries=0).delay_before_retry(unknown, 1) is None
