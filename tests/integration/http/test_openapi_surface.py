"""The published API surface: operation ids, documented answers, the edits body, local docs."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


async def _schema(api) -> dict:  # type: ignore[no-untyped-def]
    r = await api.client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(schema: dict):  # type: ignore[no-untyped-def]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


async def test_operation_ids_are_explicit_unique_camel_case_names(api) -> None:
    ids = [op["operationId"] for _, _, op in _operations(await _schema(api))]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]+", i) for i in ids), ids
    assert not any(i.startswith("V1") or "JobId" in i for i in ids)
    assert {"jobsCancel", "jobsSubmit", "adminRevokeKey", "adminCreateKey"} <= set(ids)


async def test_error_codes_are_documented_where_they_can_happen(api) -> None:
    ops = {(p, m): op for p, m, op in _operations(await _schema(api))}
    for (path, method), op in ops.items():
        if path.startswith("/v1/"):
            assert {"401", "429", "503"} <= set(op["responses"]), (path, method)
        if path.startswith("/v1/") and "{" in path:
            assert "404" in op["responses"], (path, method)
    for path in ("/v1/jobs", "/v1/batches", "/v1/images/generations", "/v1/images/edits"):
        assert {"402", "409", "422"} <= set(ops[(path, "post")]["responses"]), path


async def test_the_edits_route_documents_its_multipart_body(api) -> None:
    edits = next(op for p, m, op in _operations(await _schema(api)) if p == "/v1/images/edits")
    form = edits["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"image", "prompt", "mask", "model", "n", "size"} <= set(form["properties"])
    assert form["properties"]["image"]["format"] == "binary" and "image" in form["required"]


async def test_docs_pages_load_their_assets_from_this_server_only(api) -> None:
    page = await api.client.get("/schema/swagger")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    assets = re.findall(r"""(?:src|href)=['"](/schema/assets/[^'"]+)['"]""", page.text)
    assert len(assets) >= 3
    for asset in assets:
        r = await api.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 100, asset
