"""Model inputs built from a catalog entry's request mapping (Replicate and fal, ADR 0070).

Each Replicate or fal model has its own input schema, so field names and fixed values come
from `ModelSpec.mapping`, never from code per model. Input images are sent as data: URLs
(both providers accept them for file inputs).
"""

from __future__ import annotations

from typing import Any

from adapters.image_providers.http_wire import aspect_ratio, data_url
from application.ports import ProviderRequest
from domain.model_mapping import RequestMapping


def model_input(mapping: RequestMapping, request: ProviderRequest) -> dict[str, Any]:
    """The `input` object for `request` as the model's schema names its fields."""
    body: dict[str, Any] = dict(mapping.extra)
    body[mapping.prompt] = request.prompt
    if mapping.size_style == "width_height":
        body[mapping.width], body[mapping.height] = request.width, request.height
    elif mapping.size_style == "image_size":
        body[mapping.size_field] = {"width": request.width, "height": request.height}
    elif mapping.size_style == "aspect_ratio":
        body[mapping.size_field] = aspect_ratio(request.width, request.height)
    else:
        body[mapping.size_field] = f"{request.width}x{request.height}"
    if mapping.n:
        body[mapping.n] = request.n
    if mapping.seed and request.seed is not None:
        body[mapping.seed] = request.seed
    if mapping.image and request.input_images:
        urls = [data_url(d) for d in request.input_images]
        body[mapping.image] = urls if mapping.image_list else urls[0]
    return body
