"""Issue 11, OpenAI routes: the official `openai` SDK (async client, its own retry logic) against
the app on loopback. A failure after the commit names the job and says `x-should-retry: false`;
the SDK's retries of one call (`x-stainless-retry-count`) replay the first answer instead of
creating (and charging) a second job; two deliberate identical calls make two jobs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import openai
import pytest
from dependency_injector import providers

from tests.integration.hostile.conftest import profile_api
from tests.integration.hostile.served import served

pytestmark = pytest.mark.integration


class StorageFailingReads:
    """The real storage, whose next `get` fails once (the answer after the job committed)."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.failures_left = inner, 1

    async def get(self, key: str) -> bytes:
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("disk went away while reading the result")
        return await self._inner.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def app_of(api):
    from entrypoints.http.app import create_app

    return create_app(container=api.container, manage_container=False, run_worker=False)


async def jobs_of(api, headers) -> list[dict[str, Any]]:
    return (await api.client.get("/v1/jobs", headers=headers)).json()["items"]


def sdk(base: str, headers, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{base}/v1", api_key=headers["Authorization"].split()[1], **kw)


async def test_a_failure_after_the_commit_names_the_job_and_is_not_retried_by_the_sdk(
        tmp_path: Path) -> None:
    async with profile_api(None, tmp_path, run_worker=True) as api:
        headers = await api.key_for("alice", credits=10)
        storage = api.container.adapters.storage()
        failing = StorageFailingReads(storage)
        api.container.adapters.storage.override(providers.Object(failing))
        async with served(app_of(api)) as base:
            client = sdk(base, headers, max_retries=3, timeout=30)
            with pytest.raises(openai.InternalServerError) as raised:
                await client.images.generate(model="local", prompt="p", size="64x64",
                                             response_format="b64_json")
            await client.close()
        response = raised.value.response
        assert response.headers["x-should-retry"] == "false"
        jobs = await jobs_of(api, headers)
        assert len(jobs) == 1  # the SDK did not retry into a second job and charge
        assert response.headers["x-imagegen-job-id"] == jobs[0]["id"]
        assert jobs[0]["id"] in raised.value.message


async def test_an_sdk_retry_after_a_client_timeout_replays_the_first_job(tmp_path: Path) -> None:
    async with profile_api(None, tmp_path, run_worker=True, local_latency_s=1.5,
                           rate_limit_per_minute=0) as api:
        headers = await api.key_for("alice", credits=10)
        async with served(app_of(api)) as base:
            client = sdk(base, headers, max_retries=6, timeout=0.6)
            result = await client.images.generate(model="local", prompt="a slow fox", size="64x64",
                                                  response_format="b64_json")
            await client.close()
        assert base64.b64decode(result.data[0].b64_json or "")[:8] == b"\x89PNG\r\n\x1a\n"
        jobs = await jobs_of(api, headers)
        assert len(jobs) == 1, jobs
        credits = (await api.client.get("/v1/credits", headers=headers)).json()
        assert credits["available"] + credits["lifetimeSpent"] + credits["reserved"] == 10
        assert credits["lifetimeSpent"] == jobs[0]["chargedCredits"]


async def test_two_deliberate_identical_calls_make_two_jobs(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, run_worker=profile_db is None,
                           openai_wait_s=0.2) as api:
        headers = await api.key_for("alice", credits=10)
        async with served(app_of(api)) as base:
            client = sdk(base, headers, max_retries=0, timeout=30)
            for _ in range(2):
                try:
                    await client.images.generate(model="local", prompt="same", size="64x64")
                except openai.APIStatusError as exc:  # production here has no worker: 504, no retry
                    assert exc.status_code == 504 and exc.response.headers["x-should-retry"] == "false"
                    assert exc.response.headers["x-imagegen-job-id"]
            await client.close()
        assert len(await jobs_of(api, headers)) == 2
