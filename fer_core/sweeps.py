"""Sweeps: one training configuration over a grid of settings, every setting a trial run.

A sweep is a record ``root/sweeps/<sweep_id>/sweep.json`` (what was asked and how each trial
ended) plus one run per trial in the run store, tagged with the sweep (``run.json`` ``sweep`` and
the index's ``runs.sweep`` column), so trials are listed, compared and opened like any run. A
``sweep`` job (:mod:`fer_core.remote.sweep`) runs the trials with Ray Tune.

Trial entries of ``sweep.json``: ``index``, ``settings`` ({key: value}), ``run_id``, ``status``
(a run status), ``epochs_done``, ``best_val_accuracy``, ``stopped`` (None, ``"asha"`` when the
scheduler stopped a weak trial early, ``"cancelled"``) and ``error``. A trial stopped by ASHA is
a *cancelled* run with its checkpoint, best model and history so far, and no test metrics.
"""
from __future__ import annotations

import itertools
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import ConfigError, DataError, FERError
from .io import atomic_write_json
from .runs import RunStore, file_lock, now_iso, read_json, unknown_id_error

#: Schedulers a sweep accepts: ASHA stops weak trials early on the validation accuracy; none runs all.
SCHEDULERS = ("asha", "none")
#: What trials are ranked by (reported to Tune every epoch).
METRIC = "val_accuracy"
#: At most this many trials in one sweep.
MAX_TRIALS = 64
SWEEP_FILE = "sweep.json"


# -- the grid ------------------------------------------------------------------------------
def parse_grid(items: Sequence[str] | Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """``["train.lr=0.1,0.01", "model.name=five_layer,fer_net"]`` -> ``{"train.lr": [0.1, 0.01], ...}``.

    Values are read like ``--set`` values (TOML scalars, else plain strings); a mapping is
    checked and returned as lists.
    """
    from .training.config import _parse_assignment

    out: dict[str, list[Any]] = {}
    pairs = items.items() if isinstance(items, Mapping) else None
    if pairs is None:
        parsed = []
        for item in items:
            text = str(item).strip()
            if "=" not in text or not text.split("=", 1)[1].strip():
                raise ConfigError(f"--grid expects key=value1,value2,... (e.g. train.lr=0.1,0.01); got {text!r}.")
            key, values = (s.strip() for s in text.split("=", 1))
            parsed.append((key, [_parse_assignment(f"{key}={v.strip()}")[1] for v in values.split(",")
                                 if v.strip()]))
        pairs = parsed
    for key, values in pairs:
        if key in out:
            raise ConfigError(f"--grid names {key!r} twice; give all its values in one key=v1,v2 item.")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise ConfigError(f"--grid {key}: no values; give at least one (e.g. {key}=a,b).")
        out[str(key)] = values
    if not out:
        raise ConfigError("A sweep needs a grid: at least one key=value1,value2 item (e.g. train.lr=0.1,0.01).")
    return out


def expand(grid: Mapping[str, Sequence[Any]], samples: int = 1, seed: int = 0) -> list[dict[str, Any]]:
    """Every combination of the grid (the first key varies slowest); ``samples`` > 1 repeats each
    with seeds ``seed .. seed + samples - 1`` (``train.seed``), unless the grid sets the seed itself."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"--samples must be a whole number >= 1; got {samples!r}.")
    grid = dict(grid)
    if samples > 1 and "train.seed" not in grid:
        grid["train.seed"] = [seed + i for i in range(samples)]
    keys = list(grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    if len(combos) > MAX_TRIALS:
        raise ConfigError(f"The grid makes {len(combos)} trials, more than the limit of {MAX_TRIALS}; use fewer "
                          "values or samples.")
    return combos


def trial_name(base: str, settings: Mapping[str, Any]) -> str:
    """``"quick lr=0.1 name=fer_net"``: the base name and the last part of each setting."""
    bits = [f"{k.rsplit('.', 1)[-1]}={v}" for k, v in settings.items()]
    return " ".join([base, *bits]).replace("/", "_").replace("\\", "_")


def trial_configs(cfg: Any, grid: Mapping[str, Sequence[Any]], samples: int = 1) -> list[tuple[dict, Any]]:
    """``[(settings, TrainConfig), ...]`` of every trial, each validated (ConfigError names the setting)."""
    from .training.config import apply_overrides, load_config

    cfg = load_config(cfg)
    out = []
    for settings in expand(grid, samples, cfg.train.seed):
        try:
            trial = apply_overrides(cfg, settings)
        except ConfigError as exc:
            raise ConfigError(f"sweep setting {settings}: {exc}") from None
        trial.name = trial_name(cfg.name, settings)
        out.append((settings, trial))
    return out


# -- records -------------------------------------------------------------------------------
def sweeps_dir(root: str | Path | None = None) -> Path:
    """``root/sweeps`` (root: the data directory by default)."""
    return RunStore(root).root / "sweeps"


def create_sweep(cfg: Any, grid: Mapping[str, Sequence[Any]] | Sequence[str], *, samples: int = 1,
                 scheduler: str = "asha", ray_address: str | None = None, root: str | Path | None = None) -> dict:
    """Validate a sweep and write its record (status ``queued``; trial runs are made when it starts)."""
    from .training.config import config_to_dict, load_config

    cfg = load_config(cfg)
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"--scheduler must be one of {', '.join(SCHEDULERS)}; got {scheduler!r}.")
    grid = parse_grid(grid)
    trials = trial_configs(cfg, grid, samples)
    for _, trial in trials:  # a grid may vary data.path
        if missing := trial.data_missing():
            raise DataError(missing)
    folder = sweeps_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-sweep-{secrets.token_hex(2)}"
        try:
            (folder / sweep_id).mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise FERError(f"Could not allocate a new sweep folder under {folder}.")
    rec = {
        "id": sweep_id, "name": cfg.name, "created": now_iso(), "status": "queued", "job_id": None,
        "config": config_to_dict(cfg), "grid": grid, "samples": samples, "scheduler": scheduler,
        "ray_address": ray_address, "metric": METRIC, "epochs": max(t.train.epochs for _, t in trials),
        "trials": [{"index": i, "settings": s, "name": t.name, "epochs": t.train.epochs, "run_id": None,
                    "status": "created", "epochs_done": 0, "best_val_accuracy": None, "stopped": None,
                    "error": None} for i, (s, t) in enumerate(trials)],
    }
    atomic_write_json(folder / sweep_id / SWEEP_FILE, rec)
    return rec


def read_sweep(sweep_id: str, root: str | Path | None = None) -> dict:
    """The record of a sweep; an error listing the known ids when there is none."""
    folder = sweeps_dir(root)
    rec = read_json(folder / str(sweep_id) / SWEEP_FILE) if "/" not in str(sweep_id) else None
    if not isinstance(rec, dict):
        raise unknown_id_error("sweep", str(sweep_id), [s["id"] for s in list_sweeps(root)])
    return rec


def list_sweeps(root: str | Path | None = None) -> list[dict]:
    """Every sweep record, newest first (an unfinished one whose job ended is closed first)."""
    folder = sweeps_dir(root)
    recs = [read_json(p / SWEEP_FILE) for p in folder.iterdir()] if folder.is_dir() else []
    recs = [_reconciled(r, root) for r in recs if isinstance(r, dict) and "id" in r]
    return sorted(recs, key=lambda r: r["id"], reverse=True)


def _reconciled(rec: dict, root: str | Path | None) -> dict:
    """``rec``, closed when its job ended without closing it (cancelled while queued, worker killed):
    the sweep takes the job's status and its unfinished trials are marked cancelled or failed."""
    if rec.get("status") not in ("queued", "running") or not rec.get("job_id"):
        return rec
    job = read_json(RunStore(root).jobs_dir / rec["job_id"] / "job.json", {}) or {}
    status = job.get("status")
    if status not in ("done", "failed", "cancelled"):
        return rec
    end = "cancelled" if status == "cancelled" else "failed"

    def change(r: dict) -> None:
        if r.get("status") not in ("queued", "running"):
            return
        r["status"] = end if status == "done" else status
        for t in r["trials"]:
            if t.get("status") in ("created", "running"):
                t.update(status=end, error=t.get("error") or f"the sweep job {status}: {job.get('error') or ''}".strip(": "))

    return update_sweep(rec["id"], change, root)


def update_sweep(sweep_id: str, change: Callable[[dict], None], root: str | Path | None = None) -> dict:
    """Apply ``change(record)`` under the sweep's lock and write the record back atomically."""
    path = sweeps_dir(root) / sweep_id / SWEEP_FILE
    with file_lock(path.parent / ".lock"):
        rec = read_sweep(sweep_id, root)
        change(rec)
        rec["updated"] = now_iso()
        atomic_write_json(path, rec)
    return rec


def submit_sweep(cfg: Any, grid: Mapping[str, Sequence[Any]] | Sequence[str], *, samples: int = 1,
                 scheduler: str = "asha", ray_address: str | None = None, jm: Any = None) -> tuple[dict, Any]:
    """Create a sweep and submit the background job that runs it; returns (record, Job)."""
    from .jobs import JobManager

    jm = jm or JobManager()
    rec = create_sweep(cfg, grid, samples=samples, scheduler=scheduler, ray_address=ray_address, root=jm.root)
    params = {"sweep_id": rec["id"], **({"ray_address": ray_address} if ray_address else {})}
    job = jm.submit(None, kind="sweep", params=params)
    rec = update_sweep(rec["id"], lambda r: r.update(job_id=job.id), root=jm.root)
    return rec, job


# -- what Compare shows --------------------------------------------------------------------
def setting_columns(sweep: Mapping[str, Any]) -> list[str]:
    """The grid keys of a sweep (plus ``train.seed`` when samples repeat the grid)."""
    keys = list(sweep.get("grid") or {})
    if int(sweep.get("samples") or 1) > 1 and "train.seed" not in keys:
        keys.append("train.seed")
    return keys


def trial_outcome(trial: Mapping[str, Any]) -> str:
    """``"done"``, ``"stopped early (ASHA)"``, ``"cancelled"``, ``"failed"``, ``"running"`` ..."""
    if trial.get("stopped") == "asha":
        return "stopped early (ASHA)"
    return str(trial.get("status") or "created")


def sweep_table(sweep: Mapping[str, Any], store: RunStore | None = None):
    """One row per trial: its settings, outcome, epochs, best validation and test accuracy, run id.

    Values come from the sweep record, refreshed from each trial run's history and metrics when
    ``store`` is given (so a table of a running sweep is current). Columns: ``trial``, one per
    setting, ``outcome``, ``epochs``, ``best val_accuracy``, ``test accuracy``, ``run``.
    """
    import pandas as pd

    keys = setting_columns(sweep)
    rows = []
    for t in sweep.get("trials", []):
        best, epochs, test = t.get("best_val_accuracy"), t.get("epochs_done") or 0, None
        if store is not None and t.get("run_id"):
            try:
                run = store.get(t["run_id"])
            except FERError:
                run = None
            if run is not None:
                hist = run.history() or []
                vals = [h.get("val_accuracy") for h in hist if h.get("val_accuracy") is not None]
                if vals:
                    best, epochs = max(vals), len(hist)
                test = run.test_accuracy
        row = {"trial": t["index"], **{k: t["settings"].get(k) for k in keys}, "outcome": trial_outcome(t),
               "epochs": f"{epochs}/{t.get('epochs', sweep.get('epochs'))}", "best val_accuracy": best,
               "test accuracy": test, "run": t.get("run_id")}
        rows.append(row)
    cols = ["trial", *keys, "outcome", "epochs", "best val_accuracy", "test accuracy", "run"]
    return pd.DataFrame(rows, columns=cols)


def best_trial(table) -> dict | None:
    """The row of the finished trial with the best validation accuracy (None when none finished)."""
    done = table[(table["outcome"] == "done") & table["best val_accuracy"].notna() & table["run"].notna()]
    if done.empty:
        return None
    return done.loc[done["best val_accuracy"].astype(float).idxmax()].to_dict()
