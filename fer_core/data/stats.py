"""Per-image statistics, class-balance tables and class samples of a dataset (for display)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import FERDataset
from .images import LUMA_WEIGHTS


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
        x = x @ np.array(LUMA_WEIGHTS, np.float32)
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


def issues_table(ds: FERDataset) -> pd.DataFrame:
    """The files or rows skipped while loading: ``source``, ``reason``."""
    return pd.DataFrame([{"source": i.source, "reason": i.reason} for i in ds.issues], columns=["source", "reason"])


def balance_long(counts: pd.DataFrame) -> pd.DataFrame:
    """A class x split count table (``FERDataset.counts()``, ``total`` dropped) as long rows:
    ``class``, ``split``, ``images``, ``percent`` (share of the split, one decimal)."""
    table = counts.drop(columns=["total"], errors="ignore")
    long = table.reset_index().melt(id_vars="class", var_name="split", value_name="images")
    totals = long.groupby("split")["images"].transform("sum")
    long["percent"] = (100 * long["images"] / totals.where(totals > 0, 1)).round(1)
    return long
