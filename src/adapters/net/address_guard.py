"""SSRF guard shared by every outgoing call to a URL we did not choose (results, webhooks).

A URL passes when it is https (plain http only for allow-listed hosts), has no credentials,
and every address its host resolves to is public (not private, loopback, link-local, reserved
or multicast). `resolve_checked` returns the addresses so the caller can connect to a checked
one instead of resolving again (no DNS rebinding between check and connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection

import httpx

from application.ports import UrlGuard
from domain.errors import InvalidRequest

Resolver = Callable[[str, int], Awaitable[list[str]]]


def is_public_address(address: str) -> bool:
    """Tell whether `address` is public (not private, loopback, link-local, reserved, multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the event loop's getaddrinfo; return every address."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class RefusedUrl(ValueError):
    """The URL must not be called; the message says why."""


class AddressGuard(UrlGuard):
    """Checks URLs against the rules above; `allow_hosts` are exempt (tests, local development)."""

    def __init__(self, *, allow_hosts: Collection[str] = (), resolver: Resolver | None = None) -> None:
        self._allow = frozenset(h.lower() for h in allow_hosts)
        self._resolve = resolver or system_resolver

    def allowed(self, host: str) -> bool:
        return host.lower() in self._allow

    async def resolve_checked(self, url: str) -> list[str]:
        """The public addresses of the URL's host ([] for an allow-listed host).

        Raises:
            RefusedUrl: on a bad scheme, credentials, no host, or a non-public address.
        """
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise RefusedUrl("not a valid URL") from exc
        host = (parsed.host or "").lower()
        if not host or parsed.userinfo:
            raise RefusedUrl("needs a host and no credentials")
        if self.allowed(host):
            if parsed.scheme not in ("http", "https"):
                raise RefusedUrl("only http and https URLs")
            return []
        if parsed.scheme != "https":
            raise RefusedUrl("only https URLs are allowed")
        try:
            addresses = [host] if is_ip(host) else await self._resolve(host, parsed.port or 443)
        except OSError as exc:
            raise RefusedUrl(f"host {host} does not resolve") from exc
        if not addresses:
            raise RefusedUrl(f"host {host} does not resolve")
        for address in addresses:
            if not is_public_address(address):
                raise RefusedUrl(f"host {host} resolves to non-public address {address}")
        return addresses

    async def check(self, url: str) -> None:
        """Raise InvalidRequest("url", ...) for a URL that must not be called."""
        try:
            await self.resolve_checked(url)
        except RefusedUrl as exc:
            raise InvalidRequest("url", str(exc)) from exc
