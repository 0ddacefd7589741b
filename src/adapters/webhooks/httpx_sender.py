"""Sends webhook deliveries with httpx, re-checking the endpoint's address on every attempt.

The host is resolved and checked each time (an endpoint whose DNS now points inside the
network is refused at delivery, not only at registration), and the request goes to the
checked address with the original Host header and TLS server name. Redirects are not
followed: a 3xx is a failed attempt (Standard Webhooks).
"""

from __future__ import annotations

import httpx

from adapters.net.address_guard import AddressGuard, RefusedUrl
from application.ports import WebhookResponse, WebhookSender

TIMEOUT_S = 15.0


class HttpxWebhookSender(WebhookSender):
    def __init__(self, client: httpx.AsyncClient, guard: AddressGuard, *,
                 timeout_s: float = TIMEOUT_S) -> None:
        self._client = client
        self._guard = guard
        self._timeout = timeout_s

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        try:
            addresses = await self._guard.resolve_checked(url)
        except RefusedUrl as exc:
            return WebhookResponse(status_code=None, error=f"refused: {exc}")
        target = httpx.URL(url)
        extensions: dict[str, str] = {}
        if addresses and target.host != addresses[0]:
            headers = {**headers, "host": target.netloc.decode("ascii")}
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host
            target = target.copy_with(host=addresses[0])
        try:
            response = await self._client.post(target, content=body, headers=headers,
                                               extensions=extensions, follow_redirects=False,
                                               timeout=self._timeout)
        except httpx.TimeoutException:
            return WebhookResponse(status_code=None, error=f"timed out after {self._timeout} s")
        except httpx.HTTPError as exc:
            return WebhookResponse(status_code=None, error=f"{type(exc).__name__}: {exc}"[:300])
        return WebhookResponse(status_code=response.status_code)
