"""The official `openai` SDK against a real `imagegen serve` (embedded profile) on 127.0.0.1."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import openai
import pytest
from PIL import Image

from tests.integration.interop.live_server import Server, live_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_server(tmp_path_factory.mktemp("home"), starter_credits=3) as running:
        yield running


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_generate_returns_a_decodable_png_of_the_requested_size(server: Server) -> None:
    result = server.client().images.generate(model="local", prompt="a lighthouse at dusk",
                                             size="64x64", response_format="b64_json")
    assert result.created > 0 and len(result.data) == 1
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
    assert (image.format, image.size) == ("PNG", (64, 64))


def test_edit_takes_a_multipart_image_and_answers_in_openais_shape(server: Server) -> None:
    result = server.client().images.edit(image=("in.png", _png(48, 32), "image/png"), model="local",
                                         prompt="make it blue", response_format="b64_json")
    image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or "")))
    assert image.size == (48, 32)  # defaults to the input's size


def test_too_few_credits_is_the_sdks_rate_limit_error_with_code_insufficient_quota(server: Server) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        server.client().images.generate(model="local", prompt="four of them", size="64x64", n=4)
    assert caught.value.status_code == 429
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_bad_input_and_bad_keys_are_the_sdks_own_exception_types(server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        server.client().images.generate(model="local", prompt="x", size="huge")
    assert caught.value.body["param"] == "size"  # type: ignore[index]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="ig_wrong", max_retries=0).images.generate(
            model="local", prompt="x", size="64x64")


def test_an_edit_may_upload_more_than_the_general_one_mib_body_limit(server: Server) -> None:
    noise = Image.frombytes("RGB", (800, 700), bytes(range(256)) * (800 * 700 * 3 // 256 + 1))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)
    assert len(out.getvalue()) > 1024 * 1024
    result = server.client().images.edit(image=("big.png", out.getvalue(), "image/png"), model="local",
                                         prompt="calmer", size="64x64")
    assert Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json or ""))).size == (64, 64)
