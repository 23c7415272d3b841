"""Sweeps: ``sweep CONFIG --grid ...`` runs a grid of settings with Ray Tune; ``sweeps`` lists them.

    python -m fer_core sweep CONFIG --grid train.lr=0.1,0.01 model.name=five_layer,fer_net \\
        [--samples N] [--scheduler asha|none] [--ray ADDRESS | --local] [--set k=v] [--wait | --foreground]
    python -m fer_core sweeps [list] [--json [OUT]]
    python -m fer_core sweeps show ID [--json [OUT]]

A sweep runs as a background job (``jobs`` lists it; ``--wait`` follows it), or in this process
with ``--foreground``. Without a Ray address it starts a private local Ray for its trials.
"""
from __future__ import annotations

import argparse

from .common import add_json_option, add_list_command, add_where_options, emit_json, fmt, table


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..remote import resolve_address
    from ..sweeps import create_sweep, submit_sweep
    from ..training.config import apply_overrides, load_config

    cfg = load_config(args.config)
    if args.set:
        cfg = apply_overrides(cfg, args.set)
    address = resolve_address(args.ray, local=args.local)
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    if args.foreground:
        from ..remote.sweep import run_sweep

        rec = create_sweep(cfg, args.grid, samples=args.samples, scheduler=args.scheduler, ray_address=address)
        print(f"sweep {rec['id']}: {len(rec['trials'])} trials on {where}", flush=True)
        rec = run_sweep(rec["id"], progress=lambda ev: print(f"  {ev.get('message', '')}", flush=True))
        return _summary(args, rec)
    from .train import _follow, _manager

    jm = _manager(args)
    rec, job = submit_sweep(cfg, args.grid, samples=args.samples, scheduler=args.scheduler, ray_address=address, jm=jm)
    if not args.wait and emit_json(args, {"sweep": rec, "job": job.to_dict()}):
        return 0
    print(f"sweep {rec['id']}: {len(rec['trials'])} trials on {where}; job {job.id} ({job.status})", flush=True)
    if not args.wait:
        return 0
    status = _follow(jm, job.id, None)
    from ..sweeps import read_sweep

    _summary(args, read_sweep(rec["id"], jm.root))
    return status


def _summary(args: argparse.Namespace, rec: dict) -> int:
    from ..runs import RunStore
    from ..sweeps import best_trial, sweep_table

    tab = sweep_table(rec, RunStore())
    if emit_json(args, {"sweep": rec, "trials": tab.to_dict(orient="records")}):
        return 0
    print(_table_text(tab))
    best = best_trial(tab)
    if best:
        print(f"best trial {best['trial']}: val_accuracy {best['best val_accuracy']:.4f}, run {best['run']}")
    return 0 if rec.get("status") == "done" else 1


def _cell(column: str, value) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return fmt(value) if column.endswith("accuracy") else str(value)


def _table_text(tab) -> str:
    rows = [[_cell(c, v) for c, v in r.items()] for r in tab.to_dict(orient="records")]
    return table(rows, list(tab.columns))


def cmd_sweeps_list(args: argparse.Namespace) -> int:
    from ..sweeps import list_sweeps

    recs = list_sweeps()
    if emit_json(args, recs):
        return 0
    if not recs:
        print("no sweeps yet: `python -m fer_core sweep CONFIG --grid train.lr=0.1,0.01` starts one")
        return 0
    print(table([[r["id"], r["name"], r.get("status", "?"), str(len(r.get("trials", []))),
                  " ".join(f"{k}={','.join(map(str, v))}" for k, v in r.get("grid", {}).items()),
                  r.get("ray_address") or "local Ray"] for r in recs],
                ["id", "name", "status", "trials", "grid", "where"]))
    return 0


def cmd_sweeps_show(args: argparse.Namespace) -> int:
    from ..sweeps import read_sweep

    rec = read_sweep(args.sweep_id)
    if getattr(args, "json", None) is None:
        print(f"sweep {rec['id']} ({rec.get('status')}): {rec['name']}, scheduler {rec.get('scheduler')}, "
              f"{rec.get('ray_address') or 'local Ray'}")
    _summary(args, rec)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``sweeps``."""
    from ..sweeps import SCHEDULERS

    p = subparsers.add_parser("sweep", help="train a grid of settings with Ray Tune (every trial a run)")
    p.add_argument("config", help="the base training configuration .toml")
    p.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2",
                   help="settings to sweep, e.g. train.lr=0.1,0.01 model.name=five_layer,fer_net")
    p.add_argument("--samples", type=int, default=1,
                   help="repeat every grid point N times with seeds seed..seed+N-1 (default 1)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="asha",
                   help="asha: stop weak trials early on val_accuracy (default); none: run every trial to the end")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the base configuration (repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--wait", action="store_true", help="follow the sweep job until it ends, then print its trials")
    mode.add_argument("--foreground", action="store_true", help="run the sweep in this process instead of a job")
    add_where_options(p, local="on a private local Ray")
    add_json_option(p)
    p.set_defaults(handler=cmd_sweep, uses_tf=True)

    _, sub = add_list_command(subparsers, "sweeps", "sweeps: list, show", "sweeps", None, cmd_sweeps_list)
    q = sub.add_parser("show", help="one sweep: its trials, outcome and best trial")
    q.add_argument("sweep_id")
    add_json_option(q, nested=True)
    q.set_defaults(handler=cmd_sweeps_show)
