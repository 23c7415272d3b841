"""Expected training speed (images per second) per model, and the time an epoch should take.

Sources, best first:

1. a benchmark table ``<data_dir>/bench_train.json`` (e.g. written by ``python -m fer_core bench
   train``), read leniently: ``{"five_layer": 520}``, ``{"five_layer": {"images_per_s": 520}}``,
   ``{"models": {...}}`` or a list of ``{"model": "five_layer", "images_per_s": 520}`` rows
   (``train_img_s`` / ``img_s`` are accepted for ``images_per_s``);
2. finished runs of the same model on this machine (``metrics.json`` ``images_per_s``, median);
3. the figures measured for the field notes (plain ``model.fit``, batch 64, 48x48, 2 cores).
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from fer_core.paths import data_dir

BENCH_FILE = "bench_train.json"
FIELD_NOTES_SOURCE = "field notes (2-core machines, Nov 2026: plain model.fit, batch 64, 48x48)"
#: Training images per second measured for the field notes: (low, high).
FIELD_NOTES_IMG_S: dict[str, tuple[float, float]] = {
    "baseline_cnn": (230, 300),
    "five_layer": (400, 860),
    "cnn_lstm": (50, 85),
    "densenet121_gru": (62, 62),
    "vgg16_gru": (34, 34),
    "resnet50_ft": (25, 32),
    "xception_gru": (24, 24),
}
_RATE_KEYS = ("images_per_s", "train_img_s", "img_s", "train_images_per_s")


@dataclass(frozen=True)
class Rate:
    """Training throughput of a model: a range of images per second and where it comes from."""

    low: float
    high: float
    source: str

    def epoch_seconds(self, n_train: int) -> tuple[float, float]:
        """(fastest, slowest) seconds for one epoch over ``n_train`` images."""
        return n_train / self.high, n_train / self.low


def _rate(value: Any) -> float | None:
    if isinstance(value, dict):
        value = next((value[k] for k in _RATE_KEYS if k in value), None)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def bench_table(path: str | Path | None = None) -> dict[str, float]:
    """Images per second per model from the benchmark file ({} when absent or unreadable)."""
    path = Path(path) if path is not None else data_dir() / BENCH_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if isinstance(raw, dict) and isinstance(raw.get("models"), (dict, list)):
        raw = raw["models"]
    out: dict[str, float] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if (r := _rate(value)) is not None:
                out[str(name)] = r
    elif isinstance(raw, list):
        for row in raw:
            if isinstance(row, dict) and "model" in row and (r := _rate(row)) is not None:
                out[str(row["model"])] = r
    return out


def from_runs(metrics: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Images per second of finished runs (their ``metrics.json`` dicts), grouped by model."""
    out: dict[str, list[float]] = {}
    for m in metrics:
        r = _rate(m.get("images_per_s"))
        if r is not None and m.get("model"):
            out.setdefault(str(m["model"]), []).append(r)
    return out


def expected_rate(model: str, run_metrics: Iterable[dict[str, Any]] = (),
                  bench_path: str | Path | None = None) -> Rate | None:
    """The best available training speed of ``model`` (see the module docstring), or None."""
    bench = bench_table(bench_path)
    if model in bench:
        where = Path(bench_path) if bench_path is not None else data_dir() / BENCH_FILE
        return Rate(bench[model], bench[model], f"benchmark table {where}")
    runs = from_runs(run_metrics).get(model)
    if runs:
        med = statistics.median(runs)
        return Rate(min(runs), max(runs), f"{len(runs)} finished run(s) of {model} on this machine "
                                          f"(median {med:.0f} img/s)")
    if model in FIELD_NOTES_IMG_S:
        lo, hi = FIELD_NOTES_IMG_S[model]
        return Rate(lo, hi, FIELD_NOTES_SOURCE)
    return None


def format_seconds(seconds: float | None) -> str:
    """``"45 s"``, ``"3.2 min"``, ``"1.5 h"`` (``"–"`` for None)."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
