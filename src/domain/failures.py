"""The error taxonomy: what went wrong with a job, whether to retry it, whether to refund it.

Derived from the normalised classes of the provider reference (section 0.1). A provider adapter
turns every wire-level failure into a `JobFailure`; the worker consults `RetryPolicy` and the
`RefundPolicy` and never inspects provider-specific details.
"""

from __future__ import annotations

import enum

import msgspec


class ErrorClass(enum.StrEnum):
    """Normalised failure classes; the value is what clients and logs see."""

    CONTENT_POLICY = "content_policy"
    INVALID_REQUEST = "invalid_request"
    AUTH = "auth"
    PROVIDER_QUOTA = "provider_quota"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    #: The provider no longer serves the catalog's model (retired, renamed, not enabled for
    #: our key): an operator's catalog problem, never the user's request (ADR 0071).
    MODEL_UNAVAILABLE = "model_unavailable"
    TIMEOUT = "timeout"
    STORAGE = "storage"
    STORAGE_QUOTA = "storage_quota"
    INVALID_OUTPUT = "invalid_output"
    CANCELLED = "cancelled"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        """True for classes that prove the request did not run, or may safely run again."""
        return self in _RETRYABLE

    @property
    def operator_fault(self) -> bool:
        """True for failures an operator must fix (key, account, catalog), not the user."""
        return self in _OPERATOR


_OPERATOR = frozenset({ErrorClass.AUTH, ErrorClass.PROVIDER_QUOTA, ErrorClass.MODEL_UNAVAILABLE})

# STORAGE is not here: the image was generated (and paid for) already; the storage adapter
# retries its own puts, and a job-level retry would buy the image twice.
_RETRYABLE = frozenset({ErrorClass.RATE_LIMITED, ErrorClass.PROVIDER_UNAVAILABLE, ErrorClass.TIMEOUT})


class Settlement(enum.StrEnum):
    """What happens to a failed job's reserved credits."""

    RELEASE = "release"
    CAPTURE = "capture"


class JobFailure(Exception):
    """A classified failure of one attempt; raised by adapters, handled by use cases.

    Attributes:
        error_class: the normalised class.
        message: a human-readable reason, safe to show to the job's owner.
        retry_after_s: seconds the provider asked us to wait, when it said so.
        provider_cost_micros: cost already incurred upstream (an output-stage block, say).
        unknown_outcome: the request may have run upstream (a read timeout on a synchronous
            provider): a retry may buy the image twice, so `RetryPolicy` retries it at most once.
    """

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        retry_after_s: float | None = None,
        provider_cost_micros: int = 0,
        unknown_outcome: bool = False,
    ) -> None:
        super().__init__(f"{error_class.value}: {message}")
        self.error_class = error_class
        self.message = message
        self.retry_after_s = retry_after_s
        self.provider_cost_micros = provider_cost_micros
        self.unknown_outcome = unknown_outcome


_DEFAULT_REFUNDS: dict[str, Settlement] = {cls.value: Settlement.RELEASE for cls in ErrorClass}


class RefundPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Per-class decision to release or capture a failed job's reservation.

    Every class refunds by default (the seeds refund server errors, quota failures and
    blocks alike); operators may choose to capture, say, content-policy blocks.
    """

    overrides: dict[str, Settlement] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.overrides) - set(_DEFAULT_REFUNDS)
        if unknown:
            raise ValueError(f"refund policy names unknown error classes: {sorted(unknown)}")

    def settlement_for(self, error_class: ErrorClass) -> Settlement:
        """Return whether a job failing with `error_class` is refunded or charged."""
        return self.overrides.get(error_class.value, _DEFAULT_REFUNDS[error_class.value])
