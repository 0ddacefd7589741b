"""Errors raised by use cases and ports, beside the domain's rule violations."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base of errors raised by the application layer."""


class NotFound(ApplicationError):
    """Raised when a resource does not exist or belongs to another user (the two look alike)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class ConcurrencyConflict(ApplicationError):
    """Raised by a store when an append or save finds a newer version than it expected."""


class Unauthorized(ApplicationError):
    """Raised when an API key is missing, unknown or revoked."""


class Forbidden(ApplicationError):
    """Raised when a known caller asks for something its role does not allow."""


class ServiceUnavailable(ApplicationError):
    """Raised by adapters when a backing service (database, broker) cannot be reached."""


class CommitOutcomeUnknown(ServiceUnavailable):
    """Raised by a unit of work whose commit failed in a way that may have committed (the
    connection dropped while the COMMIT was in flight). Callers must treat the unit's writes
    as possibly done: never undo side effects they stand for, and find out by reading (ADR 0052).
    """


class WebhookRejected(ApplicationError):
    """Raised by a webhook verifier: `malformed` (answer 400) or a bad or stale signature (401)."""

    def __init__(self, reason: str, *, malformed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


class ProviderUnreachable(ApplicationError):
    """Raised by an async provider's control calls when the provider could not be asked."""
