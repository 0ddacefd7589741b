"""The cost model: credits charged per image, and what a model may be asked for.

Credits are integers. A model's base price applies up to one megapixel (1024 x 1024 pixels, so
the common square size is not "high-res"); above it each image costs 1.5x, rounded up to a whole
credit (the seeds' "7.5 for high-res" becomes 8). The total is per-image credits times n.
Provider cost is tracked separately in integer micro-dollars.
"""

from __future__ import annotations

import msgspec

from domain.errors import InvalidRequest
from domain.model_mapping import RequestMapping, SizeRule

MEGAPIXEL = 1024 * 1024  # 1,048,576: 1024x1024 is base price, 1792x1024 is high-res


class ImageSize(msgspec.Struct, frozen=True):
    """Pixel dimensions, parsed from and printed as 'WxH'."""

    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> ImageSize:
        """Parse 'WxH'; raise `InvalidRequest` on anything else."""
        parts = text.lower().split("x")
        # ASCII digits only ('²'.isdigit() is True but int() rejects it), and few enough of
        # them that int() stays under its 4300-digit limit: both would escape as ValueError.
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts):
            raise InvalidRequest("size", f"expected WIDTHxHEIGHT, got {text!r}")
        width, height = int(parts[0]), int(parts[1])
        if width <= 0 or height <= 0:
            raise InvalidRequest("size", "width and height must be positive")
        return cls(width, height)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class TokenPrices(msgspec.Struct, frozen=True, kw_only=True):
    """A model's token prices in micro-dollars per million tokens, by direction and modality."""

    text_input: int = 0
    image_input: int = 0
    text_output: int = 0
    image_output: int = 0

    def cost_micros(self, *, text_in: int = 0, image_in: int = 0, text_out: int = 0,
                    image_out: int = 0) -> int:
        """The cost of these token counts, rounded up to a whole micro-dollar (never under)."""
        scaled = (text_in * self.text_input + image_in * self.image_input
                  + text_out * self.text_output + image_out * self.image_output)
        return -(-scaled // 1_000_000)


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One model a user may ask for, as configured in settings.

    Attributes:
        name: the id clients send ("dall-e-3").
        provider: the adapter that serves it ("openai", "local").
        credits_per_image: base credits for an image of at most one megapixel.
        sizes: sizes the model accepts, as 'WxH'; empty means any size up to max_pixels.
        max_n: most images one request may ask for.
        price_micros_per_image: what the provider charges us, when it reports no usage.
        max_prompt_chars: the provider's prompt length limit.
        supports_edit: whether the model accepts an input image.
        fallbacks: models to try, in order, when this model's provider is unavailable.
        upstream_model: the provider's own id, when it differs from `name`.
        token_prices: what the provider charges per million tokens of each kind, in
            micro-dollars (USD 40 per 1M image output tokens is 40_000_000); used with the
            provider's reported usage instead of `price_micros_per_image` when set.
        upstream_version: a pinned provider version (Replicate's 64-hex version id).
        official: Replicate official model (served by name, without a version).
        mapping: how the request is spelled for this model (input names, modalities).
        size_rule: arbitrary sizes within bounds; replaces the `sizes` list when set.
        status: "current" or "deprecated" (still served, with a `shutdown_on` date).
        shutdown_on: the provider's announced shutdown date, YYYY-MM-DD.
        source: where the entry's id and prices were read, and when (for humans).
    """

    name: str
    provider: str
    credits_per_image: int
    sizes: tuple[str, ...] = ()
    max_n: int = 4
    max_pixels: int = 4096 * 4096
    price_micros_per_image: int = 0
    max_prompt_chars: int = 4000
    supports_edit: bool = False
    fallbacks: tuple[str, ...] = ()
    upstream_model: str = ""
    token_prices: TokenPrices | None = None
    upstream_version: str = ""
    official: bool = False
    mapping: RequestMapping = RequestMapping()
    size_rule: SizeRule | None = None
    status: str = "current"
    shutdown_on: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.credits_per_image < 0 or self.price_micros_per_image < 0:
            raise ValueError(f"model {self.name}: prices must be >= 0")
        if self.max_n < 1:
            raise ValueError(f"model {self.name}: max_n must be >= 1")
        if self.status not in ("current", "deprecated"):
            raise ValueError(f"model {self.name}: status must be current or deprecated")

    @property
    def upstream(self) -> str:
        """The provider's own id for this entry (`upstream_model`, else the name)."""
        return self.upstream_model or self.name

    def check_request(self, size: ImageSize, n: int, prompt: str) -> None:
        """Raise `InvalidRequest` naming the field when this model cannot serve the request."""
        stripped = prompt.strip()
        if not stripped:
            raise InvalidRequest("prompt", "must not be empty")
        if len(prompt) > self.max_prompt_chars:
            raise InvalidRequest(
                "prompt", f"is {len(prompt)} characters; {self.name} allows {self.max_prompt_chars}"
            )
        if not 1 <= n <= self.max_n:
            raise InvalidRequest("n", f"must be between 1 and {self.max_n} for {self.name}")
        if self.size_rule is not None:
            self.size_rule.check(size.width, size.height, self.name)
        elif self.sizes and str(size) not in self.sizes:
            raise InvalidRequest(
                "size", f"{size} is not offered by {self.name}; choose one of {', '.join(self.sizes)}"
            )
        if size.pixels > self.max_pixels:
            raise InvalidRequest("size", f"{size} exceeds {self.max_pixels} pixels for {self.name}")


def credits_per_image(model: ModelSpec, size: ImageSize) -> int:
    """Credits for one image: the base price, times 1.5 rounded up above one megapixel."""
    if size.pixels > MEGAPIXEL:
        return -(-model.credits_per_image * 3 // 2)
    return model.credits_per_image


def estimate_credits(model: ModelSpec, size: ImageSize, n: int) -> int:
    """Credits reserved for a request of `n` images of `size` from `model`."""
    if n < 1:
        raise InvalidRequest("n", "must be at least 1")
    return credits_per_image(model, size) * n
