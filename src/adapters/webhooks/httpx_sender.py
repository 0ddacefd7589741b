"""Sends webhook deliveries with httpx, re-checking the endpoint's address on every attempt.

The host is resolved and checked each time through the shared `AddressGuard` (an endpoint
whose DNS now points inside the network is refused at delivery, not only at registration),
and the request goes to a checked address (each in turn when one does not connect) with the
original Host header and TLS server name. Redirects are not followed: a 3xx is a failed
attempt (Standard Webhooks).

Bounded (ADR 0085): one deadline covers the whole attempt (connect, send, every read: a
slow-drip endpoint cannot stretch it read by read), and at most `max_response_bytes` of the
answer are read (a 1.5 GB answer once took the API from 140 MB to 3.27 GB).
"""

from __future__ import annotations

import asyncio

import httpx
import structlog

from adapters.net.address_guard import AddressGuard, RefusedUrl, pinned
from application.ports import WebhookResponse, WebhookSender

TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 64 * 1024
log = structlog.get_logger("imagegen.webhooks.sender")


class HttpxWebhookSender(WebhookSender):
    def __init__(self, client: httpx.AsyncClient, guard: AddressGuard, *,
                 timeout_s: float = TIMEOUT_S, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._client = client
        self._guard = guard
        self._timeout = timeout_s
        self._max_response = max_response_bytes

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send(url, headers, body)
        except TimeoutError:
            return WebhookResponse(status_code=None, error=f"timed out after {self._timeout} s")

    async def _send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        try:
            addresses = await self._guard.resolve_checked(url)
        except RefusedUrl as exc:
            log.info("webhook.refused", reason=exc.detail)
            return WebhookResponse(status_code=None, error=f"refused: {exc}")
        target = httpx.URL(url)
        candidates = addresses or [""]
        for position, address in enumerate(candidates):
            request_url, host_header, extensions = pinned(target, address)
            try:
                async with self._client.stream("POST", request_url, content=body,
                                               headers={**headers, **host_header}, extensions=extensions,
                                               follow_redirects=False, timeout=self._timeout) as response:
                    read = 0
                    async for chunk in response.aiter_raw():  # drained up to the cap, then dropped
                        read += len(chunk)
                        if read >= self._max_response:
                            break
                    return WebhookResponse(status_code=response.status_code)
            except httpx.ConnectError as exc:
                if position == len(candidates) - 1:
                    return WebhookResponse(status_code=None, error=f"ConnectError: {exc}"[:300])
            except httpx.TimeoutException:
                return WebhookResponse(status_code=None, error=f"timed out after {self._timeout} s")
            except httpx.HTTPError as exc:
                return WebhookResponse(status_code=None, error=f"{type(exc).__name__}: {exc}"[:300])
        return WebhookResponse(status_code=None, error="no address could be reached")
