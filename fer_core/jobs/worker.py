"""The worker process of one job: ``python -m fer_core.jobs worker JOB_ID``."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

from ..errors import ClusterError
from ..io import atomic_write_json, remove_stale_temps
from ..run_files import PROGRESS_FILE, STOP_FLAG
from ..runs import now_iso
from .kinds import JobContext, _check_kind
from .liveness import _boot_id, _proc_stat
from .manager import JobManager

#: Seconds between SQLite progress writes (progress.json is rewritten at every event).
PROGRESS_DB_INTERVAL = 0.5
#: Seconds between heartbeat touches of a live worker.
HEARTBEAT_INTERVAL = 2.0
#: Test/demo hook: seconds the worker sleeps after each progress event (slows training down so a
#: test can watch it; unset or 0 in normal use).
DELAY_ENV = "FER_STUDIO_PROGRESS_DELAY"


class _Terminated(BaseException):
    """Raised in the worker by SIGTERM (sent after a cancel grace period, or by the user)."""


class _ProgressWriter:
    """Progress callback of a worker: progress.json at every event, the index at most every 0.5 s."""

    def __init__(self, jm: JobManager, job_id: str):
        self.jm, self.job_id = jm, job_id
        self.path = jm.jobs_dir / job_id / PROGRESS_FILE
        self.last_db = 0.0
        self.last_key: tuple[Any, Any] | None = None
        self.first_epoch: Any = None
        self.latest: dict[str, Any] | None = None
        self.delay = float(os.environ.get(DELAY_ENV) or 0)

    def __call__(self, event: Mapping[str, Any]) -> None:
        ev = dict(event)
        if self.first_epoch is None and ev.get("epoch"):  # the first epoch this worker trains
            self.first_epoch = ev["epoch"]
        ev.update(time=time.time(), job_id=self.job_id, first_epoch=self.first_epoch)
        atomic_write_json(self.path, ev)
        self.latest = ev
        key = (ev.get("phase"), ev.get("epoch"))
        if time.monotonic() - self.last_db >= PROGRESS_DB_INTERVAL or key != self.last_key:
            self.flush()
            self.last_key = key
        if self.delay > 0:
            time.sleep(self.delay)

    def flush(self) -> None:
        if self.latest is None:
            return
        with self.jm.store.connect(write=True) as con:
            con.execute("UPDATE jobs SET progress=? WHERE id=?", (json.dumps(self.latest, default=str), self.job_id))
        self.last_db = time.monotonic()


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            path.touch()
        stop.wait(HEARTBEAT_INTERVAL)


def run_worker(job_id: str, root: str | Path | None = None) -> int:
    """Body of ``python -m fer_core.jobs worker JOB_ID``: run one job and record its outcome.

    Returns the exit status: 0 when done (or when there was nothing to do), 1 when failed or cancelled.
    """
    jm = JobManager(root)
    me = os.getpid()
    st = _proc_stat(me)
    with jm._locked(job_id) as rec:
        other = rec["status"] == "running" and rec.get("pid") not in (None, me)
        if rec["status"] not in ("queued", "running") or other:
            print(f"job {job_id} is {rec['status']} (pid {rec.get('pid')}); nothing to do", flush=True)
            return 0
        rec.update(status="running", pid=me, pid_start=st[1] if st else None, boot_id=_boot_id(),
                   started=rec.get("started") or now_iso())
    folder = jm.jobs_dir / job_id
    run_id = rec.get("run_id")  # None for kinds that make no run (sweeps)
    for stale in (folder, *([jm.store.runs_dir / run_id] if run_id else [])):  # left by a worker killed mid-write
        remove_stale_temps(stale)
    cancel_flag, stop_flag = folder / "cancel", folder / STOP_FLAG
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(folder / "heartbeat", stop), daemon=True)
    beat.start()

    def on_sigterm(signum, frame):  # noqa: ARG001
        raise _Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    should_stop = cancel_flag.exists
    writer = _ProgressWriter(jm, job_id)
    status, error = "failed", None
    try:
        run = jm.store.update(run_id, status="running") if run_id else None
        print(f"{now_iso()} job {job_id}: {rec['kind']}{f' on run {run.id}' if run else ''} (pid {me})"
              + (f" on the Ray cluster at {rec['params']['ray_address']}"
                 if (rec.get("params") or {}).get("ray_address") else ""), flush=True)
        ctx = JobContext(job_id=job_id, run=run, resume=bool(rec.get("resume")), params=rec.get("params") or {},
                         progress=writer, should_stop=should_stop, stop_at_epoch_end=stop_flag.exists)
        result = _check_kind(rec["kind"]).fn(ctx)
        stopped = isinstance(result, dict) and result.get("stopped") == "cancelled"  # at an epoch's end, as asked
        status = "cancelled" if should_stop() or stopped else "done"
    except _Terminated:
        status = "cancelled" if should_stop() else "failed"
        error = "cancelled (stopped by SIGTERM)" if status == "cancelled" else "terminated by SIGTERM"
        print(f"{now_iso()} {error}", flush=True)
    except BaseException as exc:  # noqa: BLE001 - every outcome must be recorded
        traceback.print_exc()
        status = "cancelled" if should_stop() else "failed"
        error = (str(exc) if isinstance(exc, ClusterError)  # already one line saying what to do
                 else traceback.format_exception_only(type(exc), exc)[-1].strip())
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stop.set()
        with contextlib.suppress(Exception):
            writer.flush()
        if run_id and status != "failed" and (jm.store.runs_dir / run_id).is_dir():
            with contextlib.suppress(Exception):  # a cancelled training evaluates its best model; a paused one
                jm.store.refresh(run_id)          # has no test figures (an earlier finish's are cleared)
        # The run first, then the job: whoever sees the job finished also sees its run finished.
        if run_id:
            jm._set_run_status(run_id, status)
        with jm._locked(job_id) as rec:
            rec.update(status=status, error=error, finished=now_iso())
            if status == "failed":
                sys.stdout.flush()
                rec["log_tail"] = jm.log_tail(job_id, 20)
        print(f"{now_iso()} job {job_id}: {status}" + (f" ({error})" if error else ""), flush=True)
        with contextlib.suppress(Exception):
            jm.schedule()
    return 0 if status == "done" else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m fer_core.jobs worker JOB_ID [--root DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m fer_core.jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run one job (started by JobManager.schedule; not for direct use)")
    w.add_argument("job_id")
    w.add_argument("--root", default=None, help="data directory (default $FER_STUDIO_HOME)")
    args = parser.parse_args(argv)
    return run_worker(args.job_id, args.root)


