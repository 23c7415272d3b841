"""``python -m fer_core runs``: list, inspect, rebuild and import training runs.

    python -m fer_core runs [list] [--status S] [--json [OUT]]
    python -m fer_core runs show RUN_ID [--against RUN] | delete RUN_ID | rebuild | import MODEL.keras
    python -m fer_core runs pack RUN_ID DEST | unpack DEST

Bundled models (``fer_core/pretrained``) are listed after the user's runs, marked ``bundled``;
they are read-only.
"""
from __future__ import annotations

import argparse

from .common import add_json_option, add_list_command, emit_json, fmt, table

# Status names only (no TensorFlow, no SQLite at import time).
RUN_STATUSES = ("created", "running", "done", "failed", "cancelled")


def cmd_runs_list(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    runs = RunStore().list(status=args.status)
    if emit_json(args, [r.to_dict() for r in runs]):
        return 0
    if not runs:
        print("no runs yet: start one with `python -m fer_core jobs submit CONFIG.toml`")
        return 0
    print(table([[r.id, r.model, r.dataset, r.status, fmt(r.test_accuracy), "bundled" if r.bundled else "",
                  str(r.path)] for r in runs], ["id", "model", "dataset", "status", "test_acc", "kind", "path"]))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    store = RunStore()
    run = store.get(args.run_id)
    history = run.history() or []
    info = run.to_dict() | {"model_path": str(run.model_path) if run.model_path.is_file() else None,
                            "epochs_done": len(history), "config": run.config()}
    if args.against:
        from dataclasses import asdict

        from ..curves import curve_gap

        ref = store.get(args.against)
        gap = curve_gap(history, ref.history(), window=args.window)
        info["against"] = {"run": ref.id, **(asdict(gap) | {"text": gap.text} if gap else {"text": None})}
    if emit_json(args, info):
        return 0
    for key in ("id", "name", "model", "dataset", "status", "created", "test_accuracy", "macro_f1", "bundled",
                "epochs_done", "model_path", "path"):
        print(f"{key:>14}: {info[key]}")
    twins = run.train_twins()
    if twins:
        from ..evaluation.leakage import format_leakage

        print(f"{'train twins':>14}: {format_leakage(twins)}")
    if args.against:
        text = info["against"]["text"] or "no epoch in common (no validation history on one side)"
        print(f"{'against':>14}: {ref.id}: {text}")
    return 0


def cmd_runs_delete(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    RunStore().delete(args.run_id)
    if not emit_json(args, {"deleted": args.run_id}):
        print(f"deleted run {args.run_id}")
    return 0


def cmd_runs_rebuild(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    n = RunStore().rebuild_index()
    if not emit_json(args, {"runs": n}):
        print(f"index rebuilt from the run folders: {n} run(s)")
    return 0


def cmd_runs_import(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    run = RunStore().import_model(args.model, name=args.name)
    if not emit_json(args, run.to_dict()):
        print(f"imported {args.model} as run {run.id} ({run.path})")
    return 0


def cmd_runs_pack(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    dest = RunStore().pack(args.run_id, args.dest)
    files = sorted(p.name for p in dest.iterdir())
    if not emit_json(args, {"run": args.run_id, "pack": str(dest), "files": files}):
        print(f"packed run {args.run_id} into {dest} ({', '.join(files)}); "
              f"on the other machine: python -m fer_core runs unpack {dest}")
    return 0


def cmd_runs_unpack(args: argparse.Namespace) -> int:
    from ..runs import RunStore

    run = RunStore().unpack(args.pack)
    resume = f"python -m fer_core train {run.path / 'config.toml'} --resume --run-dir {run.path}"
    background = f"python -m fer_core jobs resume {run.id}"
    if not emit_json(args, run.to_dict() | {"resume": resume, "resume_job": background}):
        print(f"unpacked run {run.id} into {run.path}; resume it in the background with:\n  {background}\n"
              f"or in the foreground with:\n  {resume}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``runs``."""
    _, rsub = add_list_command(subparsers, "runs", "list and inspect training runs", "runs", RUN_STATUSES,
                               cmd_runs_list)
    p = rsub.add_parser("show", help="one run's details")
    p.add_argument("run_id")
    p.add_argument("--against", metavar="RUN", default=None,
                   help="hold its validation curve against another run's (or a bundled model's) at the same epochs")
    p.add_argument("--window", type=int, default=10, metavar="N",
                   help="with --against: average the last N epochs both have (default 10)")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_show)
    p = rsub.add_parser("delete", help="delete a run's folder and jobs (bundled models are read-only)")
    p.add_argument("run_id")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_delete)
    p = rsub.add_parser("rebuild", help="rebuild index.sqlite from the run and job folders")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_rebuild)
    p = rsub.add_parser("import", help="register an external .keras model as a finished run")
    p.add_argument("model", help="path to a .keras file (metrics.json etc. beside it are copied)")
    p.add_argument("--name", default=None)
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_import)
    p = rsub.add_parser("pack", help="copy what resumes an unfinished run into a folder, to carry it to another "
                                     "machine (e.g. experiments/checkpoints/NAME)")
    p.add_argument("run_id")
    p.add_argument("dest", help="the folder to write (replaced as a whole)")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_pack, uses_tf=True)  # the best model is re-saved without its optimizer
    p = rsub.add_parser("unpack", help="register a folder written by `runs pack` as a run here, ready to resume")
    p.add_argument("pack", help="the pack folder")
    add_json_option(p, nested=True)
    p.set_defaults(handler=cmd_runs_unpack)
