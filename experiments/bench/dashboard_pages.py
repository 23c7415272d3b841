"""Benchmark: server time of each dashboard page's script run, and of a robustness slider change.

    .venv/bin/python experiments/bench/dashboard_pages.py [--runs 5]

Trains the dashboard's first model (experiments/synthetic_quick.toml, a five-layer CNN, about a
minute) into a temporary FER_STUDIO_HOME, then runs every page with Streamlit's AppTest: the
first run fills the caches (model, dataset, predictions), the next ``--runs`` are timed. Targets:
< 1 s per page run with the model cached, < 200 ms for a slider change on Robustness. The
what-if section of Robustness is an ``st.fragment``: in the browser a slider change reruns only
it, and it times itself (``rob_whatif_ms``); AppTest has no fragment-only rerun, so the whole
page rerun after a slider change is reported too. ``tests/test_browser.py`` measures the same
change end to end in Chromium (``artifacts/whatif_browser.json``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PAGES = ["home", "data", "train", "compare", "explain", "robustness", "predict"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    os.environ["FER_STUDIO_HOME"] = tempfile.mkdtemp(prefix="fer_pages_")
    from streamlit.testing.v1 import AppTest

    from fer_core.runs import RunStore
    from fer_core.training.config import config_to_dict, load_config
    from fer_core.training.engine import train

    store = RunStore()
    cfg = load_config(ROOT / "experiments" / "synthetic_quick.toml")
    run = store.create(config_to_dict(cfg))
    t0 = time.perf_counter()
    train(cfg, run.path)
    store.refresh(run.id)
    store.update(run.id, status="done")
    print(f"trained {cfg.model.name} on {cfg.data.path} in {time.perf_counter() - t0:.0f} s")

    at = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=300)
    at.run()
    print(f"{'page':12s} {'first run (s)':>14s} {'median (s)':>11s} {'max (s)':>8s}")
    for page in PAGES:
        at.switch_page(f"views/{page}.py")
        t0 = time.perf_counter()
        at.run()
        first = time.perf_counter() - t0
        assert not at.exception, f"{page}: {at.exception}"
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
        print(f"{page:12s} {first:14.2f} {statistics.median(times):11.3f} {max(times):8.3f}")
    at.switch_page("views/robustness.py")
    at.run()
    times, fragment = [], []
    for k in range(args.runs * 2):
        at.slider(key="rob_brightness").set_value(round(-0.5 + 0.1 * k, 2))
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        fragment.append(at.session_state["rob_whatif_ms"] / 1000)
    for label, values in (("what-if fragment rerun (what a slider change runs in the browser)", fragment),
                          ("whole page script rerun (AppTest always reruns the page)", times)):
        print(f"robustness slider change, {label}: median {1000 * statistics.median(values):.0f} ms, "
              f"max {1000 * max(values):.0f} ms over {len(values)} changes")


if __name__ == "__main__":
    main()
