"""Examples and properties of the cost model (ADR 0007) and of request checks per model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidRequest
from domain.pricing import MEGAPIXEL, ImageSize, ModelSpec, credits_per_image, estimate_credits

pytestmark = pytest.mark.unit

DALL_E_3 = ModelSpec(name="dall-e-3", provider="openai", credits_per_image=5,
                     sizes=("1024x1024", "1792x1024", "1024x1792"), max_n=1,
                     max_prompt_chars=4000)
ANY_SIZE = ModelSpec(name="local", provider="local", credits_per_image=1, max_n=4,
                     max_pixels=2048 * 2048, max_prompt_chars=20)


# -- credits --------------------------------------------------------------------------------
def test_one_megapixel_is_1024_by_1024() -> None:
    assert MEGAPIXEL == 1024 * 1024 == 1_048_576


def test_the_standard_square_costs_the_base_price() -> None:
    """ADR 0007: 1024x1024 is the boundary itself, so it is not high-res."""
    assert estimate_credits(DALL_E_3, ImageSize.parse("1024x1024"), 1) == 5


def test_a_wide_dall_e_3_image_costs_one_and_a_half_times_rounded_up() -> None:
    assert credits_per_image(DALL_E_3, ImageSize.parse("1792x1024")) == 8


def test_a_small_image_costs_the_base_price() -> None:
    assert credits_per_image(DALL_E_3, ImageSize.parse("512x512")) == 5


def test_the_high_res_price_starts_one_pixel_above_a_megapixel() -> None:
    assert credits_per_image(DALL_E_3, ImageSize(MEGAPIXEL, 1)) == 5
    assert credits_per_image(DALL_E_3, ImageSize(MEGAPIXEL + 1, 1)) == 8


@pytest.mark.parametrize(("base", "high_res"), [(0, 0), (1, 2), (2, 3), (4, 6), (5, 8), (7, 11)])
def test_the_high_res_price_is_the_ceiling_of_one_and_a_half_times_the_base(
        base: int, high_res: int) -> None:
    model = ModelSpec(name="m", provider="p", credits_per_image=base)

    assert credits_per_image(model, ImageSize(2048, 2048)) == high_res


def test_the_estimate_is_the_per_image_price_times_n() -> None:
    assert estimate_credits(ANY_SIZE, ImageSize(512, 512), 3) == 3
    assert estimate_credits(DALL_E_3, ImageSize(1792, 1024), 4) == 32


@pytest.mark.parametrize("n", [0, -1])
def test_an_estimate_for_fewer_than_one_image_names_the_n_field(n: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        estimate_credits(DALL_E_3, ImageSize(512, 512), n)
    assert refused.value.field == "n"


models = st.builds(ModelSpec, name=st.just("m"), provider=st.just("p"),
                   credits_per_image=st.integers(0, 1000))
sizes = st.builds(ImageSize, st.integers(1, 8192), st.integers(1, 8192))


@settings(max_examples=200, deadline=None)
@given(model=models, size=sizes, n=st.integers(1, 16))
def test_the_estimate_is_never_negative_and_grows_with_n(
        model: ModelSpec, size: ImageSize, n: int) -> None:
    cost = estimate_credits(model, size, n)

    assert cost >= 0
    assert estimate_credits(model, size, n + 1) >= cost


@settings(max_examples=200, deadline=None)
@given(model=models, a=sizes, b=sizes, n=st.integers(1, 16))
def test_the_estimate_never_falls_as_the_pixel_count_rises(
        model: ModelSpec, a: ImageSize, b: ImageSize, n: int) -> None:
    small, large = sorted((a, b), key=lambda s: s.pixels)

    assert estimate_credits(model, small, n) <= estimate_credits(model, large, n)


# -- sizes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "size"), [("1024x1024", ImageSize(1024, 1024)),
                                            ("1792X1024", ImageSize(1792, 1024)),
                                            ("64x48", ImageSize(64, 48))])
def test_a_size_parses_from_width_x_height(text: str, size: ImageSize) -> None:
    assert ImageSize.parse(text) == size
    assert str(size) == text.lower()


@pytest.mark.parametrize("text", ["", "1024", "1024x", "x1024", "axb", "0x512", "512x0",
                                  "-1x5", "1024x1024x2", " 1024x1024", "1024 x 1024",
                                  "1.5x2", "²x2", "１０２４x１０２４",
                                  pytest.param("1" * 5000 + "x1", id="5000-digit-width")])
def test_a_malformed_size_is_an_invalid_request_on_the_size_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ImageSize.parse(text)
    assert refused.value.field == "size"


# Unicode digits and numerals ('٣', '²', '①') pass str.isdigit() but not all pass int().
digit_like = st.text(st.characters(categories=("Nd", "No")) | st.sampled_from("0123456789"),
                     min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12) | st.from_regex(r"\A[0-9]{0,8}[xX][0-9]{0,8}\Z")
       | st.tuples(digit_like, digit_like).map("x".join))
def test_parsing_any_text_gives_a_size_or_an_invalid_request(text: str) -> None:
    try:
        size = ImageSize.parse(text)
    except InvalidRequest as refused:
        assert refused.field == "size"
    else:
        assert size.width > 0 and size.height > 0
        assert ImageSize.parse(str(size)) == size


# -- model checks ---------------------------------------------------------------------------
def test_a_request_the_model_can_serve_passes() -> None:
    DALL_E_3.check_request(ImageSize(1792, 1024), 1, "a lighthouse at dusk")
    ANY_SIZE.check_request(ImageSize(300, 200), 4, "x" * 20)


@pytest.mark.parametrize(
    ("model", "size", "n", "prompt", "field"),
    [
        (DALL_E_3, ImageSize(1024, 1024), 1, "", "prompt"),
        (DALL_E_3, ImageSize(1024, 1024), 1, "   \n", "prompt"),
        (ANY_SIZE, ImageSize(64, 64), 1, "x" * 21, "prompt"),
        (DALL_E_3, ImageSize(1024, 1024), 0, "a cat", "n"),
        (DALL_E_3, ImageSize(1024, 1024), 2, "a cat", "n"),
        (ANY_SIZE, ImageSize(64, 64), 5, "a cat", "n"),
        (DALL_E_3, ImageSize(512, 512), 1, "a cat", "size"),
        (ANY_SIZE, ImageSize(2049, 2048), 1, "a cat", "size"),
    ],
)
def test_a_request_the_model_cannot_serve_names_the_offending_field(
        model: ModelSpec, size: ImageSize, n: int, prompt: str, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        model.check_request(size, n, prompt)
    assert refused.value.field == field


def test_an_unoffered_size_lists_the_sizes_on_offer() -> None:
    with pytest.raises(InvalidRequest, match="1792x1024"):
        DALL_E_3.check_request(ImageSize(512, 512), 1, "a cat")


@pytest.mark.parametrize("changes", [{"credits_per_image": -1}, {"price_micros_per_image": -1},
                                     {"max_n": 0}])
def test_a_model_spec_refuses_negative_prices_and_zero_max_n(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ModelSpec(**{"name": "m", "provider": "p", "credits_per_image": 1, **changes})
