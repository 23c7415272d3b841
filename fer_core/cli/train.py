"""Training: ``train CONFIG`` in the foreground and background ``jobs``.

    python -m fer_core train experiments/synthetic_quick.toml
    python -m fer_core train CONFIG --run-dir runs/x [--resume] [--epochs N] [--set train.lr=0.01]
    python -m fer_core jobs [list] [--json [OUT]]
    python -m fer_core jobs show ID | cancel ID | resume ID | submit CONFIG [--set k=v] [--wait]
    python -m fer_core jobs submit CONFIG --ray HOST:PORT       # on a Ray cluster ($RAY_ADDRESS too)

Without ``--run-dir`` a foreground run is registered in the run store (``fer_core.runs``) like a
dashboard run, so it shows up in the dashboard. Ctrl-C stops cleanly after the current batch
(the best model so far is evaluated and kept; ``--resume`` continues); a second Ctrl-C aborts.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ..jobs.progress import job_progress_text
from .common import add_json_option, add_list_command, add_where_options, emit_json, fmt, table

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")


def cmd_train(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..training.config import apply_overrides, config_to_dict, load_config

    cfg = load_config(args.config)
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    if args.resume and not args.run_dir:
        raise ConfigError("--resume needs --run-dir: the folder of the run to continue.")

    from ..remote import resolve_address

    address = resolve_address(args.ray, local=args.local)
    store = run = None
    if args.run_dir:
        run_dir = Path(args.run_dir)
    else:
        from ..runs import RunStore

        store = RunStore()
        run = store.create(config_to_dict(cfg), status="running")
        run_dir = run.path
    print(f"run folder: {run_dir}", flush=True)

    stop = {"requested": False}

    def on_sigint(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        print("\nstopping after this batch (Ctrl-C again to abort)...", file=sys.stderr, flush=True)

    old = signal.signal(signal.SIGINT, on_sigint)
    tty = sys.stdout.isatty()
    try:
        if address:
            from ..remote.driver import train_on_ray

            print(f"on the Ray cluster at {address}", flush=True)
            metrics = train_on_ray(cfg, run_dir, address, progress=None if args.quiet else _printer(tty),
                                   resume=args.resume, should_stop=lambda: stop["requested"])
            if metrics is None:
                raise KeyboardInterrupt  # stopped before the cluster started it
        else:
            from ..training.engine import train

            metrics = train(cfg, run_dir, progress=None if args.quiet else _printer(tty),
                            resume=args.resume, should_stop=lambda: stop["requested"])
    except BaseException:
        if store is not None:
            store.update(run.id, status="failed")
        raise
    finally:
        signal.signal(signal.SIGINT, old)
    if store is not None:
        store.update(run.id, status="cancelled" if metrics["stopped"] == "cancelled" else "done",
                     test_accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"])
    print(f"{metrics['stopped']} after {metrics['epochs_completed']} epoch(s); best epoch "
          f"{metrics['best_epoch']}; {metrics['eval_split']} accuracy {metrics['accuracy']:.4f}, "
          f"macro F1 {metrics['macro_f1']:.4f} on {metrics['n_test']} images"
          + (f" with {metrics['tta']} TTA ({metrics['accuracy_no_tta']:.4f} without)"
             if metrics.get("tta", "none") != "none" else "")
          + (" (synthetic data)" if metrics.get("synthetic") else ""))
    print(f"wrote {run_dir}/metrics.json, model.keras, predictions.npz")
    return 0


def _printer(tty: bool):
    def show(ev: dict) -> None:
        phase = ev["phase"]
        if ev.get("event") == "epoch_end":
            h = ev["history"][-1] if ev["history"] else {}
            line = (f"epoch {ev['epoch']}/{ev['epochs']}: loss {h.get('loss', 0):.4f} acc {h.get('accuracy', 0):.4f} "
                    f"val_loss {h.get('val_loss', 0):.4f} val_acc {h.get('val_accuracy', 0):.4f} "
                    f"lr {h.get('lr', 0):.3g} {h.get('seconds', 0):.1f}s ({h.get('images_per_s', 0):.0f} img/s)")
            print(("\r" if tty else "") + line.ljust(100), flush=True)
        elif phase == "training":
            if tty:
                eta = ev.get("eta_s")
                print(f"\repoch {ev['epoch']}/{ev['epochs']} batch {ev['batch']}/{ev['batches']} "
                      f"loss {ev['loss'] or 0:.4f} acc {ev['accuracy'] or 0:.4f} "
                      f"{ev.get('images_per_s') or 0:.0f} img/s"
                      + (f" eta {eta / 60:.1f} min" if eta is not None else ""), end="", flush=True)
        elif ev.get("message"):
            print(("\r" if tty else "") + f"[{phase}] {ev['message']}", flush=True)
    return show


# ---------------------------------------------------------------------------------- jobs
def _manager(args: argparse.Namespace):
    from ..jobs import JobManager

    return JobManager(max_running=getattr(args, "max_running", None))


def cmd_jobs_list(args: argparse.Namespace) -> int:
    jobs = _manager(args).list(status=args.status)
    if emit_json(args, [j.to_dict() for j in jobs]):
        return 0
    if not jobs:
        print("no jobs yet: `python -m fer_core jobs submit CONFIG.toml` starts one")
        return 0
    print(table([[j.id, j.kind, j.run_id or (f"sweep {j.sweep_id}" if j.sweep_id else "-"),
                  j.status_text + (" (resumable)" if j.resumable else "")
                  + (" (pausing at the epoch's end)" if j.stop_requested and j.status == "running" else ""),
                  job_progress_text(j.progress, j.status, detail=True)] for j in jobs],
                ["id", "kind", "run", "status", "progress"]))
    return 0


def _show(jm, job_id: str, args: argparse.Namespace, n_log: int = 20) -> int:
    job = jm.get(job_id)
    prog = jm.progress(job_id)
    info = job.to_dict() | {"progress": {k: v for k, v in prog.items() if k != "history"},
                            "heartbeat_age_s": job.heartbeat_age, "log_tail": jm.log_tail(job_id, n_log)}
    if emit_json(args, info):
        return 0
    for key in ("id", "kind", "run_id", "status", "paused", "resumable", "created", "started", "finished", "pid",
                "resume", "ray_address", "sweep_id", "error"):
        print(f"{key:>10}: {info[key]}")
    print(f"{'progress':>10}: {job_progress_text(prog, job.status, detail=True)}")
    print(f"--- last {n_log} log lines ---\n{info['log_tail']}")
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    return _show(_manager(args), args.job_id, args)


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    job = _manager(args).cancel(args.job_id, wait=args.wait, at_epoch_end=args.at_epoch_end)
    if not emit_json(args, job.to_dict()):
        extra = ""
        if job.status == "running":
            extra = (" (it pauses when the epoch under way ends and is saved; `jobs resume` goes on, and the test "
                     "split is evaluated when the run finishes)" if args.at_epoch_end
                     else " (cancel flag raised; the worker stops at its next check)")
        print(f"job {job.id}: {job.status_text}{extra}")
    return 0


def _follow(jm, job_id: str, timeout: float | None) -> int:
    last = None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job, prog = jm.get(job_id), jm.progress(job_id)
        line = job_progress_text(prog, job.status, detail=True)
        if line != last and prog and job.status == "running":
            print(f"  {line}", flush=True)
            last = line
        if job.status in ("done", "failed", "cancelled"):
            print(f"job {job.id}: {job.status_text}" + (f" ({job.error})" if job.error else ""))
            if job.status == "done" and job.run_id:
                run = jm.store.get(job.run_id)
                print(f"run {run.id}: test accuracy {fmt(run.test_accuracy)}, macro-F1 {fmt(run.macro_f1)}")
            return 0 if job.status == "done" else 1
        if deadline is not None and time.monotonic() > deadline:
            print(f"still {job.status} after {timeout} s; follow with `python -m fer_core jobs show {job_id}`")
            return 1
        time.sleep(1.0)


def _where_params(args: argparse.Namespace) -> dict[str, Any]:
    """``{"ray_address": ...}`` from ``--ray`` / ``--local`` / ``$RAY_ADDRESS`` ({} for a local job)."""
    from ..remote import resolve_address

    address = resolve_address(args.ray, local=args.local)
    return {"ray_address": address} if address else {}


def cmd_jobs_resume(args: argparse.Namespace) -> int:
    jm = _manager(args)
    params = None
    if args.ray or args.local:
        params = _where_params(args) or {"ray_address": None}
    job = jm.resume_job_or_run(args.job_id, params=params)
    if emit_json(args, job.to_dict()):
        return 0
    print(f"job {job.id} ({job.status}) resumes run {job.run_id}")
    return _follow(jm, job.id, None) if args.wait else 0


def cmd_jobs_submit(args: argparse.Namespace) -> int:
    from ..training.config import apply_overrides, config_to_dict, load_config

    cfg = load_config(args.config)
    if args.set:
        cfg = apply_overrides(cfg, args.set)
    params = _where_params(args)
    jm = _manager(args)
    job = jm.submit(config_to_dict(cfg), params=params)
    if emit_json(args, job.to_dict()):
        return 0
    where = f" on the Ray cluster at {params['ray_address']}" if params else ""
    print(f"job {job.id} ({job.status}) for run {job.run_id} in {jm.store.runs_dir / job.run_id}{where}")
    return _follow(jm, job.id, None) if args.wait else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``jobs``."""
    p = subparsers.add_parser("train", help="train a model from a TOML configuration (foreground)",
                              description="Train a model in the foreground from a TOML configuration.")
    p.add_argument("config", help="a TOML configuration, e.g. experiments/fer2013_five_layer.toml")
    p.add_argument("--run-dir", help="folder for the run's files (default: a new run in the run store)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its last checkpoint")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override any field, e.g. --set train.lr=0.01 --set data.subset=2000 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="print only the final metrics")
    add_where_options(p)
    p.set_defaults(handler=cmd_train, uses_tf=True)

    jobs, jsub = add_list_command(subparsers, "jobs", "background jobs: list, show, submit, cancel, resume",
                                  "jobs", JOB_STATUSES, cmd_jobs_list)
    jobs.add_argument("--max-running", type=int, default=None,
                      help="run at most this many jobs at once (default $FER_STUDIO_MAX_JOBS, else half the CPU cores)")
    p = jsub.add_parser("show", help="one job: status, progress, log tail")
    p.add_argument("job_id")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_jobs_show)
    p = jsub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("job_id")
    p.add_argument("--at-epoch-end", action="store_true",
                   help="a running training job: pause when the epoch under way ends (nothing lost, resumable; "
                        "not evaluated on the test split until it finishes) instead of stopping now")
    p.add_argument("--wait", type=float, default=None, metavar="S", help="wait up to S seconds for it to stop")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_jobs_cancel)
    p = jsub.add_parser("resume", help="continue a failed/cancelled job's run from its last checkpoint")
    p.add_argument("job_id", metavar="ID", help="a job id, or a run id (e.g. a run from `runs unpack`)")
    p.add_argument("--wait", action="store_true", help="follow the new job until it ends")
    add_where_options(p, resume=True)
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_jobs_resume)
    p = jsub.add_parser("submit", help="train a configuration in the background")
    p.add_argument("config", help="a training configuration .toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set train.epochs=3 (repeatable)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    add_where_options(p)
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_jobs_submit, uses_tf=True)  # validating the model name imports Keras
