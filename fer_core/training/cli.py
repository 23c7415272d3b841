"""``python -m fer_core train CONFIG``: train in the foreground from a TOML configuration.

``register(subparsers)`` adds the command to :func:`fer_core.cli.build_parser`::

    python -m fer_core train experiments/synthetic_quick.toml
    python -m fer_core train CONFIG --run-dir runs/x [--resume] [--epochs N] [--set train.lr=0.01]

Without ``--run-dir`` the run is registered in the run store (``fer_core.runs``) like a
dashboard run, so it shows up in the dashboard. Ctrl-C stops cleanly after the current batch
(the best model so far is evaluated and kept; ``--resume`` continues); a second Ctrl-C aborts.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

__all__ = ["cmd_train", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
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
    p.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from .config import apply_overrides, config_to_dict, load_config

    cfg = load_config(args.config)
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    if args.resume and not args.run_dir:
        raise ConfigError("--resume needs --run-dir: the folder of the run to continue.")

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
        from .engine import train

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
