"""GET /console and its assets: caching headers, the CSP, and the routes the console added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from entrypoints.http.app import create_app
from entrypoints.http.console_assets import image_origins, security_headers
from entrypoints.settings import Settings
from tests.integration.http.conftest import Api

pytestmark = pytest.mark.integration



async def test_the_index_is_revalidated_and_names_hashed_assets(api: Api) -> None:
    res = await api.client.get("/console")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    assert res.headers["cache-control"] == "no-cache"
    names = re.findall(r'/console/assets/(app\.[0-9a-f]{12}\.(?:js|css))', res.text)
    assert {n.rsplit(".", 1)[1] for n in names} == {"js", "css"}
    assert "<script>" not in res.text and "style=" not in res.text  # nothing inline for the CSP


async def test_assets_are_immutable_for_a_year_and_typed(api: Api) -> None:
    index = (await api.client.get("/console")).text
    js = re.search(r'/console/assets/app\.[0-9a-f]{12}\.js', index).group(0)  # type: ignore[union-attr]
    css = re.search(r'/console/assets/app\.[0-9a-f]{12}\.css', index).group(0)  # type: ignore[union-attr]
    for path, media in ((js, "text/javascript"), (css, "text/css")):
        res = await api.client.get(path)
        assert res.status_code == 200
        assert res.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert res.headers["content-type"].startswith(media)
        assert res.headers["x-content-type-options"] == "nosniff"
    assert (await api.client.get("/console/assets/app.000000000000.js")).status_code == 404


async def test_the_csp_allows_only_the_own_origin(api: Api) -> None:
    res = await api.client.get("/console")
    csp = {d.split()[0]: d.split()[1:] for d in res.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "http://testserver.local"]  # /files/... of the embedded profile
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("env", "expected"), [
    ({"IMAGEGEN_CLOUDFRONT_DOMAIN": "d111.cloudfront.net"}, ["https://d111.cloudfront.net"]),
    ({"IMAGEGEN_S3_ENDPOINT_URL": "http://127.0.0.1:9000/"}, ["http://127.0.0.1:9000"]),
    ({"IMAGEGEN_S3_REGION": "eu-west-1"},
     ["https://pics.s3.amazonaws.com", "https://pics.s3.eu-west-1.amazonaws.com"]),
])
def test_production_img_src_is_the_configured_image_origin(env: dict[str, str], expected: list[str]) -> None:
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production", "IMAGEGEN_S3_BUCKET": "pics",
                                  "DATABASE_URL": "postgresql://x@127.0.0.1/x", **env})
    assert image_origins(settings) == expected
    img_src = next(d for d in security_headers(settings)["Content-Security-Policy"].split("; ")
                   if d.startswith("img-src"))
    assert img_src == "img-src 'self' " + " ".join(expected)


def test_the_console_is_served_by_the_production_app(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production", "IMAGEGEN_S3_BUCKET": "pics",
                                  "IMAGEGEN_CLOUDFRONT_DOMAIN": "cdn.example.com",
                                  "IMAGEGEN_CLOUDFRONT_SIGNED": "0",
                                  "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
                                  "IMAGEGEN_LEDGER_KEY": "k" * 32, "IMAGEGEN_HOME": str(tmp_path)})
    app = create_app(settings, run_worker=False, manage_container=False)  # no database needed
    with TestClient(app) as client:
        res = client.get("/console")
        assert res.status_code == 200
        assert "img-src 'self' https://cdn.example.com;" in res.headers["content-security-policy"]
        js = re.search(r'/console/assets/app\.[0-9a-f]{12}\.js', res.text).group(0)  # type: ignore[union-attr]
        assert client.get(js).status_code == 200


async def test_models_lists_the_catalog_with_prices(api: Api) -> None:
    headers = await api.key_for("models-user")
    assert (await api.client.get("/v1/models")).status_code == 401
    body = (await api.client.get("/v1/models", headers=headers)).json()
    by_id = {m["id"]: m for m in body["items"]}
    catalog = list(api.container.core.catalog())
    assert body["defaultModel"] == "local" and set(by_id) == {m.name for m in catalog}
    for spec in catalog:
        out = by_id[spec.name]
        assert out["provider"] == spec.provider and out["sizes"] == list(spec.sizes)
        assert out["creditsPerImage"] == spec.credits_per_image
        assert out["creditsPerImageHighRes"] == -(-spec.credits_per_image * 3 // 2)  # x1.5, up
        assert out["supportsEdit"] == spec.supports_edit and out["maxN"] == spec.max_n
        # no vendor keys in this environment: only the local renderer is usable
        assert out["available"] is (spec.provider == "local"), spec.name
    assert any(m["sizes"] for m in body["items"]) and by_id["local"]["sizes"] == []


async def test_an_uploaded_image_becomes_the_input_of_an_edit_job(api: Api) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "PNG")
    headers = await api.key_for("upload-user", credits=10)
    res = await api.client.post("/v1/uploads", headers=headers,
                                files={"image": ("in.png", buf.getvalue(), "image/png")})
    assert res.status_code == 201, res.text
    upload = res.json()
    assert (upload["width"], upload["height"], upload["contentType"]) == (64, 48, "image/png")
    job = await api.client.post("/v1/jobs", headers=headers, json={
        "prompt": "make it blue", "size": "64x48", "inputImageIds": [upload["id"]]})
    assert job.status_code == 201, job.text
    bad = await api.client.post("/v1/uploads", headers=headers,
                                files={"image": ("x.png", b"not an image", "image/png")})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "image"
    none = await api.client.post("/v1/uploads", headers=headers, data={"image": "text, not a file"},
                                 files={"other": ("o.txt", b"x", "text/plain")})
    assert none.status_code == 400 and none.json()["error"]["field"] == "image"


async def test_a_form_field_that_is_not_utf8_is_a_400_not_a_500(api: Api) -> None:
    # found by the schema fuzzer: Litestar decodes text fields before the handler runs
    headers = await api.key_for("upload-user-2")
    body = (b'--B\r\nContent-Disposition: form-data; name="note"\r\n\r\n\xfd\xfe\r\n--B--\r\n')
    res = await api.client.post("/v1/uploads", content=body,
                                headers={**headers, "content-type": "multipart/form-data; boundary=B"})
    assert res.status_code == 400 and res.json()["error"]["field"] == "body"


async def test_a_job_shows_its_status_timeline(api: Api) -> None:
    headers = await api.key_for("timeline-user", credits=10)
    created = (await api.client.post("/v1/jobs", headers=headers,
                                     json={"prompt": "a dot", "size": "64x64"})).json()
    await api.settle()
    job = (await api.client.get(f"/v1/jobs/{created['id']}", headers=headers)).json()
    assert job["status"] == "completed"
    statuses = [t["status"] for t in job["timeline"]]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert "generating" in statuses
    ats = [t["at"] for t in job["timeline"]]
    assert ats == sorted(ats)


async def test_the_openapi_document_lists_models_and_uploads_but_not_the_console(api: Api) -> None:
    paths = (await api.client.get("/schema/openapi.json")).json()["paths"]
    assert "/v1/models" in paths and "/v1/uploads" in paths
    assert not any(p.startswith("/console") for p in paths)


def test_the_wheel_carries_the_console_files() -> None:
    from importlib import resources

    folder = resources.files("entrypoints.http").joinpath("console")
    assert {"index.html", "app.js", "app.css", "icon.svg"} <= {p.name for p in folder.iterdir()}
