"""Issue 11, the one SSRF guard: every IPv4-embedding IPv6 form unwrapped, ports, each checked
address tried, generic errors, decompressed bytes against the cap, Replicate output URLs capped."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest
import respx

from adapters.images import inspector
from adapters.image_providers.replicate import MAX_OUTPUT_URLS, parse_prediction
from adapters.net import address_guard
from adapters.net.address_guard import GENERIC_REFUSAL, AddressGuard, RefusedUrl, is_public_address
from domain.failures import JobFailure


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe",      # NAT64 of 127/8, 10/8, metadata
    "64:ff9b:1::5db8:d822",                                         # local-use NAT64: never public
    "::127.0.0.1", "::10.0.0.1", "::169.254.169.254",               # IPv4-compatible
    "::ffff:127.0.0.1", "::ffff:10.1.2.3",                          # IPv4-mapped
    "::ffff:0:127.0.0.1", "::ffff:0:a9fe:a9fe",                     # IPv4-translated
    "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1",           # 6to4 of private space
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",                         # Teredo, client 10.0.0.1
    "2001:0:a00:1::1",                                              # Teredo, server 10.0.0.1
    "fec0::1", "fed0::5",                                           # site-local
    "::1", "::", "fe80::1", "fc00::1", "127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1",
])
def test_non_public_addresses_and_their_ipv6_wrappings_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "64:ff9b::5db8:d822", "::ffff:93.184.216.34",
                                     "2002:5db8:d822::1", "2606:4700::1111"])
def test_public_addresses_pass_also_wrapped(address: str) -> None:
    assert is_public_address(address)


def resolving(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolve


@pytest.mark.parametrize("url", ["https://example.com:8443/x", "https://example.com:80/x",
                                 "http://example.com/x", "ftp://example.com/x"])
async def test_only_port_443_for_https_and_80_only_where_http_is_allowed(url: str) -> None:
    with pytest.raises(RefusedUrl):
        await AddressGuard(resolver=resolving("93.184.216.34")).resolve_checked(url)


async def test_http_on_port_80_passes_only_when_the_guard_allows_http() -> None:
    guard = AddressGuard(resolver=resolving("93.184.216.34"), allow_http=True)
    assert await guard.resolve_checked("http://example.com/x") == ["93.184.216.34"]
    with pytest.raises(RefusedUrl):
        await guard.resolve_checked("http://example.com:8080/x")


async def test_the_refusal_shown_to_a_client_is_generic() -> None:
    guard = AddressGuard(resolver=resolving("93.184.216.34", "10.20.30.40"))
    with pytest.raises(Exception) as raised:
        await guard.check("https://intranet.example.com/hook")
    assert str(raised.value) == f"url: {GENERIC_REFUSAL}"
    assert "10.20" not in str(raised.value) and "intranet" not in str(raised.value)


async def test_every_resolved_address_is_checked_and_each_is_tried_in_turn() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get("https://93.184.216.34/a.png").mock(side_effect=httpx.ConnectError("refused"))
        second = mock.get("https://93.184.216.35/a.png").respond(200, content=b"\x89PNG-bytes")
        async with httpx.AsyncClient() as client:
            fetcher = inspector.HttpxUrlFetcher(client, resolver=resolving("93.184.216.34", "93.184.216.35"))
            assert await fetcher("https://cdn.example.com/a.png") == b"\x89PNG-bytes"
        assert second.calls.last.request.headers["host"] == "cdn.example.com"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_decompressed_bytes_count_against_the_cap(encoding: str) -> None:
    bomb = b"\0" * 5_000_000
    body = gzip.compress(bomb) if encoding == "gzip" else zlib.compress(bomb)
    with respx.mock() as mock:
        mock.get("https://cdn.example.com/a.png").respond(
            200, content=body, headers={"content-encoding": encoding, "content-length": str(len(body))})
        async with httpx.AsyncClient() as client:
            fetcher = inspector.HttpxUrlFetcher(client, max_bytes=100_000, allow_hosts=["cdn.example.com"])
            with pytest.raises(JobFailure) as raised:
                await fetcher("https://cdn.example.com/a.png")
    assert "over the 100000-byte limit" in raised.value.message


async def test_a_small_gzip_answer_is_decompressed() -> None:
    with respx.mock() as mock:
        mock.get("https://cdn.example.com/a.png").respond(
            200, content=gzip.compress(b"pixels" * 10), headers={"content-encoding": "gzip"})
        async with httpx.AsyncClient() as client:
            fetcher = inspector.HttpxUrlFetcher(client, allow_hosts=["cdn.example.com"])
            assert await fetcher("https://cdn.example.com/a.png") == b"pixels" * 10


def test_the_inspector_uses_the_one_guard() -> None:
    assert inspector.is_public_address is address_guard.is_public_address
    assert "def is_public_address" not in open(inspector.__file__).read()


def test_replicate_output_url_count_is_capped() -> None:
    many = {"id": "p1", "status": "succeeded",
            "output": [f"https://replicate.delivery/{i}.png" for i in range(MAX_OUTPUT_URLS + 1)]}
    with pytest.raises(JobFailure) as raised:
        parse_prediction(many)
    assert str(MAX_OUTPUT_URLS) in raised.value.message
    ok = {**many, "output": many["output"][:MAX_OUTPUT_URLS]}
    assert len(parse_prediction(ok).images) == MAX_OUTPUT_URLS
