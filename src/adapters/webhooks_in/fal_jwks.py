"""fal's webhook verification keys, read from its JWKS and cached (24 h by default).

fal rotates the Ed25519 keys it signs callbacks with and publishes them at
`https://rest.alpha.fal.ai/.well-known/jwks.json` (`{"keys": [{"kty": "OKP", "crv": "Ed25519",
"x": <base64url>}]}`). Static keys in settings override the JWKS entirely (tests, air-gapped
deployments). A signature no cached key verifies forces one early re-read (a rotation), at
most once a minute, so forged deliveries cannot make us hammer fal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.webhooks_in.fal_signature import public_key_from_jwk_x
from application.ports import Clock

log = structlog.get_logger("imagegen.webhooks")

DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
FORCED_REFRESH_GAP_S = 60.0


class FalJwksKeys:
    """The current key set: static keys, or the JWKS as last fetched."""

    def __init__(self, *, client: httpx.AsyncClient | None, clock: Clock,
                 url: str = DEFAULT_JWKS_URL, cache_s: float = 86_400,
                 static: Iterable[str] = ()) -> None:
        self._static = [public_key_from_jwk_x(x) for x in static]
        self._client, self._clock, self._url, self._cache_s = client, clock, url, cache_s
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at: datetime | None = None
        self._forced_at: datetime | None = None
        self._lock = asyncio.Lock()

    def keys(self) -> list[Ed25519PublicKey]:
        return self._static or self._keys

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS when the cache is stale (or, once a minute, when forced).

        Returns:
            True when the key set changed.

        Raises:
            nothing: a failed fetch keeps the keys we had, and is logged.
        """
        if self._static or self._client is None:
            return False
        async with self._lock:
            now = self._clock.now()
            fresh = (self._fetched_at is not None
                     and (now - self._fetched_at).total_seconds() < self._cache_s)
            if fresh and not force:
                return False
            if force and self._forced_at is not None and (
                    now - self._forced_at).total_seconds() < FORCED_REFRESH_GAP_S:
                return False
            if force:
                self._forced_at = now
            try:
                response = await self._client.get(self._url)
                response.raise_for_status()
                keys = [public_key_from_jwk_x(k["x"]) for k in response.json().get("keys", [])
                        if isinstance(k, dict) and k.get("crv") == "Ed25519" and k.get("x")]
            except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
                log.warning("fal.jwks_fetch_failed", url=self._url, error=type(exc).__name__)
                return False
            before = {k.public_bytes_raw() for k in self._keys}
            self._keys, self._fetched_at = keys, now
            log.info("fal.jwks_fetched", keys=len(keys))
            return {k.public_bytes_raw() for k in keys} != before
