"""Run the quick variants of the paper configs end to end and time them.

Each ``experiments/*_quick.toml`` runs as ``python -m fer_core train <config> --run-dir <dir>
--quiet`` in its own process, one after the other (so they do not share the 2 cores), and the
script prints a Markdown table: wall-clock minutes (process start to exit: loading, graph
building, training, evaluation), epochs completed, test accuracy and macro F1 from the run's
``metrics.json``.

Usage::

    .venv/bin/python experiments/bench/quick_configs.py [resnet50 senet50 ...]
        [--runs-dir DIR] [--data-override oahega=../shared/data/fer2013]
        [--json out.json]

Names select configs by substring (default: all quick configs). A config whose data folder is
missing is skipped with a message; ``--data-override oahega=PATH`` runs the OAHEGA configs on
another folder dataset (e.g. FER2013, its format detected) to time the architectures when OAHEGA
is not at hand.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fer_core.run_files import METRICS_FILE  # noqa: E402
from fer_core.training.config import resolve_path  # noqa: E402


def quick_configs(names: list[str]) -> list[Path]:
    """The quick configs whose file name contains one of ``names`` (all when empty)."""
    files = sorted((ROOT / "experiments").glob("*_quick.toml"))
    return [f for f in files if not names or any(n in f.stem for n in names)]


def run_one(cfg: Path, run_dir: Path, overrides: dict[str, str]) -> dict:
    """Train ``cfg`` in a child process; wall time and the metrics it wrote."""
    data_path = tomllib.loads(cfg.read_text())["data"]["path"]
    extra: list[str] = []
    for prefix, path in overrides.items():
        if cfg.stem.startswith(prefix):
            data_path = path
            extra = ["--set", f"data.path={path}", "--set", "data.format=auto"]  # detect the other layout
    resolved = resolve_path(data_path)  # as `train` resolves it: against the project root
    if not resolved.startswith("synthetic") and not Path(resolved).exists():
        return {"config": cfg.name, "skipped": f"data folder {data_path} not found"}
    cmd = [sys.executable, "-m", "fer_core", "train", str(cfg), "--run-dir", str(run_dir), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    minutes = round((time.perf_counter() - t0) / 60, 1)
    if proc.returncode != 0:
        return {"config": cfg.name, "failed": proc.stderr.strip().splitlines()[-5:], "minutes": minutes}
    m = json.loads((run_dir / METRICS_FILE).read_text())
    return {"config": cfg.name, "data": data_path, "minutes": minutes,
            "epochs": m.get("epochs_completed"), "accuracy": m.get("accuracy"),
            "macro_f1": m.get("macro_f1"), "n_train": m.get("n_train"), "n_test": m.get("n_test"),
            "images_per_s": m.get("images_per_s")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="substrings of config names (default: all)")
    ap.add_argument("--runs-dir", default=str(Path(tempfile.gettempdir()) / "fer_quick_runs"))
    ap.add_argument("--data-override", action="append", default=[], metavar="PREFIX=PATH")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    overrides = dict(o.split("=", 1) for o in args.data_override)
    results = []
    print("| config | data (train / test images) | wall time | epochs | train img/s | test accuracy | macro F1 |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for cfg in quick_configs(args.names):
        r = run_one(cfg, Path(args.runs_dir) / cfg.stem, overrides)
        results.append(r)
        if "skipped" in r:
            print(f"| `{r['config']}` | skipped: {r['skipped']} | | | | | |", flush=True)
        elif "failed" in r:
            print(f"| `{r['config']}` | FAILED after {r['minutes']:.1f} min: {' '.join(r['failed'])} | | | | | |",
                  flush=True)
        else:
            print(f"| `{r['config']}` | {r['data']} ({r['n_train']:,} / {r['n_test']:,}) | {r['minutes']:.1f} min | "
                  f"{r['epochs']} | {r['images_per_s']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return int(any("failed" in r for r in results))


if __name__ == "__main__":
    sys.exit(main())
