"""Every dashboard page in a real browser: `streamlit run dashboard/Home.py` + headless Chromium.

Uses Debian's `chromium` (installed here with apt when missing) driven by Playwright for Python
with ``executable_path`` (no browser download). Screenshots and the what-if latencies go to
``$FER_STUDIO_SCREENSHOTS`` when set, else to a temporary folder (never into the repository).
Skips with the reason when Chromium cannot be installed on this machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.waiting import free_port

ROOT = Path(__file__).resolve().parent.parent
SHOTS_ENV = "FER_STUDIO_SCREENSHOTS"
PAGES = [("", "FER Studio"), ("data", "Data"), ("train", "Train"), ("compare", "Compare"),
         ("explain", "Explain"), ("robustness", "Robustness"), ("predict", "Predict"), ("video", "Video")]
pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def _chromium() -> str:
    """Path of Debian's Chromium, installing it with apt-get when absent (root only)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and apt-get is not available to root here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"cannot install Debian's chromium ({' '.join(cmd)}): {done.stderr.strip()[-300:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but no chromium executable is on PATH")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard served by `streamlit run` on a free port, over a studio with one trained run
    (the Home page's first model, cut to 3 of its 10 epochs: the pages need a run, not a good one)."""
    from fer_core.runs import RunStore
    from fer_core.training.config import config_to_dict, load_config
    from fer_core.training.engine import train

    home = tmp_path_factory.mktemp("browser_home")
    store = RunStore(home)
    cfg = load_config(ROOT / "experiments" / "synthetic_quick.toml")  # the dashboard's first model
    cfg.train.epochs = 3  # all 10 took 3 min beside the other tests on a 2-core AVX2-only machine
    run = store.create(config_to_dict(cfg))
    train(cfg, run.path)
    store.refresh(run.id)
    store.update(run.id, status="done")

    yield from serve_dashboard(home)


def serve_dashboard(home: Path, **env: str):
    """`streamlit run dashboard/Home.py` on a free port over the studio ``home`` (extra environment
    ``env``); yields its URL, then stops it. A generator for module fixtures."""
    port = free_port()
    env = {**os.environ, "FER_STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {(home / 'streamlit.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: ``$FER_STUDIO_SCREENSHOTS``, else a temporary folder."""
    folder = Path(os.environ[SHOTS_ENV]) if os.environ.get(SHOTS_ENV) else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("path, title", PAGES, ids=[t for _, t in PAGES])
def test_page_renders_in_chromium(server, browser, shots, path, title):
    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    try:
        page.goto(f"{server}/{path}", wait_until="domcontentloaded", timeout=60_000)
        page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
        # Wait for the script run to finish: Streamlit marks the app root "notRunning".
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=180_000)
        # Charts and images arrive after the script run: wait until each is drawn.
        page.wait_for_timeout(1000)
        for i in range(page.locator('[data-testid="stPlotlyChart"]').count()):
            page.locator('[data-testid="stPlotlyChart"]').nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
        page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
                               timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / f"{path or 'home'}.png"), full_page=True)
        errors = page.locator('[data-testid="stException"]')
        assert errors.count() == 0, f"{title}: Streamlit exception box: {errors.first.inner_text()[:500]}"
        assert page.get_by_role("heading", name=title).first.is_visible()
    finally:
        page.close()


def test_robustness_slider_reruns_the_what_if_fragment(server, browser, shots):
    """A keyboard step on the Brightness slider redraws the edited face and its probabilities in the
    browser (a fragment rerun); the latencies seen by the browser go to whatif_browser.json in ``shots``."""
    import json

    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    try:
        page.goto(f"{server}/robustness", wait_until="domcontentloaded", timeout=60_000)
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=180_000)
        edited = page.locator('[data-testid="stImage"]').filter(has_text="edited").locator("img").first
        edited.wait_for(timeout=60_000)
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="Brightness").get_by_role("slider")
        slider.focus()
        latencies = []
        for _ in range(6):
            before = edited.get_attribute("src")
            t0 = time.perf_counter()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                """([before]) => { const im = Array.from(document.querySelectorAll('[data-testid="stImage"]'))
                     .find(e => e.innerText.includes('edited')); const img = im && im.querySelector('img');
                     return img && img.complete && img.getAttribute('src') !== before; }""",
                arg=[before], timeout=30_000)
            latencies.append(1000 * (time.perf_counter() - t0))
        # Streamlit's slider exposes its value as aria-valuetext (formatted, e.g. "0.30"); older
        # builds used aria-valuenow: accept either, compared as a number (six steps of 0.05)
        shown = slider.get_attribute("aria-valuenow") or slider.get_attribute("aria-valuetext")
        assert shown is not None and abs(float(shown) - 0.3) < 1e-6, shown
        assert page.get_by_text("What-if updated in").first.is_visible()
        assert page.get_by_role("button", name="Run the sweep").is_visible()  # the rest of the page stays
        assert page.locator('[data-testid="stException"]').count() == 0
        (shots / "whatif_browser.json").write_text(json.dumps(
            {"what": "Brightness slider key press -> edited face redrawn, ms (browser side)",
             "latencies_ms": [round(v, 1) for v in latencies]}, indent=1))
        print(f"what-if latency in the browser (ms): {[round(v) for v in latencies]}")
    finally:
        page.close()


def _listen_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.rsplit(":", 1)
                if state == "0A" and int(p, 16) == port:
                    found.add(addr)
    return found


def test_server_binds_localhost_only_and_hides_tracebacks(browser, tmp_path):
    """`streamlit run` from the project folder (README command 1) reads .streamlit/config.toml: it listens
    on 127.0.0.1 only, and a page that fails shows clients a message without the error's details."""
    script = tmp_path / "failing_page.py"
    script.write_text('import streamlit as st\nst.title("About to fail")\n'
                      'raise RuntimeError("secret detail /very/private/path")\n')
    port = free_port()
    env = {**os.environ, "FER_STUDIO_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    page = browser.new_page()
    try:
        deadline = time.monotonic() + 90
        while not _listen_addresses(port):
            assert time.monotonic() < deadline and proc.poll() is None, "streamlit did not start"
            time.sleep(0.5)
        time.sleep(1)
        assert _listen_addresses(port) == {"0100007F"}  # 127.0.0.1, no wildcard, no IPv6
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=60_000)
        page.get_by_role("heading", name="About to fail").wait_for(timeout=60_000)
        page.locator('[data-testid="stException"]').first.wait_for(timeout=60_000)
        text = page.locator('[data-testid="stApp"]').inner_text()
        assert "secret detail" not in text and "Traceback" not in text and "failing_page.py" not in text
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_predict_without_a_camera_says_so_and_uploads_still_work(server, browser):
    """Headless Chromium has no camera: turning the camera on shows the browser's request and our hint,
    never an error, and the uploader stays usable."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto(f"{server}/predict", wait_until="domcontentloaded", timeout=60_000)
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=180_000)
        page.get_by_text("Use the camera").click()
        camera = page.locator('[data-testid="stCameraInput"]')
        camera.wait_for(timeout=60_000)
        page.get_by_text("would like to use your camera").wait_for(timeout=60_000)
        page.get_by_text("No camera, or access denied?").wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stFileUploader"]').first.is_visible()
    finally:
        page.close()
