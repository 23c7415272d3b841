"""The Live page in a real browser: Chromium's fake camera plays a y4m file made here (a drawn face
moving), the stream goes to `streamlit run` over WebRTC with no STUN/TURN server, and labelled
frames come back; the page never asks the internet for anything. Without a camera the page says so.

Uses the bundled model the repository ships and the helpers of tests/test_browser.py.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from fer_core.video.synthetic import moving_faces, write_y4m
from tests.conftest import SHIPPED_SHELF
from tests.test_browser import CHROMIUM_ARGS, _chromium, serve_dashboard

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not (SHIPPED_SHELF / "manifest.json").is_file(), reason="no bundled model shipped")]
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """`streamlit run dashboard/Home.py` over the shipped bundled models and an empty studio."""
    home = tmp_path_factory.mktemp("live_home")
    for url in serve_dashboard(home, FER_STUDIO_PRETRAINED=str(SHIPPED_SHELF)):
        yield url, home


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """Two seconds of 640x480 at 15 fps: one drawn face moving right (Chromium loops the file)."""
    return write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m",
                     moving_faces(30, faces=1, side=180, step=6, expressions=("happy",)), fps=15)


def _launch(*flags: str):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=_chromium(), headless=True, args=[*CHROMIUM_ARGS, *flags])


VIEWPORT = {"width": 1300, "height": 1600}


def _open_live(browser, url: str):
    """The Live page, ready to START, in a new page of ``browser`` (or of a browser context)."""
    page = browser.new_page(viewport=VIEWPORT) if hasattr(browser, "new_context") else browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{url}/live", wait_until="domcontentloaded", timeout=60_000)
    page.get_by_role("heading", name="Live").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=180_000)
    frame = page.frame_locator('iframe[title*="webrtc"]')
    start = frame.get_by_role("button", name=re.compile("start", re.I))
    start.wait_for(timeout=60_000)
    return page, frame, start, requests


def _external(requests: list[str], url: str) -> list[str]:
    host = urlparse(url).hostname
    return [r for r in requests if urlparse(r).scheme not in LOCAL_SCHEMES and urlparse(r).hostname not in (host, "127.0.0.1")]


def _green_pixels(png: bytes) -> int:
    """Pixels of a screenshot within 50 levels of the annotation colour (40, 220, 40) in every channel."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(np.all(np.abs(rgb - (40, 220, 40)) < 50, axis=2).sum())


def test_live_page_labels_the_fake_camera_offline(live_server, camera_file):
    url, home = live_server
    pw, browser = _launch("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                          f"--use-file-for-fake-video-capture={camera_file}")
    try:
        page, frame, start, requests = _open_live(browser, url)
        start.click()
        # the fragment reports frames processed with a face labelled "1: <emotion> NN%"
        # (once frames flow: the rate is measured over the last 2 s, 0.0 while the model warms up)
        # (ids grow: Chromium loops the 2 s file, so the face jumps back and comes in as a new one)
        status = page.get_by_text(re.compile(r"Live: \d+ frames processed, (?!0\.0 )[\d.]+ fps, [1-9] face\(s\) — \d+: \w+ \d+%"))
        status.first.wait_for(timeout=300_000)  # the first frames warm the model up (minutes on a busy machine)
        fps = float(re.search(r"([\d.]+) fps", status.first.inner_text()).group(1))
        assert fps > 0
        # the returned video shows the box colour (40, 220, 40) drawn by the server; on a busy machine
        # the player can lag the status text by seconds, so look at it a few times
        video = frame.locator("video").first
        seen = []
        for _ in range(20):
            page.wait_for_timeout(1500)  # let a few annotated frames arrive
            seen.append(_green_pixels(video.screenshot()))
            if seen[-1] > 200:
                break
        assert seen[-1] > 200, f"no annotation colour on the returned video (green pixels per look: {seen})"
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=30_000)  # the rolling chart
        assert page.locator('[data-testid="stException"]').count() == 0
        assert _external(requests, url) == [], _external(requests, url)
        print(f"live page in Chromium with the fake camera: {fps:.1f} fps shown")
    finally:
        browser.close()
        pw.stop()


def test_live_page_without_a_camera_says_so(live_server):
    """Access granted but no device: the player shows the browser's error name, the page's caption
    says what it means (the refused permission is the next test)."""
    url, _ = live_server
    error = "NotFoundError"
    pw, browser = _launch("--use-fake-ui-for-media-stream")
    try:
        page, frame, start, _ = _open_live(browser, url)
        start.click()
        frame.get_by_text(error).first.wait_for(timeout=60_000)
        assert page.get_by_text(re.compile(f"{error}.*(no camera found|camera access denied)")).first.is_visible()
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        browser.close()
        pw.stop()


def test_live_page_with_camera_access_denied_says_so(live_server, camera_file):
    """A camera exists but the page may not use it (the permission is refused): NotAllowedError in the
    player, the caption says what it means and what to do, and the page raises nothing."""
    url, _ = live_server
    pw, browser = _launch("--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera_file}")
    try:
        context = browser.new_context(permissions=[], viewport=VIEWPORT)  # no camera permission: refused
        page, frame, start, _ = _open_live(context, url)
        start.click()
        frame.get_by_text(re.compile("NotAllowedError|Permission denied|Permission dismissed")).first.wait_for(
            timeout=60_000)
        assert page.get_by_text(re.compile("NotAllowedError.*camera access denied")).first.is_visible()
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        browser.close()
        pw.stop()
