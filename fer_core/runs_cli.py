"""Command line for runs and background jobs: ``python -m fer_core runs|jobs ...``.

``register(subparsers)`` adds the two commands to :func:`fer_core.cli.build_parser`::

    python -m fer_core runs [list] [--status S] [--json [OUT]]
    python -m fer_core runs show RUN_ID | rebuild | import MODEL.keras
    python -m fer_core jobs [list] [--json [OUT]]
    python -m fer_core jobs show ID | cancel ID | resume ID | submit CONFIG [--set k=v] [--wait]

``--json`` alone prints JSON to stdout; ``--json OUT`` writes it to the file OUT.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["register"]

# Status names only (no TensorFlow, no SQLite at import time).
RUN_STATUSES = ("created", "running", "done", "failed", "cancelled")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")


def _emit_json(args: argparse.Namespace, obj: Any) -> bool:
    """Print or write ``obj`` as JSON when ``--json`` was given; True if it was."""
    dest = getattr(args, "json", None)
    if dest is None:
        return False
    if dest == "-":
        print(json.dumps(obj, indent=2, default=str))
    else:
        from .io import atomic_write_json

        atomic_write_json(dest, json.loads(json.dumps(obj, default=str)))
        print(f"wrote {dest}")
    return True


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _progress_line(p: dict[str, Any]) -> str:
    if not p:
        return "-"
    s = f"{p.get('phase', '?')}"
    if p.get("epochs"):
        s += f" epoch {p.get('epoch', 0)}/{p['epochs']}"
    if p.get("batches") and p.get("phase") == "training":
        s += f" batch {p.get('batch', 0)}/{p['batches']}"
    if p.get("loss") is not None:
        s += f" loss {p['loss']:.4f}"
    if p.get("accuracy") is not None:
        s += f" acc {p['accuracy']:.4f}"
    if p.get("eta_s") is not None:
        s += f" eta {p['eta_s']:.0f}s"
    return s


# ---------------------------------------------------------------------------------- runs
def cmd_runs_list(args: argparse.Namespace) -> int:
    from .runs import RunStore

    runs = RunStore().list(status=args.status)
    if _emit_json(args, [r.to_dict() for r in runs]):
        return 0
    if not runs:
        print("no runs yet: start one with `python -m fer_core jobs submit CONFIG.toml`")
        return 0
    print(_table([[r.id, r.model, r.dataset, r.status, _fmt(r.test_accuracy), str(r.path)] for r in runs],
                 ["id", "model", "dataset", "status", "test_acc", "path"]))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from .runs import RunStore

    run = RunStore().get(args.run_id)
    info = run.to_dict() | {"model_path": str(run.model_path) if run.model_path.is_file() else None,
                            "epochs_done": len(run.history() or []), "config": run.config()}
    if _emit_json(args, info):
        return 0
    for key in ("id", "name", "model", "dataset", "status", "created", "test_accuracy", "macro_f1",
                "epochs_done", "model_path", "path"):
        print(f"{key:>14}: {info[key]}")
    return 0


def cmd_runs_rebuild(args: argparse.Namespace) -> int:
    from .runs import RunStore

    n = RunStore().rebuild_index()
    if not _emit_json(args, {"runs": n}):
        print(f"index rebuilt from the run folders: {n} run(s)")
    return 0


def cmd_runs_import(args: argparse.Namespace) -> int:
    from .runs import RunStore

    run = RunStore().import_model(args.model, name=args.name)
    if not _emit_json(args, run.to_dict()):
        print(f"imported {args.model} as run {run.id} ({run.path})")
    return 0


# ---------------------------------------------------------------------------------- jobs
def _manager(args: argparse.Namespace):
    from .jobs import JobManager

    return JobManager(max_running=getattr(args, "max_running", None))


def cmd_jobs_list(args: argparse.Namespace) -> int:
    jobs = _manager(args).list(status=args.status)
    if _emit_json(args, [j.to_dict() for j in jobs]):
        return 0
    if not jobs:
        print("no jobs yet: `python -m fer_core jobs submit CONFIG.toml` starts one")
        return 0
    print(_table([[j.id, j.kind, j.run_id, j.status + (" (resumable)" if j.resumable else ""),
                   _progress_line(j.progress)] for j in jobs], ["id", "kind", "run", "status", "progress"]))
    return 0


def _show(jm, job_id: str, args: argparse.Namespace, n_log: int = 20) -> int:
    job = jm.get(job_id)
    prog = jm.progress(job_id)
    info = job.to_dict() | {"progress": {k: v for k, v in prog.items() if k != "history"},
                            "heartbeat_age_s": job.heartbeat_age, "log_tail": jm.log_tail(job_id, n_log)}
    if _emit_json(args, info):
        return 0
    for key in ("id", "kind", "run_id", "status", "resumable", "created", "started", "finished", "pid",
                "resume", "error"):
        print(f"{key:>10}: {info[key]}")
    print(f"{'progress':>10}: {_progress_line(prog)}")
    print(f"--- last {n_log} log lines ---\n{info['log_tail']}")
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    return _show(_manager(args), args.job_id, args)


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    job = _manager(args).cancel(args.job_id, wait=args.wait)
    if not _emit_json(args, job.to_dict()):
        extra = " (cancel flag raised; the worker stops at its next check)" if job.status == "running" else ""
        print(f"job {job.id}: {job.status}{extra}")
    return 0


def _follow(jm, job_id: str, timeout: float | None) -> int:
    last = None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = jm.get(job_id)
        line = _progress_line(jm.progress(job_id))
        if line != last and line != "-" and job.status == "running":
            print(f"  {line}", flush=True)
            last = line
        if job.status in ("done", "failed", "cancelled"):
            print(f"job {job.id}: {job.status}" + (f" ({job.error})" if job.error else ""))
            if job.status == "done":
                run = jm.store.get(job.run_id)
                print(f"run {run.id}: test accuracy {_fmt(run.test_accuracy)}, macro-F1 {_fmt(run.macro_f1)}")
            return 0 if job.status == "done" else 1
        if deadline is not None and time.monotonic() > deadline:
            print(f"still {job.status} after {timeout} s; follow with `python -m fer_core jobs show {job_id}`")
            return 1
        time.sleep(1.0)


def cmd_jobs_resume(args: argparse.Namespace) -> int:
    jm = _manager(args)
    job = jm.resume(args.job_id)
    if _emit_json(args, job.to_dict()):
        return 0
    print(f"job {job.id} ({job.status}) resumes run {job.run_id}")
    return _follow(jm, job.id, None) if args.wait else 0


def cmd_jobs_submit(args: argparse.Namespace) -> int:
    from .training.config import apply_overrides, config_to_dict, load_config

    cfg = load_config(args.config)
    if args.set:
        cfg = apply_overrides(cfg, args.set)
    jm = _manager(args)
    job = jm.submit(config_to_dict(cfg))
    if _emit_json(args, job.to_dict()):
        return 0
    print(f"job {job.id} ({job.status}) for run {job.run_id} in {jm.store.runs_dir / job.run_id}")
    return _follow(jm, job.id, None) if args.wait else 0


# ---------------------------------------------------------------------------------- parser
def _json_opt(p: argparse.ArgumentParser, top: bool = False) -> None:
    p.add_argument("--json", nargs="?", const="-", metavar="OUT",
                   default=None if top else argparse.SUPPRESS,
                   help="print JSON (or write it to OUT) instead of a table")


def _max_running_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-running", type=int, default=None,
                   help="run at most this many jobs at once (default $FER_STUDIO_MAX_JOBS, 1 on 2 cores)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``runs`` and ``jobs`` commands to the ``python -m fer_core`` parser."""
    runs = subparsers.add_parser("runs", help="list and inspect training runs")
    _json_opt(runs, top=True)
    runs.add_argument("--status", default=None, choices=RUN_STATUSES, help="only runs with this status")
    runs.set_defaults(handler=cmd_runs_list)
    rsub = runs.add_subparsers(dest="runs_command")
    p = rsub.add_parser("list", help="all runs, newest first (the default)")
    _json_opt(p)
    p.add_argument("--status", default=argparse.SUPPRESS, choices=RUN_STATUSES)
    p.set_defaults(handler=cmd_runs_list)
    p = rsub.add_parser("show", help="one run's details")
    p.add_argument("run_id")
    _json_opt(p)
    p.set_defaults(handler=cmd_runs_show)
    p = rsub.add_parser("rebuild", help="rebuild index.sqlite from the run and job folders")
    _json_opt(p)
    p.set_defaults(handler=cmd_runs_rebuild)
    p = rsub.add_parser("import", help="register an external .keras model as a finished run")
    p.add_argument("model", help="path to a .keras file (metrics.json etc. beside it are copied)")
    p.add_argument("--name", default=None)
    _json_opt(p)
    p.set_defaults(handler=cmd_runs_import)

    jobs = subparsers.add_parser("jobs", help="background jobs: list, show, submit, cancel, resume")
    _json_opt(jobs, top=True)
    _max_running_opt(jobs)
    jobs.add_argument("--status", default=None, choices=JOB_STATUSES, help="only jobs with this status")
    jobs.set_defaults(handler=cmd_jobs_list)
    jsub = jobs.add_subparsers(dest="jobs_command")
    p = jsub.add_parser("list", help="all jobs, newest first (the default)")
    _json_opt(p)
    p.add_argument("--status", default=argparse.SUPPRESS, choices=JOB_STATUSES)
    p.set_defaults(handler=cmd_jobs_list)
    p = jsub.add_parser("show", help="one job: status, progress, log tail")
    p.add_argument("job_id")
    _json_opt(p)
    p.set_defaults(handler=cmd_jobs_show)
    p = jsub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("job_id")
    p.add_argument("--wait", type=float, default=None, metavar="S", help="wait up to S seconds for it to stop")
    _json_opt(p)
    p.set_defaults(handler=cmd_jobs_cancel)
    p = jsub.add_parser("resume", help="continue a failed/cancelled job's run from its last checkpoint")
    p.add_argument("job_id")
    p.add_argument("--wait", action="store_true", help="follow the new job until it ends")
    _json_opt(p)
    p.set_defaults(handler=cmd_jobs_resume)
    p = jsub.add_parser("submit", help="train a configuration in the background")
    p.add_argument("config", help="a training configuration .toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set train.epochs=3 (repeatable)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    _json_opt(p)
    p.set_defaults(handler=cmd_jobs_submit)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - used until cli.py registers us
    """Stand-alone entry (``python -m fer_core.runs_cli jobs ...``), same commands as in ``fer_core``."""
    from .errors import FERError

    parser = argparse.ArgumentParser(prog="python -m fer_core")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (FERError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
