"""The local provider: real, reproducible PNGs, and simulated latency and failures."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from adapters.clock import FakeClock
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.registry import StaticProviderRegistry
from application.ports import ProviderRequest
from domain.failures import ErrorClass, JobFailure

pytestmark = pytest.mark.unit


def request(**changes: object) -> ProviderRequest:
    fields: dict[str, object] = dict(job_id="job_1", model="local-1", prompt="a lighthouse at dusk",
                                     width=64, height=48, n=1, seed=7)
    fields.update(changes)
    return ProviderRequest(**fields)  # type: ignore[arg-type]


async def images_of(provider: LocalImageProvider, req: ProviderRequest) -> list[bytes]:
    result = await provider.generate(req)
    return [image.data or b"" for image in result.images]


@pytest.mark.parametrize(("width", "height", "n"), [(64, 48, 1), (320, 200, 2), (1024, 1024, 1)])
async def test_renders_valid_pngs_of_the_requested_size(width: int, height: int, n: int) -> None:
    result = await LocalImageProvider().generate(request(width=width, height=height, n=n))
    assert result.cost_micros == 0 and not result.pending
    assert len(result.images) == n
    for image in result.images:
        with Image.open(io.BytesIO(image.data or b"")) as img:
            img.load()
            assert (img.format, img.size) == ("PNG", (width, height))


async def test_same_inputs_give_identical_bytes() -> None:
    assert await images_of(LocalImageProvider(), request()) == await images_of(
        LocalImageProvider(), request())


async def test_seed_prompt_and_index_each_change_the_image() -> None:
    provider = LocalImageProvider()
    [base] = await images_of(provider, request())
    [other_seed] = await images_of(provider, request(seed=8))
    [other_prompt] = await images_of(provider, request(prompt="a lighthouse at dawn"))
    first, second = await images_of(provider, request(n=2))
    assert len({base, other_seed, other_prompt}) == 3
    assert first == base and second != first


async def test_failure_rate_one_raises_provider_unavailable() -> None:
    with pytest.raises(JobFailure) as caught:
        await LocalImageProvider(failure_rate=1.0).generate(request())
    assert caught.value.error_class is ErrorClass.PROVIDER_UNAVAILABLE
    assert caught.value.error_class.retryable


async def test_seeded_failures_repeat_the_same_sequence() -> None:
    async def outcomes(provider: LocalImageProvider) -> list[bool]:
        seen = []
        for _ in range(30):
            try:
                await provider.generate(request(width=8, height=8))
                seen.append(True)
            except JobFailure:
                seen.append(False)
        return seen

    first = await outcomes(LocalImageProvider(failure_rate=0.5, rng_seed=42))
    assert first == await outcomes(LocalImageProvider(failure_rate=0.5, rng_seed=42))
    assert True in first and False in first


async def test_fail_with_forces_the_error_class() -> None:
    with pytest.raises(JobFailure) as caught:
        await LocalImageProvider(fail_with=ErrorClass.CONTENT_POLICY).generate(request())
    assert caught.value.error_class is ErrorClass.CONTENT_POLICY


async def test_latency_is_waited_on_the_injected_clock() -> None:
    clock = FakeClock()
    before = clock.now()
    await LocalImageProvider(latency_s=2.5, clock=clock).generate(request())
    assert clock.sleeps == [2.5]
    assert (clock.now() - before).total_seconds() == 2.5


@pytest.mark.parametrize("changes", [{"width": 0}, {"n": 0}, {"width": 5000, "height": 5000}])
async def test_refuses_sizes_it_cannot_render(changes: dict[str, int]) -> None:
    with pytest.raises(JobFailure) as caught:
        await LocalImageProvider().generate(request(**changes))
    assert caught.value.error_class is ErrorClass.INVALID_REQUEST


def test_constructor_refuses_impossible_simulation_settings() -> None:
    with pytest.raises(ValueError):
        LocalImageProvider(failure_rate=1.5)
    with pytest.raises(ValueError):
        LocalImageProvider(latency_s=-1)


def test_registry_finds_providers_by_name_only() -> None:
    local = LocalImageProvider()
    registry = StaticProviderRegistry({"local": local})
    assert registry.provider_for("local") is local
    assert registry.provider_for("openai") is None
    assert registry.names() == ["local"]
