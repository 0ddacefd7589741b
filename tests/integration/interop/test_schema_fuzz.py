"""Schemathesis against a real server: every documented operation, bounded, authenticated.

Asserts that no generated request gets a 5xx and that every response matches the OpenAPI
document served at /schema (status codes documented, bodies of the documented shape).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.interop.live_server import Server, live_server

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 12
BUDGET_S = 150.0  # a backstop only: the test fails unless every operation ran
#: Operations left out (none: every documented operation is fuzzed).
SKIP: set[str] = set()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_server(tmp_path_factory.mktemp("fuzz-home"), starter_credits=1_000_000) as running:
        yield running


def test_no_documented_operation_answers_5xx_or_breaks_its_schema(server: Server) -> None:
    raw = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=10).json()
    webhook_headers = {p["name"] for p in raw["webhooks"]["jobEvent"]["post"]["parameters"]}
    assert webhook_headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "x-imagegen-job-id" in raw["paths"]["/v1/images/generations"]["post"]["responses"]["200"]["headers"]
    schema = schemathesis.openapi.from_dict(raw)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    started, failures, ran, everything = time.monotonic(), [], [], []
    answered_2xx: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        everything.append(operation.label)
        if operation.label in SKIP or time.monotonic() - started > BUDGET_S:
            continue
        ran.append(operation.label)

        # derandomize: the gate runs the same examples every time, so CI is deterministic;
        # run with a random seed locally to explore (it found the afterVersion overflow).
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.base_url, headers=headers, timeout=20)
            if 200 <= response.status_code < 300:
                answered_2xx.add(case.operation.label)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert len(ran) >= 15, ran
    assert sorted(ran) == sorted(set(everything) - SKIP), "operations left out by the time budget"
    assert len(answered_2xx) >= 8, answered_2xx  # the key works: not everything was refused
    assert not failures, "\n\n".join(failures)
