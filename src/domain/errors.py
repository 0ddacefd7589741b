"""Errors the domain raises when a rule would be broken.

Every error names the rule; callers map them to HTTP answers or exit codes at the edge.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation raised by the domain."""


class InvalidTransition(DomainError):
    """Raised when a job is asked to move along an edge its transition table does not have."""

    def __init__(self, job_id: str, current: str, action: str) -> None:
        super().__init__(f"job {job_id}: cannot {action} a job that is {current}")
        self.job_id = job_id
        self.current = current
        self.action = action


class InvalidRequest(DomainError):
    """Raised when a request breaks a rule of the product; names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InsufficientCredits(DomainError):
    """Raised when a reservation or debit would take available credits below zero."""

    def __init__(self, account_id: str, requested: int, available: int, *, reserved: int = 0,
                 lifetime_spent: int = 0) -> None:
        super().__init__(
            f"account {account_id}: {requested} credits requested, {available} available"
        )
        self.account_id = account_id
        self.requested = requested
        self.available = available
        self.reserved = reserved
        self.lifetime_spent = lifetime_spent


class ReservationConflict(DomainError):
    """Raised when a reservation is reserved or settled twice in two different ways."""


class UnknownReservation(DomainError):
    """Raised when settling a job id the ledger holds no open reservation for."""


class LedgerIntegrityError(DomainError):
    """Raised when a stream of ledger events is out of order or its hash chain is broken."""


class StorageQuotaExceeded(DomainError):
    """Raised when storing bytes would take an account over its plan's storage quota."""

    def __init__(self, used: int, incoming: int, limit: int) -> None:
        super().__init__(f"storage quota exceeded: {used} + {incoming} bytes > {limit}")
        self.used = used
        self.incoming = incoming
        self.limit = limit


class StaleAttempt(DomainError):
    """Raised when an attempt that no longer holds its job tries to write it (fencing).

    Another attempt took the job over (its lease lapsed and the sweeper moved it on) or the job
    ended meanwhile; the stale attempt must change nothing and stop.
    """

    def __init__(self, job_id: str, attempt: int, reason: str) -> None:
        super().__init__(f"job {job_id}: attempt {attempt} is stale ({reason})")
        self.job_id = job_id
        self.attempt = attempt
