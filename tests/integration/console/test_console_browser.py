"""The web console in a real browser: Debian's Chromium, driven headless by Playwright.

A real `imagegen serve` (embedded profile, `local` provider with a little latency so progress
is visible) runs on a free port with its own IMAGEGEN_HOME. The test signs in, generates an
image, watches the progress bar reach 100 %, checks the image's natural size, then finds the
charge on the job page and in the credits ledger, and visits every other page. Screenshots of
each page go to `test-artifacts/console/` (or $IMAGEGEN_TEST_ARTIFACTS). Without Chromium the
test skips, unless IMAGEGEN_REQUIRE_SERVICES=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.services import unavailable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZE = 512


def _chromium() -> str:
    path = os.environ.get("IMAGEGEN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        unavailable("no Chromium installed (apt-get install chromium); the browser test needs it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package is not installed (uv sync)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _provision(home: Path) -> tuple[str, str]:
    """Keys of a user (with the 100 starter credits every new user gets) and of an admin, made
    before the server starts."""
    from entrypoints.container import build_container
    from entrypoints.settings import Settings

    container = build_container(Settings.from_env({"IMAGEGEN_HOME": str(home)}))
    await container.start(run_worker=False)
    try:
        user = await container.use_cases.create_api_key()("console-user")
        admin = await container.use_cases.create_api_key()("console-admin", admin=True)
        return user.secret, admin.secret
    finally:
        await container.close()


@dataclass
class Server:
    base_url: str
    user_key: str
    admin_key: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-home")
    port = _free_port()
    env = {**os.environ, "IMAGEGEN_HOME": str(home), "IMAGEGEN_PROFILE": "embedded",
           "IMAGEGEN_LOCAL_LATENCY_S": "1.5", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    env.pop("DATABASE_URL", None)
    env.pop("IMAGEGEN_DATABASE_URL", None)
    user_key, admin_key = asyncio.run(_provision(home))
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"imagegen serve did not start: {(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield Server(base_url=base, user_key=user_key, admin_key=admin_key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("IMAGEGEN_TEST_ARTIFACTS") or REPO / "test-artifacts") / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(server: Server) -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        problems: list[str] = []
        # Error statuses the console expects (a refused key, the admin probe) are logged as
        # "Failed to load resource"; anything else (a script error, a CSP refusal) is a problem.
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error"
               and not m.text.startswith("Failed to load resource") else None)
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.problems = problems  # type: ignore[attr-defined]
        try:
            yield tab
        finally:
            browser.close()


def _ready(page: Any, name: str) -> None:
    page.wait_for_selector(f"main[data-ready='{name}']")
    assert page.locator("main[data-failed]").count() == 0, page.inner_text("main")


def _unlabelled_fields(page: Any) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('main input, main select, main textarea')]
        .filter(el => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
        .map(el => el.id || el.name || el.outerHTML)""")


def _sign_in(page: Any, server: Server, key: str) -> None:
    page.goto(f"{server.base_url}/console")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    _ready(page, "playground")


def test_sign_in_generate_watch_and_find_the_charge(page: Any, server: Server, artifacts: Path) -> None:
    started = time.monotonic()
    page.goto(f"{server.base_url}/console")
    _ready(page, "signin")
    page.screenshot(path=artifacts / "signin.png")
    page.get_by_label("API key").fill("ig_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=That key was not accepted.")
    _sign_in(page, server, server.user_key)
    assert _unlabelled_fields(page) == []

    page.get_by_label("Prompt").fill("a lighthouse at dusk, oil painting")
    page.locator("#size").fill(f"{SIZE}x{SIZE}")
    page.get_by_label("Images (n)").fill("1")
    page.get_by_label("Seed").fill("7")
    assert page.locator("#estimate").inner_text().startswith("Estimate: 1 credit (")
    page.get_by_role("button", name="Generate").click()

    seen: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = page.evaluate("() => document.querySelector('#job-progress')?.value ?? null")
        if value is not None and (not seen or seen[-1] != value):
            seen.append(int(value))
        if seen and seen[-1] == 100:
            break
        time.sleep(0.05)
    assert seen and seen[-1] == 100, (seen, page.inner_text("main"), page.problems)
    assert min(seen) < 100, f"the bar never showed the job unfinished: {seen}"
    page.wait_for_selector("#watch[data-status='completed']")
    assert "completed" in page.locator("#progress-text").inner_text()

    page.wait_for_function("""() => { const img = document.querySelector('#job-images img');
        return img && img.complete && img.naturalWidth > 0; }""")
    natural = page.evaluate("""() => { const img = document.querySelector('#job-images img');
        return [img.naturalWidth, img.naturalHeight]; }""")
    assert natural == [SIZE, SIZE]
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "playground.png")
    if os.environ.get("IMAGEGEN_CONSOLE_DOCS_SCREENSHOT"):  # refresh docs/console-playground.png
        page.screenshot(path=REPO / "docs" / "console-playground.png")
    job_id = page.locator("#watch h2 a").inner_text()

    page.locator("#watch h2 a").click()
    _ready(page, "job")
    facts = dict(zip(page.locator("#job-facts dt").all_inner_texts(),
                     page.locator("#job-facts dd").all_inner_texts(), strict=True))
    assert facts.get("Credits estimated") == "1" and facts.get("Credits charged") == "1", (facts, page.inner_text("main"))
    assert facts["Attempts"] == "1" and facts["Failure class"] == "—"
    timeline = page.locator("#job-timeline li").all_inner_texts()
    assert timeline[0].startswith("queued") and timeline[-1].startswith("completed")
    page.wait_for_function("() => document.querySelector('#job-images img')?.naturalWidth > 0")
    page.screenshot(path=artifacts / "job.png", full_page=True)

    page.get_by_role("link", name="Credits").click()
    _ready(page, "credits")
    rows = page.locator("#ledger tbody tr").all_inner_texts()
    charge = [r for r in rows if "reservation captured" in r and job_id in r]
    assert charge, rows
    assert "\t1\t" in charge[0]
    assert page.locator("#balance .card .value").first.inner_text() == "99"  # 100 starter credits - 1
    page.screenshot(path=artifacts / "credits.png", full_page=True)

    # Cancel a running job, then retry it: the retry is watched to completion in its place.
    page.get_by_role("link", name="Playground").click()
    _ready(page, "playground")
    page.get_by_label("Prompt").fill("a job to cancel")
    page.locator("#size").fill("64x64")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_selector("#watch h2 a")
    cancelled_id = page.locator("#watch h2 a").inner_text()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("#watch[data-status='cancelled']")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_function(f"() => document.querySelector('#watch h2 a').textContent !== '{cancelled_id}'")
    page.wait_for_selector("#watch[data-status='completed'] #job-images img")
    assert page.locator("#job-progress").evaluate("el => el.value") == 100

    for name, check in (("jobs", "#jobs-list tbody tr"), ("gallery", "#gallery img"),
                        ("stats", "#stats-charts svg"), ("webhooks", "#webhook-endpoints")):
        page.get_by_role("link", name=name.capitalize()).click()
        _ready(page, name)
        page.wait_for_selector(check)
        assert _unlabelled_fields(page) == [], name
        if name == "webhooks":
            page.get_by_label("URL").fill("https://127.0.0.1:9/imagegen-hook")
            page.get_by_role("button", name="Add endpoint").click()
            assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
            page.wait_for_selector("#webhook-endpoints td:has-text('https://127.0.0.1:9/imagegen-hook')")
        if name == "gallery":
            page.wait_for_function("""() => { const all = [...document.querySelectorAll('#gallery img')];
                return all.length === 2 && all.every(i => i.complete && i.naturalWidth > 0); }""")
            widths = page.evaluate("() => [...document.querySelectorAll('#gallery img')].map(i => i.naturalWidth)")
            assert widths == [64, SIZE]  # the retried job (newest first), then the first one
        page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert page.problems == []  # type: ignore[attr-defined]  # no script error, no CSP refusal
    print(f"browser walk-through took {time.monotonic() - started:.1f} s")


def test_admin_grants_credits_and_pages_read_at_phone_width(page: Any, server: Server,
                                                            artifacts: Path) -> None:
    _sign_in(page, server, server.admin_key)
    page.get_by_role("link", name="Admin").click()
    _ready(page, "admin")
    assert _unlabelled_fields(page) == []
    page.locator("#grant-user").fill("console-user")
    page.locator("#grant-amount").fill("25")
    page.get_by_role("button", name="Grant", exact=True).click()
    page.wait_for_selector("text=console-user now has")
    page.wait_for_selector("#admin-balances td:has-text('console-user')")
    page.locator("#keys-user").fill("console-user")
    page.get_by_role("button", name="List keys").click()
    page.wait_for_selector("#keys-list table, #keys-list .error")  # the ops routes may be absent
    page.screenshot(path=artifacts / "admin.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("playground", "jobs", "credits", "admin"):
        page.goto(f"{server.base_url}/console#/{name}")
        _ready(page, name)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at phone width by {overflow}px"
    page.goto(f"{server.base_url}/console#/playground")
    _ready(page, "playground")
    page.screenshot(path=artifacts / "playground-phone.png", full_page=True)

    page.reload()
    _ready(page, "playground")
    page.keyboard.press("Tab")  # the skip link comes first, then the brand and the navigation
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    hrefs = []
    for _ in range(8):
        page.keyboard.press("Tab")
        hrefs.append(page.evaluate("() => document.activeElement.getAttribute('href')"))
    assert hrefs[1:8] == ["#/playground", "#/jobs", "#/gallery", "#/credits", "#/stats",
                          "#/webhooks", "#/admin"], hrefs
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past "Sign out": the first form field
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    assert page.problems == []  # type: ignore[attr-defined]


def _png(width: int, height: int, color: str, mode: str = "RGB") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def test_an_edit_with_image_and_mask_then_a_follow_up_on_its_parent(page: Any, server: Server) -> None:
    created = httpx.post(f"{server.base_url}/v1/webhooks/endpoints", json={
        "url": "https://127.0.0.1:9/edit-hook"}, headers={"Authorization": f"Bearer {server.user_key}"})
    assert created.status_code == 201, created.text
    _sign_in(page, server, server.user_key)
    page.get_by_label("Prompt").fill("paint the sky red")
    page.locator("#size").fill("96x64")
    page.get_by_label("Input image").set_input_files(
        {"name": "in.png", "mimeType": "image/png", "buffer": _png(96, 64, "navy")})
    page.get_by_label("Mask").set_input_files(
        {"name": "mask.png", "mimeType": "image/png", "buffer": _png(96, 64, (0, 0, 0, 0), "RGBA")})
    page.get_by_role("button", name="Generate").click()
    page.wait_for_selector("#watch[data-status='completed'] #job-images img")
    page.locator("#watch h2 a").click()
    _ready(page, "job")
    facts = dict(zip(page.locator("#job-facts dt").all_inner_texts(),
                     page.locator("#job-facts dd").all_inner_texts(), strict=True))
    assert facts["Kind"] == "edit" and facts["Size"] == "96x64"
    edit_id = page.locator("h1 .mono").inner_text()

    page.get_by_role("link", name="Edit further (as parent)").click()
    _ready(page, "playground")
    assert page.get_by_label("Parent job").input_value() == edit_id
    page.get_by_label("Prompt").fill("now add a moon")
    page.locator("#size").fill("96x64")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_selector("#watch[data-status='completed'] #job-images img")
    page.locator("#watch h2 a").click()
    _ready(page, "job")
    facts = dict(zip(page.locator("#job-facts dt").all_inner_texts(),
                     page.locator("#job-facts dd").all_inner_texts(), strict=True))
    assert facts["Parent job"] == edit_id

    page.get_by_role("link", name="Jobs").click()
    _ready(page, "jobs")
    page.get_by_label("Status").select_option("completed")
    page.wait_for_url("**#/jobs?status=completed")
    _ready(page, "jobs")
    statuses = [r.split("\t")[1] for r in page.locator("#jobs-list tbody tr").all_inner_texts()]
    assert len(statuses) >= 2 and set(statuses) == {"completed"}, statuses

    # The endpoint made at the start got these jobs' events; its host refuses them.
    deadline = time.monotonic() + 20
    while True:
        page.goto(f"{server.base_url}/console#/webhooks")
        page.reload()
        _ready(page, "webhooks")
        tried = page.locator("#webhook-deliveries tbody tr").filter(
            has_not=page.locator("td:nth-child(4)", has_text=re.compile(r"^0$")))
        if tried.locator("button:has-text('Attempts')").count():
            break
        assert time.monotonic() < deadline, "no webhook delivery was attempted"
        time.sleep(1)
    tried.locator("button:has-text('Attempts')").first.click()
    page.wait_for_selector("#delivery-attempts tbody tr")
    assert page.locator("#delivery-attempts tbody tr").first.inner_text().split("\t")[-1] == "no"
    assert page.problems == []  # type: ignore[attr-defined]


def test_previews_and_eta_from_the_stream_are_shown(page: Any, server: Server) -> None:
    """The SSE parser against a hand-written stream (CRLF, a comment, a multi-line event),
    including the `preview` event whose `previewUrl` the console shows as it arrives."""
    headers = {"Authorization": f"Bearer {server.user_key}"}
    images = httpx.get(f"{server.base_url}/v1/jobs?status=completed&limit=1", headers=headers).json()
    job = httpx.get(f"{server.base_url}/v1/jobs/{images['items'][0]['id']}", headers=headers).json()
    url = httpx.get(f"{server.base_url}/v1/images/{job['images'][0]['id']}", headers=headers).json()["url"]
    fake = {**job, "id": "job_streamed", "status": "generating", "progress": {"percent": 40,
            "step": "Rendering"}, "queuePosition": 0, "etaSeconds": 3, "images": [], "error": None}
    status = ('{"jobId": "job_streamed", "status": "generating",\r\ndata: "progressPercent": 40, '
              '"step": "Rendering", "occurredAt": "2026-12-01T00:00:00Z", "terminal": false}')
    stream = (": keep-alive\r\n\r\nevent: status\r\nid: 1\r\ndata: " + status + "\r\n\r\n"
              'event: preview\ndata: {"jobId": "job_streamed", "previewUrl": "' + url + '"}\n\n')
    _sign_in(page, server, server.user_key)
    page.route("**/v1/jobs/job_streamed/events", lambda route: route.fulfill(
        status=200, body=stream, headers={"content-type": "text/event-stream"}))
    page.route("**/v1/jobs/job_streamed", lambda route: route.fulfill(
        status=200, json=fake))
    page.goto(f"{server.base_url}/console#/playground?job=job_streamed")
    page.wait_for_function("() => document.querySelector('#previews img')?.naturalWidth > 0")
    assert page.locator("#job-progress").evaluate("el => el.value") == 40
    page.wait_for_selector("#progress-text:has-text('ETA 3 s')")
    assert "Rendering" in page.locator("#progress-text").inner_text()
    assert page.problems == []  # type: ignore[attr-defined]


def test_admin_key_management_speaks_the_admin_keys_contract(page: Any, server: Server) -> None:
    """The Admin page against the /v1/admin/keys shapes (answered here by the test, so the
    console's side of the contract is checked whether or not this build has the routes)."""
    import json

    key = {"id": "key_1", "userId": "console-user", "prefix": "ig_abcd", "state": "active",
           "createdAt": "2026-12-01T00:00:00Z"}
    seen: list[tuple[str, str, Any]] = []

    def answer(route: Any) -> None:
        request = route.request
        body = json.loads(request.post_data) if request.post_data else None
        seen.append((request.method, request.url.split("/v1/admin/keys", 1)[1], body))
        if request.method == "GET":
            route.fulfill(json={"items": [key]})
        elif request.url.endswith("/rotate"):
            route.fulfill(status=201, json={**key, "id": "key_2", "secret": "ig_rotated_secret"})
        elif request.url.endswith("/revoke"):
            route.fulfill(json={**key, "state": "revoked"})
        else:
            route.fulfill(status=201, json={**key, "id": "key_3", "secret": "ig_created_secret"})

    _sign_in(page, server, server.admin_key)
    page.route(re.compile(r".*/v1/admin/keys.*"), answer)
    page.get_by_role("link", name="Admin").click()
    _ready(page, "admin")
    page.locator("#keys-user").fill("console-user")
    page.get_by_role("button", name="List keys").click()
    page.wait_for_selector("#keys-list td:has-text('key_1')")
    page.get_by_role("button", name="Rotate key_1").click()
    page.wait_for_selector(".secret:has-text('ig_rotated_secret')")
    page.get_by_role("button", name="Revoke key_1").click()
    page.locator("#keys-admin").check()
    page.get_by_role("button", name="Create a key").click()
    page.wait_for_selector(".secret:has-text('ig_created_secret')")
    calls = [(m, path, body) for m, path, body in seen if m == "POST"]
    assert calls == [("POST", "/key_1/rotate", None), ("POST", "/key_1/revoke", None),
                     ("POST", "", {"userId": "console-user", "admin": True})]
    assert ("GET", "?userId=console-user", None) in seen
    assert page.problems == []  # type: ignore[attr-defined]


def test_streamed_previews_of_a_real_job_are_shown(page: Any, server: Server) -> None:
    """`local-stream` sends partial images over SSE (`preview` events) before the result."""
    _sign_in(page, server, server.user_key)
    page.get_by_label("Model").select_option("local-stream")
    page.get_by_label("Prompt").fill("a streamed lighthouse")
    page.locator("#size").fill("128x128")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_selector("#watch[data-status='completed'] #job-images img")
    page.wait_for_function("""() => { const all = [...document.querySelectorAll('#previews img')];
        return all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0); }""")
    assert page.problems == []  # type: ignore[attr-defined]
