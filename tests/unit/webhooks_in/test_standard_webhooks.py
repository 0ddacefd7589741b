"""Standard Webhooks verification, from Replicate's published test vector (providers.md 4.4)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from adapters.clock import FakeClock
from adapters.webhooks_in.standard_webhooks import StandardWebhookVerifier, decode_secret, sign
from application.errors import WebhookRejected

pytestmark = pytest.mark.unit

# replicate-python tests/test_webhooks.py, re-computed in providers.md section 4.4
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def at_vector(offset_s: float = 0) -> FakeClock:
    return FakeClock(datetime.fromtimestamp(TIMESTAMP, UTC) + timedelta(seconds=offset_s))


def headers(
    signature: str = SIGNATURE, msg_id: str = MSG_ID, ts: str = str(TIMESTAMP)
) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}


def test_replicates_published_test_vector_verifies() -> None:
    verifier = StandardWebhookVerifier([SECRET], at_vector())
    assert verifier.verify(headers(), BODY) == MSG_ID


def test_signing_the_test_vector_reproduces_the_published_signature() -> None:
    assert sign(decode_secret(SECRET), MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_header_names_are_matched_without_regard_to_case() -> None:
    mixed = {k.title(): v for k, v in headers().items()}
    assert StandardWebhookVerifier([SECRET], at_vector()).verify(mixed, BODY) == MSG_ID


def test_any_one_of_several_space_separated_signatures_may_match() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    listed = f"v1a,{base64.b64encode(b'y' * 64).decode()} {other} {SIGNATURE}"
    assert StandardWebhookVerifier([SECRET], at_vector()).verify(headers(listed), BODY) == MSG_ID


def test_a_rotated_secret_list_accepts_the_old_secret_too() -> None:
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    assert StandardWebhookVerifier([new, SECRET], at_vector()).verify(headers(), BODY) == MSG_ID


def test_a_changed_body_is_rejected_as_unauthorised_not_malformed() -> None:
    with pytest.raises(WebhookRejected) as caught:
        StandardWebhookVerifier([SECRET], at_vector()).verify(headers(), b'{"test": 2432232315}')
    assert not caught.value.malformed


def test_a_wrong_secret_is_rejected() -> None:
    wrong = "whsec_" + base64.b64encode(b"w" * 24).decode()
    with pytest.raises(WebhookRejected):
        StandardWebhookVerifier([wrong], at_vector()).verify(headers(), BODY)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_a_timestamp_more_than_five_minutes_away_is_rejected(offset: int) -> None:
    with pytest.raises(WebhookRejected) as caught:
        StandardWebhookVerifier([SECRET], at_vector(offset)).verify(headers(), BODY)
    assert not caught.value.malformed


@pytest.mark.parametrize("offset", [299, -299])
def test_a_timestamp_within_five_minutes_is_accepted(offset: int) -> None:
    assert StandardWebhookVerifier([SECRET], at_vector(offset)).verify(headers(), BODY) == MSG_ID


@pytest.mark.parametrize(
    "bad",
    [
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)},
        headers(ts="yesterday"),
        headers(ts="1614265330.5"),
        headers(signature="g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        headers(signature="v1,not*base64"),
        headers(msg_id="msg.with.dots"),
        headers(ts="9" * 40),
    ],
)
def test_malformed_headers_are_rejected_as_malformed(bad: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected) as caught:
        StandardWebhookVerifier([SECRET], at_vector()).verify(bad, BODY)
    assert caught.value.malformed


def test_with_no_secret_configured_nothing_verifies() -> None:
    with pytest.raises(WebhookRejected) as caught:
        StandardWebhookVerifier([], at_vector()).verify(headers(), BODY)
    assert not caught.value.malformed


def test_an_unpadded_secret_decodes_like_a_padded_one() -> None:
    key = b"k" * 31
    padded = base64.b64encode(key).decode()
    assert decode_secret("whsec_" + padded.rstrip("=")) == decode_secret("whsec_" + padded) == key
