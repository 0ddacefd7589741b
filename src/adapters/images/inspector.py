"""Untrusted provider output: fetched with SSRF checks and a byte cap, decoded under a pixel cap."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import zlib
from collections.abc import Collection
from typing import Protocol

import httpx
import structlog
from PIL import Image, UnidentifiedImageError

from adapters.net.address_guard import (  # the one SSRF guard (ADR 0084)
    AddressGuard, RefusedUrl, Resolver, is_ip, is_public_address, pinned, system_resolver,
)
from application.ports import GeneratedImage, ImageInfo, ImageInspector
from domain.failures import ErrorClass, JobFailure

#: Pillow format name -> (content type, file extension); nothing else is accepted.
FORMATS = {
    "PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp"),
}



log = structlog.get_logger("imagegen.images.fetch")
__all__ = ["HttpxUrlFetcher", "PillowImageInspector", "Resolver", "is_ip", "is_public_address"]


def _invalid(message: str) -> JobFailure:
    return JobFailure(ErrorClass.INVALID_OUTPUT, message)


class UrlFetcher(Protocol):
    async def __call__(self, url: str) -> bytes:
        """Download `url`; raise JobFailure(invalid_output) when refused or when it fails."""
        ...


class PillowImageInspector(ImageInspector):
    """Turns a provider's bytes, data: URL or https URL into a verified `ImageInfo`.

    Only PNG, JPEG and WebP are accepted. The pixel count is checked from the header before
    any pixel is decoded (decompression bombs), then the image is verified (PNG: chunk CRCs)
    or decoded (JPEG, WebP).
    """

    def __init__(self, max_pixels: int = 40_000_000, max_bytes: int = 50 * 1024 * 1024,
                 fetcher: UrlFetcher | None = None) -> None:
        """Set the caps; `fetcher` downloads https URLs (URL results are refused without one)."""
        self._max_pixels = max_pixels
        self._max_bytes = max_bytes
        self._fetcher = fetcher

    async def inspect(self, image: GeneratedImage) -> ImageInfo:
        """Return the decoded image's type, size and bytes.

        Raises:
            JobFailure: invalid_output when the image is missing, refused, too large, not
                PNG/JPEG/WebP, or fails to decode.
        """
        data = await self._bytes_of(image)
        if len(data) > self._max_bytes:
            raise _invalid(f"image is {len(data)} bytes, over the {self._max_bytes}-byte limit")
        return await asyncio.to_thread(decode_image, data, self._max_pixels)

    def dimensions(self, data: bytes) -> tuple[str, int, int]:
        """The header's format and size: a few hundred bytes read, no pixel decoded (bombs)."""
        try:
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                return img.format or "", img.size[0], img.size[1]
        except Exception as exc:  # Pillow raises many types on a bad header
            raise _invalid("not a PNG, JPEG or WebP image") from exc

    async def _bytes_of(self, image: GeneratedImage) -> bytes:
        if image.data is not None:
            return image.data
        if not image.url:
            raise _invalid("the provider returned neither image bytes nor a URL")
        if image.url[:5].lower() == "data:":
            return decode_data_url(image.url, self._max_bytes)
        if self._fetcher is None:
            raise _invalid("the provider returned a URL and no URL fetcher is configured")
        return await self._fetcher(image.url)


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """Return the payload of a base64 `data:` URL.

    Raises:
        JobFailure: invalid_output if it is not base64, too large, or malformed.
    """
    header, comma, payload = url[5:].partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise _invalid("data: URL results must be base64-encoded")
    if len(payload) > (max_bytes // 3 + 2) * 4 + 1024:  # a little slack for line breaks
        raise _invalid(f"data: URL payload is over the {max_bytes}-byte limit")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("data: URL payload is not valid base64") from exc


def decode_image(data: bytes, max_pixels: int) -> ImageInfo:
    """Identify, size-check and verify `data` (CPU-bound; run it in a thread).

    A PNG is verified without decoding its pixels: Pillow checks every chunk's CRC through
    IEND, which catches truncation and corruption of the compressed stream. JPEG and WebP
    carry no such checksums, so they are fully decoded.

    Raises:
        JobFailure: invalid_output on anything but a sound PNG, JPEG or WebP within the cap.
    """
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
            fmt, (width, height) = img.format or "", img.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise _invalid(f"{width}x{height} image is outside the {max_pixels}-pixel limit")
            img.verify()  # PNG: every chunk's CRC, IDAT included, up to IEND
        if fmt != "PNG":  # JPEG and WebP have no checksums to verify: decode them (ADR 0062)
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:  # verify() spends the file
                img.load()
    except JobFailure:
        raise
    except UnidentifiedImageError as exc:
        raise _invalid("output is not a PNG, JPEG or WebP image") from exc
    except Image.DecompressionBombError as exc:
        raise _invalid(f"image is too large to decode safely: {exc}") from exc
    except Exception as exc:  # Pillow raises many types on corrupt input; all mean "bad output"
        raise _invalid(f"{fmt or 'image'} failed to decode ({type(exc).__name__}: {exc})") from exc
    content_type, extension = FORMATS[fmt]
    return ImageInfo(content_type=content_type, extension=extension, width=width, height=height,
                     data=data)


class HttpxUrlFetcher(UrlFetcher):
    """Fetches provider result URLs through the shared `AddressGuard` (ADR 0084): https on 443,
    every resolved address public, capped and timed.

    The request goes to a checked address with the original Host header and TLS server name
    (no second DNS lookup, so no rebinding between check and connect); each checked address is
    tried in turn when one does not connect. Redirects are followed by hand, each hop checked
    again. The body is read raw and decompressed here, so the byte cap counts decompressed
    bytes exactly (httpx's decoded chunks could overshoot it a thousandfold per chunk). Give it
    its own client: pooled connections are keyed by address.
    """

    def __init__(self, client: httpx.AsyncClient, *, max_bytes: int = 50 * 1024 * 1024,
                 timeout: float = 30.0, allow_hosts: Collection[str] = (),
                 resolver: Resolver | None = None, max_redirects: int = 3) -> None:
        """Configure limits.

        Args:
            client: the HTTP client to send requests with.
            max_bytes: the largest body accepted (after content decoding).
            timeout: seconds for the whole fetch, resolution and redirects included.
            allow_hosts: host names exempt from the address check and pinning (tests, dev).
            resolver: async (host, port) -> addresses; the loop's getaddrinfo by default.
            max_redirects: redirect hops followed before giving up.
        """
        self._client = client
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._guard = AddressGuard(allow_hosts=allow_hosts, resolver=resolver or system_resolver)
        self._max_redirects = max_redirects

    async def __call__(self, url: str) -> bytes:
        """Download `url`.

        Raises:
            JobFailure: invalid_output when the URL is refused (scheme, address, redirects),
                the response is not 200 or too large, or the fetch fails or times out.
        """
        try:
            async with asyncio.timeout(self._timeout):
                return await self._fetch(httpx.URL(url))
        except TimeoutError as exc:
            raise _invalid(f"fetching the image timed out after {self._timeout} s") from exc
        except RefusedUrl as exc:
            log.info("fetch.refused", reason=exc.detail)
            raise _invalid(f"refused to fetch the image: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError, zlib.error) as exc:
            raise _invalid(f"could not fetch the image ({type(exc).__name__})") from exc

    async def _fetch(self, url: httpx.URL) -> bytes:
        for _ in range(self._max_redirects + 1):
            if url.scheme != "https":
                raise _invalid(f"refused to fetch a {url.scheme or 'relative'} URL; only https is allowed")
            addresses = await self._guard.resolve_checked(url)
            for position, address in enumerate(addresses or [""]):
                target, headers, extensions = pinned(url, address)
                headers = {**headers, "accept-encoding": "gzip, deflate, identity"}
                try:
                    async with self._client.stream("GET", target, headers=headers, extensions=extensions,
                                                   follow_redirects=False) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = url.join(response.headers["location"])
                            break
                        if response.status_code != 200:
                            raise _invalid(f"image URL answered HTTP {response.status_code}")
                        return await self._read_capped(response)
                except httpx.ConnectError:
                    if position == len(addresses) - 1 or not addresses:
                        raise  # every checked address refused the connection
            else:
                raise _invalid("image URL could not be fetched")
        raise _invalid(f"image URL redirected more than {self._max_redirects} times")

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity") and declared.isdigit() and int(declared) > self._max_bytes:
            raise _invalid(f"image is {declared} bytes, over the {self._max_bytes}-byte limit")
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise _invalid(f"image URL answered with unsupported content-encoding {encoding}")
        inflater = None if encoding in ("", "identity") else zlib.decompressobj(
            16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
        chunks: list[bytes] = []
        total = 0
        async for raw in response.aiter_raw():
            pending = raw
            while pending:
                if inflater is None:
                    chunk, pending = pending, b""
                else:  # never inflate more than one byte past the cap
                    chunk = inflater.decompress(pending, self._max_bytes - total + 1)
                    pending = inflater.unconsumed_tail
                total += len(chunk)
                if total > self._max_bytes:
                    raise _invalid(f"image is over the {self._max_bytes}-byte limit")
                chunks.append(chunk)
                if inflater is not None and not chunk:
                    break
        return b"".join(chunks)
