"""Measured training speed (images per second) per model and the time an epoch should take.

Only measurements are used, best first:

1. the ``bench train`` table ``<data_dir>/bench_train.json`` (``python -m fer_core bench train``:
   ``{"models": [{"model": "five_layer", "images_per_s": 520, ...}]}``; a ``{model: rate}``
   mapping and ``train_img_s`` / ``img_s`` keys are read too);
2. finished runs of the same model with the same options (``model.kwargs``: width and depth change
   the speed several-fold) in the run store (per-epoch ``images_per_s`` of their history, else of
   ``metrics.json``).

Speeds are kept apart by ``train.precision``: the benchmark table is float32, and a mixed bfloat16
estimate comes only from mixed bfloat16 runs (else the float32 figure is shown, said to be float32).

Without either the speed is unknown (None): no figure is invented.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .paths import data_dir
from .runs import Run, RunStore
from .training.config import PRECISIONS

BENCH_FILE = "bench_train.json"
FLOAT32 = PRECISIONS[0]  # the benchmark table's precision
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

    def epoch_time(self, n_train: int) -> str:
        """Seconds for one epoch over ``n_train`` images, formatted: ``"5 s"`` or ``"1.2 min – 1.5 min"``."""
        fast, slow = self.epoch_seconds(n_train)
        return format_seconds(fast) if abs(slow - fast) < 1 else f"{format_seconds(fast)} – {format_seconds(slow)}"

    def estimate(self, n_train: int, epochs: int) -> str:
        """``"Expected time: **5 s per epoch** for ≈ 3,200 training images (…), up to about …"``."""
        slow = self.epoch_seconds(n_train)[1]
        return (f"Expected time: **{self.epoch_time(n_train)} per epoch** for ≈ {n_train:,} training images "
                f"({self.low:.0f}–{self.high:.0f} img/s), up to about **{format_seconds(slow * epochs)}** "
                f"for {epochs} epochs, plus loading and evaluation. Source: {self.source}.")

    def speed(self) -> str:
        """``"Measured speed: **110–110 img/s** (1.5 min per 10,000 training images). Source: …"``, for
        a configuration whose number of training images is not known here."""
        return (f"Measured speed: **{self.low:.0f}–{self.high:.0f} img/s** ({self.epoch_time(10_000)} per 10,000 "
                f"training images). Source: {self.source}.")


def _rate(value: Any) -> float | None:
    if isinstance(value, dict):
        value = next((value[k] for k in _RATE_KEYS if k in value), None)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def bench_path() -> Path:
    """``<data_dir>/bench_train.json``, where ``bench train`` writes its table."""
    return data_dir() / BENCH_FILE


def bench_table(path: str | Path | None = None) -> dict[str, float]:
    """Images per second per model from the benchmark file ({} when absent or unreadable)."""
    try:
        raw = json.loads(Path(path or bench_path()).read_text(encoding="utf-8"))
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


def run_rate(run: Run) -> float | None:
    """A finished run's measured speed: median per-epoch ``images_per_s`` (else ``metrics.json``'s)."""
    try:
        epochs = [r for h in run.history() or [] if isinstance(h, dict) and (r := _rate(h.get("images_per_s")))]
        return statistics.median(epochs) if epochs else _rate(run.metrics().get("images_per_s"))
    except (OSError, ValueError):
        return None


def model_key(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """A model and its options as one name: ``"fer_net"``, ``"fer_net(deep=True, width=48)"``.
    Speeds are kept apart by it: a model's options (width, depth) change its speed several-fold."""
    opts = ", ".join(f"{k}={v!r}" for k, v in sorted((kwargs or {}).items()))
    return f"{name}({opts})" if opts else str(name)


def run_keys(run: Run) -> tuple[str, str]:
    """The run's ``train.precision`` (``"float32"`` when unset) and :func:`model_key` of its
    ``model.name`` and ``model.kwargs``, from one read of its configuration."""
    try:
        cfg = run.config()
    except (OSError, ValueError, AttributeError):
        cfg = None
    cfg = cfg if isinstance(cfg, dict) else {}
    train, spec = cfg.get("train") or {}, cfg.get("model") or {}
    precision = str(train.get("precision") or FLOAT32) if isinstance(train, dict) else FLOAT32
    kwargs = spec.get("kwargs") if isinstance(spec, dict) else None
    return precision, model_key(str(run.model), kwargs if isinstance(kwargs, dict) else None)


def measured_rates(runs: Iterable[Run]) -> dict[tuple[str, str], list[float]]:
    """Measured images per second of ``runs`` by :func:`run_keys` (precision, model key); runs
    without a measure left out."""
    out: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        if run.model and (r := run_rate(run)) is not None:
            out.setdefault(run_keys(run), []).append(r)
    return out


def expected_rate(model: str, store: RunStore | None = None, bench: str | Path | None = None,
                  precision: str = FLOAT32, kwargs: dict[str, Any] | None = None) -> Rate | None:
    """The measured training speed of ``model`` with options ``kwargs`` in ``precision`` (see the
    module docstring), or None when unknown. For a precision other than float32 with no run of its
    own, the float32 figure is returned with a source that says so. The benchmark table measures
    models with their default options, so it answers only when ``kwargs`` is empty."""
    rates = measured_rates((store or RunStore()).list(status="done"))
    model = model_key(model, kwargs)
    if precision != FLOAT32 and (runs := rates.get((precision, model))):
        return Rate(min(runs), max(runs), f"{len(runs)} finished {precision} run(s) of {model} in the run "
                                          f"store (median {statistics.median(runs):.0f} img/s)")
    table = bench_table(bench)
    if model in table:
        rate = Rate(table[model], table[model], f"benchmark table {Path(bench or bench_path())}")
    elif runs := rates.get((FLOAT32, model)):
        rate = Rate(min(runs), max(runs), f"{len(runs)} finished run(s) of {model} in the run store "
                                          f"(median {statistics.median(runs):.0f} img/s)")
    else:
        return None
    if precision != FLOAT32:
        return Rate(rate.low, rate.high, f"{rate.source}; measured in float32: no finished {precision} "
                                         f"run of {model} yet, so its own speed is not known")
    return rate


def format_seconds(seconds: float | None) -> str:
    """``"45 s"``, ``"3.2 min"``, ``"1.5 h"`` (``"–"`` for None)."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
