"""Provider webhook receivers: verify the signature, then reduce the body to a `ProviderDelivery`.

The body is parsed only after the signature verified, and only for the provider's job id and
whether it finished; the result itself is fetched by id when the job resumes (ADR 0024).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from adapters.webhooks_in.fal_jwks import FalJwksKeys
from adapters.webhooks_in.fal_signature import FalWebhookVerifier
from adapters.webhooks_in.standard_webhooks import StandardWebhookVerifier
from application.errors import WebhookRejected
from application.ports import Clock, ProviderDelivery, WebhookVerifier

#: Replicate's terminal statuses (aborted: a deadline passed before the prediction started).
REPLICATE_TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})


class _ReplicateBody(msgspec.Struct):
    id: str
    status: str


class _FalBody(msgspec.Struct):
    request_id: str
    status: str = "OK"


def _decode(body: bytes, type_: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.DecodeError as exc:
        raise WebhookRejected(f"webhook body is not the expected JSON: {exc}",
                              malformed=True) from exc


class ReplicateWebhookReceiver(WebhookVerifier):
    """Replicate: Standard Webhooks signature; the body is the prediction object."""

    provider = "replicate"

    def __init__(self, secrets: Iterable[str], clock: Clock, tolerance_s: int = 300) -> None:
        self._verifier = StandardWebhookVerifier(secrets, clock, tolerance_s)

    def verify(self, headers: Mapping[str, str], body: bytes) -> ProviderDelivery:
        delivery_id = self._verifier.verify(headers, body)
        prediction = _decode(body, _ReplicateBody)
        assert isinstance(prediction, _ReplicateBody)
        return ProviderDelivery(provider=self.provider, delivery_id=delivery_id,
                                provider_job_id=prediction.id,
                                finished=prediction.status in REPLICATE_TERMINAL)


class FalWebhookReceiver(WebhookVerifier):
    """fal: Ed25519 signature; the body is sent once the request finished (OK or ERROR)."""

    provider = "fal"

    def __init__(self, public_keys: Iterable[str], clock: Clock, tolerance_s: int = 300, *,
                 jwks: FalJwksKeys | None = None, user_id: str = "") -> None:
        """Static `public_keys`, or keys read from fal's JWKS through `jwks`; `user_id` pins
        our fal account (its deliveries only)."""
        self._jwks = jwks
        self._verifier = FalWebhookVerifier(
            public_keys, clock, tolerance_s, user_id=user_id,
            key_source=jwks.keys if jwks is not None else None)

    async def prepare(self, *, force: bool = False) -> bool:
        """Have current keys before `verify` (the JWKS cache); True when they changed."""
        return await self._jwks.refresh(force=force) if self._jwks is not None else False

    def verify(self, headers: Mapping[str, str], body: bytes) -> ProviderDelivery:
        request_id = self._verifier.verify(headers, body)
        payload = _decode(body, _FalBody)
        assert isinstance(payload, _FalBody)
        if payload.request_id != request_id:
            raise WebhookRejected("body request_id differs from the signed request id")
        return ProviderDelivery(provider=self.provider, delivery_id=request_id,
                                provider_job_id=request_id, finished=True)
