"""The catalog schema (ADR 0070): gpt-image-2's size rule, and load-time validation that names
the entry in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidRequest
from domain.model_mapping import SizeRule
from domain.pricing import ImageSize
from entrypoints.settings import DEFAULT_MODELS, CatalogError, load_models

pytestmark = pytest.mark.unit

RETIRED = {"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini",
           "chatgpt-image-latest", "gemini-2.5-flash-image"}


def spec(name: str):  # type: ignore[no-untyped-def]
    return {s.name: s for s in load_models(DEFAULT_MODELS)}[name]


@pytest.mark.parametrize("size", ["1024x1024", "3840x2160", "2160x3840", "1536x512", "512x1536",
                                  "16x48", "2048x1152"])
def test_gpt_image_2_takes_any_size_in_multiples_of_16_within_1_3_to_3_1_and_3840x2160(size: str) -> None:
    spec("gpt-image-2").check_request(ImageSize.parse(size), 1, "p")


@pytest.mark.parametrize(("size", "why"), [
    ("1000x1000", "multiples of 16"), ("1600x496", "aspect"), ("496x1600", "aspect"),
    ("4096x2160", "at most 3840x2160"), ("2176x2176", "at most 3840x2160"),
])
def test_gpt_image_2_refuses_sizes_outside_its_rule_naming_the_size_field(size: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        spec("gpt-image-2").check_request(ImageSize.parse(size), 1, "p")
    assert refused.value.field == "size" and why.split()[0] in refused.value.reason


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300))
def test_the_size_rule_accepts_exactly_the_documented_sizes(w16: int, h16: int) -> None:
    width, height = w16 * 16, h16 * 16
    ok = (1 / 3 <= width / height <= 3 and max(width, height) <= 3840 and min(width, height) <= 2160)
    try:
        SizeRule().check(width, height, "m")
    except InvalidRequest:
        assert not ok
    else:
        assert ok


def test_the_shipped_catalog_loads_and_names_no_retired_model() -> None:
    models = load_models(DEFAULT_MODELS)
    upstreams = {m.upstream for m in models}
    assert not upstreams & RETIRED and not {m.name for m in models} & RETIRED
    assert {"gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst"} <= {m.name for m in models}
    providers = {m.provider for m in models}
    assert providers == {"local", "openai", "gemini", "openrouter", "replicate", "fal"}
    assert spec("openrouter-flux-2-pro").mapping.modalities == ("image",)
    assert spec("openrouter-gemini-3.1-flash-image").mapping.modalities == ("image", "text")
    assert len(spec("sdxl").upstream_version) == 64
    assert "openrouter-gemini-3.1-flash-image" in spec("gemini-3.1-flash-image").fallbacks
    assert all(m.source for m in models)  # every price says where it came from
    assert spec("gemini-3-pro-image").token_prices.text_output > 0  # thinking tokens are priced


@pytest.mark.parametrize(("entry", "message"), [
    ('name = "x"\nprovider = "openia"\ncredits_per_image = 1',
     "models.toml: models[1] (x): provider 'openia' is not one of"),
    ('name = "x"\nprovider = "openai"\ncredits_per_image = "five"',
     "models.toml: models[1] (x): Expected `int`, got `str` - at `$.credits_per_image`"),
    ('name = "x"\nprovider = "openai"\ncredits_per_image = 1\nsizes = ["big"]',
     "models.toml: models[1] (x): size 'big' is not WIDTHxHEIGHT"),
    ('name = "x"\nprovider = "replicate"\ncredits_per_image = 1\nupstream_model = "a/b"',
     "models.toml: models[1] (x): a community Replicate model needs upstream_version"),
    ('name = "x"\nprovider = "openai"\ncredits_per_image = 1\nfallbacks = ["nope"]',
     "models.toml: models[1] (x): fallback 'nope' is not in the catalog"),
    ('name = "local"\nprovider = "local"\ncredits_per_image = 1',
     "models.toml: models[1] (local): a model of this name is listed twice"),
    ('name = "x"\nprovider = "openai"\ncredits_per_image = 1\nmapping = { modalities = ["video"] }',
     "models.toml: models[1] (x): mapping.modalities has unknown values ['video']"),
    ('name = "x"\nprovider = "openai"\ncredits_per_image = 1\nmapping = { promt = "p" }',
     "models.toml: models[1] (x): Object contains unknown field `promt` - at `$.mapping`"),
])
def test_a_bad_entry_fails_the_load_with_one_line_naming_it(tmp_path: Path, entry: str,
                                                            message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "local"\nprovider = "local"\ncredits_per_image = 1\n\n'
                    f"[[models]]\n{entry}\n")

    with pytest.raises(CatalogError) as refused:
        load_models(path)

    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_the_cli_reports_a_bad_catalog_in_one_line_with_exit_2(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "x"\nprovider = "nobody"\ncredits_per_image = 1\n')
    env = {**os.environ, "IMAGEGEN_MODELS_FILE": str(path), "IMAGEGEN_HOME": str(tmp_path)}

    done = subprocess.run([sys.executable, "-m", "entrypoints.cli", "models", "list"], env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    err = done.stderr.strip()
    assert err.startswith("imagegen: error: IMAGEGEN_MODELS_FILE: models.toml: models[0] (x): provider")
    assert "\n" not in err
