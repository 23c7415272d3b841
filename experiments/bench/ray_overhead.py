"""What running a job on Ray costs against a local job, for the same quick configuration.

Starts a private Ray head on this machine (``ray start --head --block``: free ports, no
dashboard, a short temporary folder, all cores), then runs the same configuration as background
jobs, alternating local and Ray (``resources.cpus`` = all cores, so both train with the same
threads), ``--repeats`` times each, one job at a time, in a temporary studio home. For each job it
reports the wall time from submit to done (what a user waits for), the training time the engine
measured (sum of the epochs' seconds), and the difference: start-up, data loading and shipping,
evaluation and, for Ray, connecting, uploading the code, starting the actor and sending files
back. The head's own start-up (once per cluster) is reported apart.

Usage::

    .venv/bin/python experiments/bench/ray_overhead.py [--config experiments/synthetic_quick.toml]
        [--epochs N] [--repeats 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_head(cpus: int) -> tuple[subprocess.Popen, str, str, float]:
    """A Ray head in its own process group; (process, address, temp folder, start-up seconds)."""
    port, client = _free_port(), _free_port()
    temp = tempfile.mkdtemp(prefix="frb", dir="/tmp")
    log = Path(temp) / "head.log"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", f"--num-cpus={cpus}",
             "--include-dashboard=false", f"--temp-dir={temp}", f"--ray-client-server-port={client}",
             "--disable-usage-stats", "--block"],
            stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() - t0 > 300:
            raise SystemExit(f"the Ray head did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    return proc, f"127.0.0.1:{port}", temp, time.monotonic() - t0


def stop_head(proc: subprocess.Popen, temp: str) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    shutil.rmtree(temp, ignore_errors=True)


def run_job(jm, config: dict, address: str | None) -> dict:
    """Submit one job, wait for it; its wall time, the engine's epoch seconds and the overhead."""
    t0 = time.monotonic()
    job = jm.submit(config, params={"ray_address": address} if address else {})
    job = jm.wait(job.id, timeout=3600, poll=0.2)
    wall = time.monotonic() - t0
    if job.status != "done":
        raise SystemExit(f"job {job.id} {job.status}: {job.error}\n{jm.log_tail(job.id, 40)}")
    run = jm.store.get(job.run_id)
    epochs = sum(h["seconds"] for h in run.history())
    return {"where": "ray" if address else "local", "wall_s": round(wall, 1), "epochs_s": round(epochs, 1),
            "overhead_s": round(wall - epochs, 1), "test_accuracy": run.test_accuracy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "experiments" / "synthetic_quick.toml"))
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="fer_bench_ray_")
    os.environ["FER_STUDIO_HOME"] = home
    from fer_core.jobs import JobManager
    from fer_core.paths import machine_name
    from fer_core.training.config import apply_overrides, config_to_dict, load_config

    cpus = os.cpu_count() or 1
    cfg = load_config(args.config)
    cfg = apply_overrides(cfg, [f"resources.cpus={cpus}"] + ([f"train.epochs={args.epochs}"] if args.epochs else []))
    config = config_to_dict(cfg)
    proc, address, temp, head_s = start_head(cpus)
    rows = []
    try:
        jm = JobManager(home, max_running=1)
        for i in range(args.repeats):
            for where in ((None, address) if i % 2 == 0 else (address, None)):
                rows.append(run_job(jm, config, where))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        stop_head(proc, temp)
        shutil.rmtree(home, ignore_errors=True)

    def med(where: str, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["where"] == where)

    print(f"\n{cfg.name}, {cfg.train.epochs} epochs, {machine_name()}; Ray head start-up {head_s:.1f} s (once)\n")
    print("| where | wall (median) | training epochs | overhead |")
    print("| --- | --- | --- | --- |")
    for where in ("local", "ray"):
        print(f"| {where} | {med(where, 'wall_s'):.1f} s | {med(where, 'epochs_s'):.1f} s | {med(where, 'overhead_s'):.1f} s |")
    extra = med("ray", "wall_s") - med("local", "wall_s")
    print(f"\nRay costs {extra:+.1f} s per job ({extra / med('local', 'wall_s'):+.0%}) on this configuration.")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": cfg.name, "epochs": cfg.train.epochs, "machine": machine_name(),
                                               "head_startup_s": round(head_s, 1), "runs": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
