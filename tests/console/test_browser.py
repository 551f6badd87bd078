"""The console in a real browser: Debian's chromium driven by Playwright, against tripl served by uvicorn on a
loopback port. Log in, open the seeded spike, see the band and the anomaly marker drawn, click "Mark false
positive" and read the change back from the API; screenshots of every page go to the test's tmp directory (and
to /work/wt/_shots when that folder's parent exists, for people to look at)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium (Debian package `chromium`; .ci/run installs it)")
EMAIL, PASSWORD = "owner@example.com", "correct-horse-1"


@pytest.fixture
def server(app) -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield port
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


def _shots(tmp_path: Path) -> tuple[Path, Path | None]:
    out = tmp_path / "shots"
    out.mkdir()
    shared = Path("/work/wt/_shots")
    return out, shared if shared.parent.exists() else None


def _login(page, base: str) -> None:
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_spike_band_markers_and_false_positive(scene, server, browser, tmp_path):
    base = f"http://127.0.0.1:{server}"
    out, shared = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/")
    assert "/ui/login" in page.url
    page.screenshot(path=str(out / "01-login.png"), full_page=True)
    _login(page, base)
    assert page.url == f"{base}/ui/"
    pages = [("02-projects", "/ui/"), ("03-overview", "/ui/projects/shop-app"),
             ("04-event", scene.url("event")), ("05-signal", scene.url("signal")),
             ("06-drift", scene.url("drift")), ("07-distribution-drift", scene.url("distribution_drift")),
             ("08-release", scene.url("release")), ("09-shadow", scene.url("shadow")),
             ("10-dead", scene.url("dead")), ("11-scan-job", scene.url("job")),
             ("12-scan-jobs", "/ui/projects/shop-app/scan-jobs"), ("13-inbox", "/ui/projects/shop-app/inbox")]
    for name, path in pages:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)

    page.goto(base + scene.url("signal"))
    chart = page.locator("svg.chart")
    assert chart.locator("polygon.band").count() >= 1  # the expected band
    assert chart.locator("circle.anomaly.spike").count() == 1  # the spike's bucket
    box = chart.locator("polygon.band").first.bounding_box()
    assert box is not None and box["width"] > 100  # drawn, not a degenerate polygon
    volume_row = page.locator("tr", has=page.locator("text=· volume"))
    volume_row.locator("button", has_text="Mark false positive").click()
    page.wait_for_load_state()
    assert page.url == base + scene.url("signal")
    assert volume_row.locator("[data-status]").inner_text() == "false_positive"
    api = page.request.get(f"{base}/api/v1/projects/shop-app/alerts/inbox").json()  # the browser's session
    group = next(g for g in api["items"] if g["kind"] == "volume")
    assert group["status"] == "false_positive" and group["false_positive_count"] == 1
    page.screenshot(path=str(out / "14-signal-after-false-positive.png"), full_page=True)
    if shared is not None:
        shared.mkdir(exist_ok=True)
        for png in out.glob("*.png"):
            shutil.copy(png, shared / png.name)


def test_login_works_on_localhost_too(scene, server, browser):
    """The cookie is host-only: signing in at 127.0.0.1 does not sign in localhost, but signing in there works
    (before, the printed URLs mixed both hosts and the session seemed lost)."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"http://localhost:{server}{scene.url('signal')}")
    assert "/ui/login" in page.url
    _login(page, f"http://localhost:{server}")
    assert page.url == f"http://localhost:{server}{scene.url('signal')}"
    assert page.locator("svg.chart circle.anomaly").count() == 1
    cookies = ctx.cookies()
    assert [c["domain"] for c in cookies] == ["localhost"]
