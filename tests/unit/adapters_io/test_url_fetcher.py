"""The URL fetcher: https only, public addresses only, pinned, capped; no real network used."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from PIL import Image

from adapters.images.inspector import (
    HttpxUrlFetcher, PillowImageInspector, Resolver, is_public_address,
)
from adapters.net.address_guard import GENERIC_REFUSAL
from application.ports import GeneratedImage
from domain.failures import ErrorClass, JobFailure

pytestmark = pytest.mark.unit

ALLOWED = "images.example.com"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 120, 255)).save(buf, "PNG")
    return buf.getvalue()


def resolves_to(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """Every test runs under respx, so a request that slipped past a check fails loudly."""
    with respx.mock(assert_all_called=False) as router:
        yield router


async def refused(fetcher: HttpxUrlFetcher, url: str) -> str:
    with pytest.raises(JobFailure) as caught:
        await fetcher(url)
    assert caught.value.error_class is ErrorClass.INVALID_OUTPUT
    return caught.value.message


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/a.png", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/a.png",
    "https://[::1]/a.png", "https://[::ffff:127.0.0.1]/a.png", "https://0.0.0.0/a.png"])
async def test_refuses_non_public_ip_literals_before_connecting(
        client: httpx.AsyncClient, mock: respx.MockRouter, url: str) -> None:
    assert GENERIC_REFUSAL in await refused(HttpxUrlFetcher(client), url)
    assert not mock.calls


async def test_refuses_plain_http(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    message = await refused(HttpxUrlFetcher(client, allow_hosts=[ALLOWED]), f"http://{ALLOWED}/a.png")
    assert "only https" in message
    assert not mock.calls


async def test_refuses_hosts_that_resolve_to_private_addresses(
        client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    fetcher = HttpxUrlFetcher(client, resolver=resolves_to("93.184.216.34", "192.168.1.5"))
    message = await refused(fetcher, "https://rebind.example.com/a.png")
    assert GENERIC_REFUSAL in message and "192.168" not in message  # no hint of internal DNS
    assert not mock.calls


async def test_pins_the_checked_address_and_keeps_host_and_sni(
        client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    route = mock.get("https://93.184.216.34/out/a.png").respond(200, content=png())
    fetcher = HttpxUrlFetcher(client, resolver=resolves_to("93.184.216.34"))
    assert await fetcher("https://cdn.example.com/out/a.png") == png()
    sent = route.calls.last.request
    assert sent.headers["host"] == "cdn.example.com"
    assert sent.extensions["sni_hostname"] == "cdn.example.com"


async def test_allowed_host_fetch_feeds_the_inspector(
        client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"https://{ALLOWED}/a.png").respond(200, content=png())
    inspector = PillowImageInspector(fetcher=HttpxUrlFetcher(client, allow_hosts=[ALLOWED]))
    info = await inspector.inspect(GeneratedImage(url=f"https://{ALLOWED}/a.png"))
    assert (info.content_type, info.width, info.height) == ("image/png", 16, 16)


async def test_caps_bytes_by_content_length(
        client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"https://{ALLOWED}/big.png").respond(200, content=b"x" * 2000)
    fetcher = HttpxUrlFetcher(client, max_bytes=1000, allow_hosts=[ALLOWED])
    assert "2000 bytes" in await refused(fetcher, f"https://{ALLOWED}/big.png")


async def test_caps_bytes_while_streaming(
        client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    mock.get(f"https://{ALLOWED}/stream.png").mock(return_value=httpx.Response(200, content=body()))
    fetcher = HttpxUrlFetcher(client, max_bytes=1000, allow_hosts=[ALLOWED])
    message = await refused(fetcher, f"https://{ALLOWED}/stream.png")
    assert "image is over the 1000-byte limit" in message


async def test_checks_every_redirect_hop(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"https://{ALLOWED}/a.png").respond(
        302, headers={"location": "https://169.254.169.254/latest/meta-data"})
    fetcher = HttpxUrlFetcher(client, allow_hosts=[ALLOWED])
    assert GENERIC_REFUSAL in await refused(fetcher, f"https://{ALLOWED}/a.png")
    assert len(mock.calls) == 1


async def test_refuses_error_statuses(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"https://{ALLOWED}/gone.png").respond(404)
    assert "HTTP 404" in await refused(HttpxUrlFetcher(client, allow_hosts=[ALLOWED]),
                                       f"https://{ALLOWED}/gone.png")


async def test_times_out_as_a_whole(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return ["93.184.216.34"]

    fetcher = HttpxUrlFetcher(client, timeout=0.05, resolver=slow)
    assert "timed out" in await refused(fetcher, "https://slow.example.com/a.png")


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700::1111", True), ("100.64.0.1", False),
    ("224.0.0.1", False), ("fe80::1%eth0", False), ("240.0.0.1", False)])
def test_public_address_check(address: str, public: bool) -> None:
    assert is_public_address(address) is public
