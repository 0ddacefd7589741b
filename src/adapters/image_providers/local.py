"""The `local` provider: deterministic Pillow-rendered PNGs for development and load tests."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import random
import secrets
import textwrap
from collections.abc import Mapping

import msgspec
from PIL import Image, ImageDraw, ImageFont

from adapters.clock import SystemClock
from application.ports import (
    Clock, GeneratedImage, ImageProvider, ProviderRequest, ProviderResult,
)
from domain.failures import ErrorClass, JobFailure
from domain.pricing import ModelSpec

# Below this many pixels in one call, rendering inline is cheaper than a thread hop.
_INLINE_PIXELS = 256 * 256


class LocalImageProvider(ImageProvider):
    """Renders a gradient, a few shapes, the prompt and the seed; free, offline, reproducible.

    The pixels depend only on (model, prompt, seed, width, height, image index, inputs), so
    the same request gives byte-identical PNGs. A request without a seed gets one drawn (the
    submit use case draws and records it on the job first; a direct call draws here), and the
    caption shows it. For a model whose catalog mapping asks for `partial_images`, a request
    with a preview sink first receives that many pixelated previews of the first image, like
    OpenAI's streamed partials (ADR 0072). Latency and failures can be simulated: latency
    through the injected clock, random failures from a seeded RNG, and a forced error class
    through `fail_with`.
    """

    def __init__(
        self,
        name: str = "local",
        *,
        latency_s: float = 0.0,
        failure_rate: float = 0.0,
        clock: Clock | None = None,
        rng_seed: int | None = None,
        fail_with: ErrorClass | None = None,
        max_pixels: int = 4096 * 4096,
        models: Mapping[str, ModelSpec] | None = None,
    ) -> None:
        """Configure the simulation.

        Args:
            name: the provider name jobs route to.
            latency_s: simulated time per call, waited on `clock`.
            failure_rate: chance in [0, 1] that a call raises provider_unavailable.
            clock: the clock to sleep on; the system clock when None.
            rng_seed: seed for the failure draws, for reproducible failure sequences.
            fail_with: when set, every call fails with this class (after the latency).
            max_pixels: largest width * height accepted per image.
            models: the catalog, for each model's `partial_images` (no previews without it).

        Raises:
            ValueError: on a negative latency or a failure rate outside [0, 1].
        """
        if latency_s < 0 or not 0.0 <= failure_rate <= 1.0:
            raise ValueError("latency_s must be >= 0 and failure_rate within [0, 1]")
        self.name = name
        self._latency_s = latency_s
        self._failure_rate = failure_rate
        self._clock = clock or SystemClock()
        self._rng = random.Random(rng_seed)
        self._fail_with = fail_with
        self._max_pixels = max_pixels
        self._models = dict(models or {})

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Render `request.n` PNGs.

        Raises:
            JobFailure: `fail_with` if set; provider_unavailable on a simulated outage;
                invalid_request for a size or count this renderer refuses.
        """
        if self._latency_s:
            await self._clock.sleep(self._latency_s)
        if self._fail_with is not None:
            raise JobFailure(self._fail_with, f"{self.name}: forced failure ({self._fail_with})")
        if self._failure_rate and self._rng.random() < self._failure_rate:
            raise JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, f"{self.name}: simulated outage")
        self._check(request)
        if request.seed is None:
            request = msgspec.structs.replace(request, seed=secrets.randbelow(2**31))
        spec = self._models.get(request.model)
        partials = spec.mapping.partial_images if spec else 0
        if partials and request.previews is not None:
            await self._stream_previews(request, partials)
        if request.width * request.height * request.n <= _INLINE_PIXELS:
            images = _render_all(request)
        else:
            images = await asyncio.to_thread(_render_all, request)
        return ProviderResult(images=images, cost_micros=0)

    async def _stream_previews(self, request: ProviderRequest, partials: int) -> None:
        """Send `partials` coarse-to-fine pixelations of image 0, as a streaming API would."""
        assert request.previews is not None
        digest = hashlib.sha256(_request_digest(request) + (0).to_bytes(4, "big")).digest()
        for index in range(partials):
            factor = 2 ** (partials - index + 1)
            data = await asyncio.to_thread(_pixelated, request, digest, factor)
            await request.previews(data, index)

    def _check(self, request: ProviderRequest) -> None:
        if request.width < 1 or request.height < 1 or request.n < 1:
            raise JobFailure(ErrorClass.INVALID_REQUEST, "width, height and n must be positive")
        if request.width * request.height > self._max_pixels:
            raise JobFailure(
                ErrorClass.INVALID_REQUEST,
                f"{request.width}x{request.height} exceeds {self._max_pixels} pixels",
            )


def _render_all(request: ProviderRequest) -> tuple[GeneratedImage, ...]:
    base = _request_digest(request)
    images = []
    for index in range(request.n):
        digest = hashlib.sha256(base + index.to_bytes(4, "big")).digest()
        images.append(GeneratedImage(data=render_png(request, digest, index)))
    return tuple(images)


def _request_digest(request: ProviderRequest) -> bytes:
    """Hash everything that should change the pixels, except the image index."""
    h = hashlib.sha256()
    for part in (request.model, request.prompt, str(request.seed), str(request.width),
                 str(request.height)):
        h.update(part.encode())
        h.update(b"|")
    for data in (*request.input_images, request.mask or b""):
        h.update(hashlib.sha256(data).digest())
    return h.digest()


def render_png(request: ProviderRequest, digest: bytes, index: int) -> bytes:
    """Draw one image from the 32-byte `digest` and encode it as a fast-compressed PNG."""
    w, h = request.width, request.height
    corners = Image.new("RGB", (2, 2))
    corners.putdata([(digest[i], digest[i + 1], digest[i + 2]) for i in (0, 3, 6, 9)])
    img = corners.resize((w, h), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for k in range(4):  # four shapes, positions and colours from bytes 12..31
        b = digest[12 + k * 5: 17 + k * 5]
        cx, cy = b[0] * w // 256, b[1] * h // 256
        r = max(2, b[2] * min(w, h) // 1024)
        box = (cx - r, cy - r, cx + r, cy + r)
        colour = (b[3], b[4], digest[k])
        if b[2] & 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    _draw_caption(draw, f"{request.prompt} [seed {request.seed} #{index}]", w, h)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _pixelated(request: ProviderRequest, digest: bytes, factor: int) -> bytes:
    """Image 0 at 1/`factor` resolution, scaled back up: a preview, not the result."""
    full = Image.open(io.BytesIO(render_png(request, digest, 0)))
    small = full.resize((max(1, full.width // factor), max(1, full.height // factor)))
    buf = io.BytesIO()
    small.resize(full.size, Image.Resampling.NEAREST).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _draw_caption(draw: ImageDraw.ImageDraw, text: str, w: int, h: int) -> None:
    size = max(10, min(w, h) // 24)
    font = _font(size)
    chars_per_line = max(4, int(w / (size * 0.6)) - 1)
    lines = textwrap.wrap(text, chars_per_line)[: max(1, h // (size * 4))]
    draw.multiline_text((size // 2, size // 2), "\n".join(lines), font=font,
                        fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow built without FreeType: fixed-size bitmap font
        return ImageFont.load_default()
