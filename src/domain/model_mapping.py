"""Per-model request mapping: how one catalog entry's request is spelled on its provider's wire.

Replicate and fal models each have their own input schema, OpenRouter models their own output
modalities, gpt-image-2 and later a size rule instead of a size list (providers.md corrections
of 2026-12-01). These values are catalog data (ADR 0070), never code per model.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from domain.errors import InvalidRequest

#: How a request's size goes on the wire.
SizeStyle = Literal["width_height", "image_size", "aspect_ratio", "size"]
Scalar = str | int | float | bool


class RequestMapping(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Input field names and fixed values for one model.

    Attributes:
        prompt: the prompt's input field.
        size_style: `width_height` (two integer fields), `image_size` ({width, height} under
            one field, fal), `aspect_ratio` (the nearest documented ratio), `size` ('WxH').
        width, height: field names for `width_height`; `size_field` for the other styles.
        n: the image count field ("" when the model makes one image and takes no count).
        seed: the seed field ("" when the model takes none).
        image: the input-image field for edits ("" = the model cannot edit through inputs).
        image_list: whether `image` takes a list of URLs rather than one.
        extra: fixed inputs sent with every request (e.g. {output_format = "png"}).
        modalities: OpenRouter output modalities (["image"] for image-only models).
        partial_images: OpenAI streaming: partial images per call (0 = no streaming).
    """

    prompt: str = "prompt"
    size_style: SizeStyle = "width_height"
    width: str = "width"
    height: str = "height"
    size_field: str = "image_size"
    n: str = ""
    seed: str = "seed"
    image: str = ""
    image_list: bool = False
    extra: dict[str, Scalar] = msgspec.field(default_factory=dict)
    modalities: tuple[str, ...] = ()
    partial_images: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.partial_images <= 3:
            raise ValueError("mapping.partial_images must be between 0 and 3")
        bad = set(self.modalities) - {"image", "text"}
        if bad:
            raise ValueError(f"mapping.modalities has unknown values {sorted(bad)}")


def _ratio(text: str) -> float:
    w, _, h = text.partition(":")
    if not (w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise ValueError(f"aspect ratio {text!r} is not W:H")
    return int(w) / int(h)


class SizeRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Arbitrary sizes within bounds (gpt-image-2: multiples of 16, 1:3 to 3:1, <= 3840x2160).

    `max_long` and `max_short` bound the longer and the shorter edge, so 3840x2160 and
    2160x3840 are both allowed.
    """

    multiple_of: int = 16
    min_aspect: str = "1:3"
    max_aspect: str = "3:1"
    max_long: int = 3840
    max_short: int = 2160

    def __post_init__(self) -> None:
        if self.multiple_of < 1 or self.max_long < 1 or self.max_short < 1:
            raise ValueError("size_rule bounds must be positive")
        if _ratio(self.min_aspect) > _ratio(self.max_aspect):
            raise ValueError("size_rule.min_aspect is wider than max_aspect")

    def check(self, width: int, height: int, model: str) -> None:
        """Raise `InvalidRequest` on `size` when width x height breaks the rule."""
        size = f"{width}x{height}"
        if width % self.multiple_of or height % self.multiple_of:
            raise InvalidRequest("size", f"{size}: {model} needs both sides in multiples of "
                                         f"{self.multiple_of}")
        if not _ratio(self.min_aspect) <= width / height <= _ratio(self.max_aspect):
            raise InvalidRequest("size", f"{size}: {model} allows aspect ratios from "
                                         f"{self.min_aspect} to {self.max_aspect}")
        if max(width, height) > self.max_long or min(width, height) > self.max_short:
            raise InvalidRequest("size", f"{size}: {model} allows at most "
                                         f"{self.max_long}x{self.max_short}")
