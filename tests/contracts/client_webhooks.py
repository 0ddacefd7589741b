"""The `WebhookStore` contract: endpoints per user, claiming due deliveries once, attempts."""

from __future__ import annotations

import pytest

from application.ports import WebhookStore
from domain.webhooks import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint, after_attempt
from tests.contracts import at


def endpoint(endpoint_id: str, user_id: str = "user_1", created: float = 0) -> WebhookEndpoint:
    return WebhookEndpoint(id=endpoint_id, user_id=user_id, url="https://example.com/hook",
                           event_types=("job.completed", "job.failed"), secret="whsec_c2VjcmV0",
                           created_at=at(created), description="mine")


def delivery(delivery_id: str, endpoint_id: str = "whep_1", user_id: str = "user_1",
             due: float = 0, created: float = 0) -> WebhookDelivery:
    return WebhookDelivery(id=delivery_id, endpoint_id=endpoint_id, user_id=user_id,
                           event_type="job.completed", payload='{"type":"job.completed"}',
                           created_at=at(created), next_attempt_at=at(due))


class WebhookStoreContract:
    @pytest.fixture
    def store(self) -> WebhookStore:
        raise NotImplementedError("a backend subclass provides the store fixture")

    async def test_endpoints_come_back_per_user_oldest_first_with_every_field(self, store: WebhookStore) -> None:
        await store.add_endpoint(endpoint("whep_2", created=5))
        await store.add_endpoint(endpoint("whep_1", created=1))
        await store.add_endpoint(endpoint("whep_3", user_id="user_2"))
        assert [e.id for e in await store.endpoints_of("user_1")] == ["whep_1", "whep_2"]
        assert await store.get_endpoint("whep_1") == endpoint("whep_1", created=1)
        assert await store.get_endpoint("whep_nope") is None

    async def test_only_the_owner_deletes_an_endpoint_and_its_pending_deliveries_go_too(
            self, store: WebhookStore) -> None:
        await store.add_endpoint(endpoint("whep_1"))
        await store.add_deliveries([delivery("msg_1")])
        assert await store.delete_endpoint("user_2", "whep_1") is False
        assert await store.delete_endpoint("user_1", "whep_1") is True
        assert await store.endpoints_of("user_1") == []
        assert await store.get_delivery("msg_1") is None
        assert await store.delete_endpoint("user_1", "whep_1") is False

    async def test_a_due_delivery_is_claimed_once_until_its_lease_lapses(self, store: WebhookStore) -> None:
        await store.add_deliveries([delivery("msg_late", due=100), delivery("msg_b", due=2),
                                    delivery("msg_a", due=1)])
        first = await store.claim_due(at(10), at(130), limit=10)
        again = await store.claim_due(at(10), at(130), limit=10)
        assert [d.id for d in first] == ["msg_a", "msg_b"]
        assert again == []
        after_lease = await store.claim_due(at(131), at(250), limit=1)
        assert [d.id for d in after_lease] == ["msg_late"]

    async def test_an_attempt_stores_the_new_state_and_the_attempts_are_listed_in_order(
            self, store: WebhookStore) -> None:
        original = delivery("msg_1")
        await store.add_deliveries([original])
        failed = after_attempt(original, now=at(1), status_code=500, error=None)
        await store.record_attempt(failed, DeliveryAttempt(
            delivery_id="msg_1", number=1, attempted_at=at(1), status_code=500, error=None,
            duration_ms=12, succeeded=False))
        done = after_attempt(failed, now=at(6), status_code=204, error=None)
        await store.record_attempt(done, DeliveryAttempt(
            delivery_id="msg_1", number=2, attempted_at=at(6), status_code=204, error=None,
            duration_ms=3, succeeded=True))
        assert await store.get_delivery("msg_1") == done
        assert done.status is DeliveryStatus.SUCCEEDED and done.attempts == 2
        assert [(a.number, a.status_code, a.succeeded) for a in await store.attempts_of("msg_1")] == [
            (1, 500, False), (2, 204, True)]
        assert await store.claim_due(at(10**6), at(10**6 + 1), limit=10) == []

    async def test_deliveries_are_listed_per_user_newest_first_and_by_status(self, store: WebhookStore) -> None:
        await store.add_deliveries([delivery("msg_1", created=1), delivery("msg_2", created=2),
                                    delivery("msg_3", user_id="user_2")])
        done = after_attempt(delivery("msg_1", created=1), now=at(3), status_code=200, error=None)
        await store.record_attempt(done, DeliveryAttempt(
            delivery_id="msg_1", number=1, attempted_at=at(3), status_code=200, error=None,
            duration_ms=1, succeeded=True))
        assert [d.id for d in await store.deliveries_of("user_1", limit=10)] == ["msg_2", "msg_1"]
        assert [d.id for d in await store.deliveries_of("user_1", limit=1)] == ["msg_2"]
        assert [d.id for d in await store.deliveries_of("user_1", limit=10, status="succeeded")] == ["msg_1"]
