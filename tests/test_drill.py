"""Crash drill: SIGKILL a training worker mid-epoch and the dashboard server, restart both, resume.

The run must complete, and no file finished before the crash may be lost or corrupt.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fer_core.jobs import DIED_REASON, JobManager
from fer_core.models.files import load_model_file
from tests.waiting import free_port, poll

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300.0


_poll = functools.partial(poll, timeout=TIMEOUT)


def _dashboard(home: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run dashboard/Home.py`` on a free port, once it answers its health check."""
    port = free_port()
    env = {**os.environ, "FER_STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
        except OSError:
            return False
    _poll(healthy, "the dashboard to answer", timeout=120, every=0.5)
    return proc, url


def _check_file(path: Path) -> None:
    """Open a run file the way the studio does: it must parse completely."""
    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".toml":
        tomllib.loads(path.read_text())
    elif path.suffix == ".keras":
        load_model_file(path)
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            [z[k] for k in z.files]


def _finished_files(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every complete file in a run folder (no locks, no temporary files)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run_dir.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def test_kill_worker_and_dashboard_mid_epoch_then_restart_and_resume(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    monkeypatch.setenv("FER_STUDIO_PROGRESS_DELAY", "0.05")  # time to land a kill inside an epoch
    dash, url = _dashboard(home)
    jm = JobManager(home, max_running=1)
    try:
        job = jm.submit({"name": "drill", "data": {"path": "synthetic:n=400"}, "model": {"name": "five_layer"},
                         "train": {"epochs": 4, "batch_size": 32}})
        run_dir = jm.store.get(job.run_id).path

        def mid_epoch_three():
            p = jm.progress(job.id)
            assert jm.get(job.id).status == "running", jm.log_tail(job.id)
            return p.get("phase") == "training" and p.get("epoch") == 3 and 0 < p.get("batch", 0) < p.get("batches", 0)
        _poll(mid_epoch_three, "the middle of epoch 3")
        before = _finished_files(run_dir)
        os.killpg(job.pid, signal.SIGKILL)
        os.killpg(dash.pid, signal.SIGKILL)
        dash.wait(30)

        # nothing finished before the crash is lost or corrupt
        assert {"config.toml", "run.json", "state.json", "checkpoint.keras", "history.json"} <= set(before)
        after = _finished_files(run_dir)
        assert after == before
        for name in after:
            _check_file(run_dir / name)
        assert json.loads((run_dir / "state.json").read_text())["epoch"] == 2

        # restart the dashboard, then the job: it continues from its checkpoint and completes
        dash, url = _dashboard(home)
        dead = _poll(lambda: (j := jm.get(job.id)).status != "running" and j, "the dead worker to be noticed")
        assert (dead.status, dead.error, dead.resumable) == ("failed", DIED_REASON, True)
        again = jm.resume(job.id)
        done = jm.wait(again.id, timeout=TIMEOUT, poll=0.2)
        assert done.status == "done", jm.log_tail(again.id)
        assert jm.progress(again.id)["first_epoch"] == 3
        run = jm.store.get(job.run_id)
        assert run.status == "done" and [h["epoch"] for h in run.history()] == [1, 2, 3, 4]
        for name in ("model.keras", "metrics.json", "predictions.npz", "history.json", "checkpoint.keras"):
            _check_file(run_dir / name)
        assert not [p for p in home.rglob("*") if ".tmp" in p.name]
        assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=5).read() == b"ok"
    finally:
        for j in jm.list():
            if j.status == "running" and j.pid:
                try:
                    os.killpg(j.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            os.killpg(dash.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
