"""Bounded field types of the request bodies (ADR 0080): every string, integer and list a client
sends has a length or range here, checked by msgspec before a handler runs."""

from __future__ import annotations

from typing import Annotated

import msgspec

from domain import limits

Prompt = Annotated[str, msgspec.Meta(
    max_length=limits.MAX_PROMPT_CHARS, pattern=limits.TEXT_PATTERN,
    description="What to draw; limits depend on the model. No control characters but tab/newline.")]
Text = Annotated[str, msgspec.Meta(max_length=limits.MAX_LINE_CHARS, pattern=limits.TEXT_PATTERN)]
Line = Annotated[str, msgspec.Meta(max_length=limits.MAX_LINE_CHARS, pattern=limits.LINE_PATTERN)]
Short = Annotated[str, msgspec.Meta(max_length=128, pattern=limits.LINE_PATTERN)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_ID_LENGTH, pattern=limits.ID_PATTERN)]
Seed = Annotated[int, msgspec.Meta(ge=0, le=limits.MAX_SEED)]
Count = Annotated[int, msgspec.Meta(ge=-1000, le=1000)]  # the domain checks each model's own n range
Credits = Annotated[int, msgspec.Meta(ge=1, le=limits.MAX_GRANT)]
ImageIds = Annotated[list[Id], msgspec.Meta(max_length=limits.MAX_ARRAY_ITEMS)]
Prompts = Annotated[list[Prompt], msgspec.Meta(max_length=limits.MAX_ARRAY_ITEMS)]
Models = Annotated[list[Short], msgspec.Meta(max_length=limits.MAX_ARRAY_ITEMS)]
