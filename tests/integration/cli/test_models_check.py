"""`imagegen models check` against a fake listing server on loopback, through the base-URL settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[2] / "fixtures" / "providers"
SDXL = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"


def _fixture(provider: str, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / f"{provider}.json").read_text())[name]["body"]


class Listing(BaseHTTPRequestHandler):
    """Each provider's listing, as the dated fixtures give them; `drop` removes entries."""

    drop: set[str] = set()
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        path = self.path.split("?", 1)[0]
        status, body = 404, {"detail": "Not found"}
        if path == "/openai/v1/models":
            status, body = 200, _fixture("openai", "models_list")
            body["data"] = [m for m in body["data"] if m["id"] not in self.drop]
        elif path == "/gemini/v1beta/models":
            status, body = 200, _fixture("gemini", "models_list")
            body["models"] = [m for m in body["models"] if m["name"].removeprefix("models/") not in self.drop]
        elif path == "/openrouter/api/v1/models":
            status, body = 200, _fixture("openrouter", "models_list")
            body["data"] = [m for m in body["data"] if m["id"] not in self.drop]
        elif path == "/replicate/v1/models/stability-ai/sdxl" and "stability-ai/sdxl" not in self.drop:
            status, body = 200, _fixture("replicate", "model_sdxl")
        elif path == "/replicate/v1/models/stability-ai/sdxl/versions":
            status, body = 200, _fixture("replicate", "versions_sdxl")
        elif path == "/replicate/v1/models/black-forest-labs/flux-schnell":
            status, body = 200, _fixture("replicate", "model_flux_schnell")
        elif path.startswith("/fal/fal-ai/flux/requests/"):
            status, body = 404, {"detail": "Request not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listing() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Listing.drop, Listing.seen = set(), []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def check(home: Path, base: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGEGEN_HOME": str(home), "IMAGEGEN_LOG_LEVEL": "warning",
           "OPENAI_API_KEY": "sk-test", "GEMINI_API_KEY": "gm-test",
           "OPENROUTER_API_KEY": "sk-or-test", "REPLICATE_API_TOKEN": "r8_test", "FAL_KEY": "fal-test",
           "IMAGEGEN_OPENAI_BASE_URL": f"{base}/openai/v1",
           "IMAGEGEN_GEMINI_BASE_URL": f"{base}/gemini/v1beta",
           "IMAGEGEN_OPENROUTER_BASE_URL": f"{base}/openrouter/api/v1",
           "IMAGEGEN_REPLICATE_BASE_URL": f"{base}/replicate/v1",
           "IMAGEGEN_FAL_QUEUE_URL": f"{base}/fal"}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", "models", "check"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_listing_with_every_catalog_model_passes(tmp_path: Path, listing: str) -> None:
    done = check(tmp_path, listing)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "every configured model is available" in done.stdout
    assert "gemini-3-pro-image" in done.stdout and "deprecated shutdown 2027-01-15" not in done.stdout
    assert any(p.startswith("/openai/v1/models") for p in Listing.seen)
    assert "/replicate/v1/models/stability-ai/sdxl/versions" in Listing.seen


def test_a_listing_that_lacks_the_catalogs_models_exits_1_and_names_them(tmp_path: Path,
                                                                         listing: str) -> None:
    Listing.drop = {"gpt-image-2.5-sunburst", "gemini-3.1-flash-image", "stability-ai/sdxl"}

    done = check(tmp_path, listing)

    assert done.returncode == 1, done.stdout + done.stderr
    missing = done.stdout.strip().splitlines()[-1]
    assert missing == "missing: gpt-image-2.5-sunburst, gemini-3.1-flash-image, sdxl"
    assert "gpt-image-2 " in done.stdout and "openai" in done.stdout


def test_models_list_shows_id_provider_upstream_price_sizes_edit_support_and_status(
        tmp_path: Path) -> None:
    env = {**os.environ, "IMAGEGEN_HOME": str(tmp_path), "IMAGEGEN_LOG_LEVEL": "warning"}
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli", "models", "list"], env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["MODEL", "PROVIDER", "UPSTREAM", "PRICE", "EDIT", "STATUS", "SIZES"]
    gpt = next(r for r in rows if r.startswith("gpt-image-2 "))
    assert "openai" in gpt and "$0.053/img +tokens" in gpt and "yes" in gpt and "current" in gpt
    assert "any WxH /16, 1:3..3:1, <=3840x2160" in gpt
    sdxl = next(r for r in rows if r.startswith("sdxl "))
    assert f"stability-ai/sdxl:{SDXL[:12]}" in sdxl
