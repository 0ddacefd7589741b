"""Retry policy: backoff 2 s, 4 s, 8 s, at most three retries, Retry-After honoured, unknown outcomes once."""

from __future__ import annotations

import msgspec

from domain.failures import JobFailure


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Decides whether a failed attempt is tried again and after how long.

    Attributes:
        max_retries: retries after the first attempt (so attempts <= max_retries + 1).
        base_delay_s: delay before the first retry; doubled for each later one.
        max_retry_after_s: a provider's Retry-After above this is not waited for.
        max_unknown_outcome_retries: a failure whose outcome is unknown (a synchronous
            provider's read timeout: the image may have been made and billed) is retried only
            while attempts_made <= this, so such failures cause at most this many retries in
            a job's life, whatever else failed before or after.
    """

    max_retries: int = 3
    base_delay_s: float = 2.0
    max_retry_after_s: float = 120.0
    max_unknown_outcome_retries: int = 1

    def delay_before_retry(self, failure: JobFailure, attempts_made: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the job must fail now.

        Args:
            failure: the classified failure of the attempt that just ended.
            attempts_made: attempts so far, including the one that just failed (>= 1).
        """
        if not failure.error_class.retryable or attempts_made > self.max_retries:
            return None
        if failure.unknown_outcome and attempts_made > self.max_unknown_outcome_retries:
            return None
        backoff = self.base_delay_s * (2 ** (attempts_made - 1))
        if failure.retry_after_s is None:
            return backoff
        if failure.retry_after_s > self.max_retry_after_s:
            return None
        return max(backoff, failure.retry_after_s)
