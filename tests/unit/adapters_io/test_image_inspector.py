"""The image inspector: only sound PNG, JPEG or WebP within the caps gets through."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from adapters.images.inspector import PillowImageInspector
from application.ports import GeneratedImage
from domain.failures import ErrorClass, JobFailure

pytestmark = pytest.mark.unit


def encoded(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 30, 90) if mode == "RGB" else 1).save(buf, fmt)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """Build a PNG whose IHDR claims width x height, with almost no pixel data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


async def refused(inspector: PillowImageInspector, image: GeneratedImage) -> str:
    with pytest.raises(JobFailure) as caught:
        await inspector.inspect(image)
    assert caught.value.error_class is ErrorClass.INVALID_OUTPUT
    return caught.value.message


@pytest.mark.parametrize(("fmt", "content_type", "extension"), [
    ("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")])
async def test_accepts_png_jpeg_and_webp(fmt: str, content_type: str, extension: str) -> None:
    data = encoded(fmt)
    info = await PillowImageInspector().inspect(GeneratedImage(data=data))
    assert (info.content_type, info.extension) == (content_type, extension)
    assert (info.width, info.height, info.data) == (40, 30, data)


async def test_refuses_a_decompression_bomb_from_its_header() -> None:
    bomb = GeneratedImage(data=png_header_only(100_000, 100_000))
    message = await refused(PillowImageInspector(), bomb)
    assert "too large" in message or "pixel" in message


async def test_checks_the_pixel_cap_before_decoding() -> None:
    # 7000 x 7000 = 49 MP: under Pillow's own bomb limit, over ours; decoding it would fail anyway
    header_only = GeneratedImage(data=png_header_only(7000, 7000))
    message = await refused(PillowImageInspector(), header_only)
    assert "7000x7000" in message and "40000000-pixel" in message
    small = GeneratedImage(data=encoded("PNG"))
    message = await refused(PillowImageInspector(max_pixels=100), small)
    assert "40x30" in message


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, not an image", encoded("GIF"), encoded("BMP"), encoded("PNG")[:-40]],
    ids=["empty", "text", "gif", "bmp", "truncated"])
async def test_refuses_anything_else(data: bytes) -> None:
    await refused(PillowImageInspector(), GeneratedImage(data=data))


async def test_refuses_a_png_with_a_corrupt_checksum() -> None:
    data = bytearray(encoded("PNG"))
    data[29] ^= 0xFF  # inside IHDR's CRC
    await refused(PillowImageInspector(), GeneratedImage(data=bytes(data)))


async def test_refuses_images_over_the_byte_cap() -> None:
    message = await refused(PillowImageInspector(max_bytes=10), GeneratedImage(data=encoded("PNG")))
    assert "byte limit" in message


async def test_decodes_a_base64_data_url() -> None:
    data = encoded("WEBP")
    url = "data:image/webp;base64," + base64.b64encode(data).decode()
    info = await PillowImageInspector().inspect(GeneratedImage(url=url))
    assert (info.content_type, info.data) == ("image/webp", data)


@pytest.mark.parametrize("url", ["data:image/png,rawbytes", "data:image/png;base64,@@@@",
                                 "data:image/png;base64"])
async def test_refuses_malformed_data_urls(url: str) -> None:
    await refused(PillowImageInspector(), GeneratedImage(url=url))


async def test_refuses_urls_without_a_fetcher_and_empty_results() -> None:
    await refused(PillowImageInspector(), GeneratedImage(url="https://cdn.example.com/a.png"))
    await refused(PillowImageInspector(), GeneratedImage())


async def test_refuses_a_png_whose_pixel_data_is_corrupt_without_decoding_it() -> None:
    """PNG is verified by chunk CRCs (ADR 0062): a flipped byte inside IDAT is caught."""
    data = bytearray(encoded("PNG"))
    data[data.index(b"IDAT") + 6] ^= 0xFF  # inside the compressed pixel data
    message = await refused(PillowImageInspector(), GeneratedImage(data=bytes(data)))
    assert "PNG" in message
