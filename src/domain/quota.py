"""Storage quotas by plan: free 1 GiB, pro 100 GiB, enterprise 500 GiB."""

from __future__ import annotations

import enum

import msgspec

from domain.errors import StorageQuotaExceeded

GIB = 1024**3


class Plan(enum.StrEnum):
    """Subscription plans; each carries a storage allowance."""

    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


PLAN_STORAGE_BYTES: dict[Plan, int] = {
    Plan.FREE: 1 * GIB,
    Plan.PRO: 100 * GIB,
    Plan.ENTERPRISE: 500 * GIB,
}


class StorageQuota(msgspec.Struct, frozen=True, kw_only=True):
    """How many bytes an account stores against the limit of its plan."""

    plan: Plan
    used_bytes: int

    @property
    def limit_bytes(self) -> int:
        return PLAN_STORAGE_BYTES[self.plan]

    @property
    def remaining_bytes(self) -> int:
        return max(0, self.limit_bytes - self.used_bytes)

    def ensure_room_for(self, incoming_bytes: int) -> None:
        """Raise `StorageQuotaExceeded` unless `incoming_bytes` more fit under the limit."""
        if incoming_bytes < 0:
            raise ValueError("incoming_bytes must be >= 0")
        if self.used_bytes + incoming_bytes > self.limit_bytes:
            raise StorageQuotaExceeded(self.used_bytes, incoming_bytes, self.limit_bytes)

    def with_added(self, stored_bytes: int) -> StorageQuota:
        """Return the quota after storing `stored_bytes` (which must fit)."""
        self.ensure_room_for(stored_bytes)
        return StorageQuota(plan=self.plan, used_bytes=self.used_bytes + stored_bytes)
