"""Examples of storage quotas per plan: free 1 GiB, pro 100 GiB, enterprise 500 GiB."""

from __future__ import annotations

import pytest

from domain.errors import StorageQuotaExceeded
from domain.quota import GIB, Plan, StorageQuota

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("plan", "gib"), [(Plan.FREE, 1), (Plan.PRO, 100),
                                           (Plan.ENTERPRISE, 500)])
def test_each_plan_has_its_storage_allowance(plan: Plan, gib: int) -> None:
    assert StorageQuota(plan=plan, used_bytes=0).limit_bytes == gib * 1024**3


@pytest.mark.parametrize("plan", list(Plan))
def test_storing_exactly_up_to_the_limit_is_allowed(plan: Plan) -> None:
    quota = StorageQuota(plan=plan, used_bytes=1000)

    quota.ensure_room_for(quota.limit_bytes - 1000)
    assert quota.with_added(quota.limit_bytes - 1000).remaining_bytes == 0


@pytest.mark.parametrize("plan", list(Plan))
def test_one_byte_over_the_limit_raises_storage_quota_exceeded(plan: Plan) -> None:
    quota = StorageQuota(plan=plan, used_bytes=1000)
    incoming = quota.limit_bytes - 1000 + 1

    with pytest.raises(StorageQuotaExceeded) as refused:
        quota.ensure_room_for(incoming)
    assert (refused.value.used, refused.value.incoming, refused.value.limit) == (
        1000, incoming, quota.limit_bytes)


def test_adding_bytes_returns_a_new_quota_and_leaves_the_old_one() -> None:
    quota = StorageQuota(plan=Plan.FREE, used_bytes=10)

    grown = quota.with_added(5)

    assert (quota.used_bytes, grown.used_bytes, grown.plan) == (10, 15, Plan.FREE)
    assert grown.remaining_bytes == GIB - 15


def test_adding_more_than_fits_raises_and_stores_nothing() -> None:
    with pytest.raises(StorageQuotaExceeded):
        StorageQuota(plan=Plan.FREE, used_bytes=GIB).with_added(1)


def test_a_negative_byte_count_is_refused() -> None:
    with pytest.raises(ValueError):
        StorageQuota(plan=Plan.FREE, used_bytes=0).ensure_room_for(-1)


def test_an_account_over_its_limit_after_a_downgrade_has_no_room_left() -> None:
    quota = StorageQuota(plan=Plan.FREE, used_bytes=2 * GIB)

    assert quota.remaining_bytes == 0
    with pytest.raises(StorageQuotaExceeded):
        quota.ensure_room_for(1)
