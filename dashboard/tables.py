"""Small tables and arrays the pages lay out (simple numpy/pandas over fer_core objects)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.data import FERDataset


def image_stats(ds: FERDataset, split: str | None = None, limit: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Brightness (mean grey level) and contrast (grey-level standard deviation) per image.

    Returns a DataFrame with columns ``class``, ``split``, ``brightness``, ``contrast``; at most
    ``limit`` images (a fixed random sample) so large datasets stay quick.
    """
    idx = np.flatnonzero(ds.splits == split) if split else np.arange(len(ds))
    if len(idx) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False))
    x = ds.images[idx].astype(np.float32)
    if x.ndim == 4:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    flat = x.reshape(len(idx), -1)
    names = np.asarray(ds.classes, dtype=object)
    return pd.DataFrame({"class": names[ds.labels[idx]], "split": ds.splits[idx],
                         "brightness": flat.mean(axis=1), "contrast": flat.std(axis=1)})


def balance_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts with the share of each class per split (``"train %"`` ...) beside them."""
    out = counts.copy()
    for col in counts.columns:
        total = counts[col].sum()
        out[f"{col} %"] = (100 * counts[col] / total).round(1) if total else 0.0
    return out


def imbalance_ratios(counts: pd.DataFrame) -> dict[str, float | None]:
    """Max/min class count per column over the classes present (None when a column is empty)."""
    out: dict[str, float | None] = {}
    for col in counts.columns:
        present = counts[col][counts[col] > 0]
        out[str(col)] = float(present.max() / present.min()) if len(present) else None
    return out


def sample_indices(ds: FERDataset, split: str | None, per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Up to ``per_class`` random image indices of each class (in ``split`` when given)."""
    rng = np.random.default_rng(seed)
    mask = ds.splits == split if split else np.ones(len(ds), bool)
    out = {}
    for c, name in enumerate(ds.classes):
        idx = np.flatnonzero(mask & (ds.labels == c))
        out[name] = np.sort(rng.choice(idx, min(per_class, len(idx)), replace=False)) if len(idx) else idx
    return out


def leaderboard(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Sorted leaderboard (best accuracy first) from rows with run, accuracy, CIs, macro-F1, ..."""
    table = pd.DataFrame(list(rows))
    if table.empty:
        return table
    return table.sort_values(["accuracy", "macro_f1"], ascending=False, kind="stable").reset_index(drop=True)


def fmt_ci(value: float, low: float, high: float, pct: bool = True) -> str:
    """``"71.3% (68.0–74.7)"`` or ``"0.702 (0.671–0.733)"``; the point alone when the CI is NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.3f}")
    unit = "%" if pct else ""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"{f(value)}{unit}"
    return f"{f(value)}{unit} ({f(low)}–{f(high)})"


def job_fraction(progress: Mapping[str, Any], status: str) -> float:
    """Fraction done of a training job from its latest progress event (1.0 once finished)."""
    if status == "done":
        return 1.0
    epochs = progress.get("epochs") or 0
    epoch = progress.get("epoch") or 0
    if not epochs or not epoch:
        return 0.0
    batches = progress.get("batches") or 0
    batch = progress.get("batch") or 0
    part = batch / batches if batches else 0.0
    if progress.get("event") == "epoch_end" or progress.get("phase") in ("evaluating", "done"):
        part = 1.0
    return float(min(max((epoch - 1 + part) / epochs, 0.0), 1.0))


def align_predictions(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labels and both probability matrices on the images two reports share (matched by source).

    Returns (y (n,), probs_a (n, C), probs_b (n, C)) in ``a``'s order, or None when they share
    no image, disagree on a shared image's label, or have different classes.
    """
    if tuple(a.classes) != tuple(b.classes) or a.sources is None or b.sources is None:
        return None
    pos = {s: i for i, s in enumerate(b.sources)}
    ia = np.array([i for i, s in enumerate(a.sources) if s in pos], dtype=np.int64)
    if not len(ia):
        return None
    ib = np.array([pos[a.sources[i]] for i in ia], dtype=np.int64)
    if not np.array_equal(a.y_true[ia], b.y_true[ib]):
        return None
    return a.y_true[ia], a.probs[ia], b.probs[ib]


def predictions_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """CSV bytes of prediction rows (``PhotoResult.rows()``), columns in first-seen order."""
    return pd.DataFrame(list(rows)).to_csv(index=False).encode("utf-8")


def expected_train_size(train_counts: Sequence[int], subset: int | None, imbalance: str) -> int:
    """Images per training epoch after ``data.subset`` and resampling (an estimate for the Train page).

    ``train_counts`` are the train-split images per class; a subset keeps the class proportions;
    ``oversample``/``smote``/``adasyn`` grow every class to the largest one.
    """
    c = np.asarray(train_counts, dtype=float)
    total = c.sum()
    if subset and total > subset:
        c = c * (subset / total)
    if imbalance in ("oversample", "smote", "adasyn"):
        present = c[c > 0]
        return int(round(present.max() * len(present))) if len(present) else 0
    return int(round(c.sum()))


def job_progress_text(progress: Mapping[str, Any], status: str, eta: str | None = None) -> str:
    """``"epoch 3/10 · batch 70/75 · 528 img/s · ETA 41 s"`` from a job's latest progress event."""
    bits = []
    if progress.get("epoch"):
        bits.append(f"epoch {progress['epoch']}/{progress.get('epochs')}")
    if progress.get("batches") and status == "running":
        bits.append(f"batch {progress.get('batch')}/{progress['batches']}")
    if progress.get("images_per_s"):
        bits.append(f"{progress['images_per_s']:.0f} img/s")
    if status == "running" and eta:
        bits.append(f"ETA {eta}")
    if progress.get("message"):
        bits.append(str(progress["message"]))
    return " · ".join(bits) or ("waiting in the queue" if status == "queued" else "starting")
