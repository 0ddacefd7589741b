"""Examples of the error taxonomy and the per-class `RefundPolicy`."""

from __future__ import annotations

import msgspec
import pytest

from domain.failures import ErrorClass, JobFailure, RefundPolicy, Settlement

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("error_class", list(ErrorClass))
def test_every_failure_is_refunded_by_default(error_class: ErrorClass) -> None:
    assert RefundPolicy().settlement_for(error_class) is Settlement.RELEASE


def test_an_override_captures_only_the_classes_it_names() -> None:
    policy = RefundPolicy(overrides={"content_policy": Settlement.CAPTURE})

    assert policy.settlement_for(ErrorClass.CONTENT_POLICY) is Settlement.CAPTURE
    assert policy.settlement_for(ErrorClass.PROVIDER_UNAVAILABLE) is Settlement.RELEASE
    assert policy.settlement_for(ErrorClass.STORAGE) is Settlement.RELEASE


def test_an_override_may_also_spell_out_a_release() -> None:
    policy = RefundPolicy(overrides={ErrorClass.INVALID_REQUEST: Settlement.RELEASE})

    assert policy.settlement_for(ErrorClass.INVALID_REQUEST) is Settlement.RELEASE


def test_a_refund_policy_naming_an_unknown_error_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="oops"):
        RefundPolicy(overrides={"oops": Settlement.CAPTURE})


def test_a_refund_policy_loads_from_settings_and_still_checks_class_names() -> None:
    loaded = msgspec.convert({"overrides": {"auth": "capture"}}, RefundPolicy)

    assert loaded.settlement_for(ErrorClass.AUTH) is Settlement.CAPTURE
    with pytest.raises(msgspec.ValidationError, match="unknown error classes"):
        msgspec.convert({"overrides": {"nope": "capture"}}, RefundPolicy)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"overrides": {"auth": "keep"}}, RefundPolicy)


def test_a_job_failure_carries_its_class_message_and_hints() -> None:
    failure = JobFailure(ErrorClass.RATE_LIMITED, "slow down", retry_after_s=3.0,
                         provider_cost_micros=0)

    assert (failure.error_class, failure.message, failure.retry_after_s) == (
        ErrorClass.RATE_LIMITED, "slow down", 3.0)
    assert str(failure) == "rate_limited: slow down"
