"""The one SSRF guard for every outgoing call to a URL we did not choose: provider results,
client webhooks (ADR 0084).

A URL passes when it is https on port 443 (plain http on port 80 only when the guard allows
http), has no credentials, and every address its host resolves to is public once unwrapped:
IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible
(`::a.b.c.d`), NAT64 (`64:ff9b::/96`; the local-use `64:ff9b:1::/48` is never public), 6to4
(`2002::/16`) and Teredo (`2001::/32`, server and client) embed an IPv4 address that must be
public too; site-local `fec0::/10` is refused. `resolve_checked` returns every checked
address so callers connect to one of them (each in turn) instead of resolving again: no DNS
rebinding between check and connect. Hosts in `allow_hosts` are exempt (tests, development).

`RefusedUrl.detail` says why (for logs); its message is generic, so an error shown to a client
never tells how internal names resolve.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection

import httpx
import structlog

from application.ports import UrlGuard
from domain.errors import InvalidRequest

Resolver = Callable[[str, int], Awaitable[list[str]]]
log = structlog.get_logger("imagegen.net.guard")

GENERIC_REFUSAL = "the URL is not allowed: it must be https on port 443 to a public host"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
_COMPATIBLE = ipaddress.ip_network("::/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, translated, compatible, NAT64,
    6to4, Teredo server and client); [] for a plain IPv6 address."""
    packed = int(ip)
    low32 = ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _TRANSLATED or ip in _NAT64:
        return [low32]
    if ip in _COMPATIBLE and packed > 1:
        return [low32]
    if ip in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address((packed >> 80) & 0xFFFFFFFF)]
    if ip in _TEREDO:
        server, client = ip.teredo  # type: ignore[misc]
        return [server, client]
    return []


def is_public_address(address: str) -> bool:
    """Tell whether `address`, and every IPv4 address embedded in it, is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip in _SITE_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner:
            return all(v4.is_global and not v4.is_multicast for v4 in inner)
    return ip.is_global and not ip.is_multicast


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the event loop's getaddrinfo; return every address, once each."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class RefusedUrl(ValueError):
    """The URL must not be called. `str()` is generic (safe to show); `detail` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(GENERIC_REFUSAL)
        self.detail = detail


class AddressGuard(UrlGuard):
    """Checks URLs against the rules above; `allow_hosts` are exempt (tests, local development)."""

    def __init__(self, *, allow_hosts: Collection[str] = (), resolver: Resolver | None = None,
                 allow_http: bool = False) -> None:
        self._allow = frozenset(h.lower() for h in allow_hosts)
        self._resolve = resolver or system_resolver
        self._allow_http = allow_http

    def allowed(self, host: str) -> bool:
        return host.lower() in self._allow

    async def resolve_checked(self, url: str | httpx.URL) -> list[str]:
        """Every address of the URL's host, all checked public ([] for an allow-listed host).

        Raises:
            RefusedUrl: on a bad scheme or port, credentials, no host, or a non-public address.
        """
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise RefusedUrl("not a valid URL") from exc
        host = (parsed.host or "").lower()
        if not host or parsed.userinfo:
            raise RefusedUrl("needs a host and no credentials")
        if self.allowed(host):
            if parsed.scheme not in ("http", "https"):
                raise RefusedUrl("only http and https URLs")
            return []
        if parsed.scheme == "https":
            port = 443
        elif parsed.scheme == "http" and self._allow_http:
            port = 80
        else:
            raise RefusedUrl(f"scheme {parsed.scheme or 'none'} is not allowed")
        if (parsed.port or port) != port:
            raise RefusedUrl(f"port {parsed.port} is not allowed for {parsed.scheme}")
        try:
            addresses = [host] if is_ip(host) else await self._resolve(host, port)
        except OSError as exc:
            raise RefusedUrl(f"host {host} does not resolve") from exc
        if not addresses:
            raise RefusedUrl(f"host {host} does not resolve")
        for address in addresses:
            if not is_public_address(address):
                raise RefusedUrl(f"host {host} resolves to non-public address {address}")
        return addresses

    async def check(self, url: str) -> None:
        """Raise InvalidRequest("url", <generic reason>) for a URL that must not be called."""
        try:
            await self.resolve_checked(url)
        except RefusedUrl as exc:
            log.info("guard.refused", reason=exc.detail)
            raise InvalidRequest("url", str(exc)) from exc


def pinned(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The request target for `url` sent to the checked `address`: the URL with the address as
    host, the original Host header and (for https) the TLS server name."""
    if not address or url.host == address:
        return url, {}, {}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=address), {"host": url.netloc.decode("ascii")}, extensions
