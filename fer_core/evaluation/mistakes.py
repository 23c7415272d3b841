"""Per-image results and the mistakes worth looking at: confident errors, confused class pairs."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .checks import check_int, check_predictions


def per_image(y_true: Any, probs: Any, classes: Sequence[str] | None = None, sources: Any = None) -> pd.DataFrame:
    """One row per image: ``source``, ``true``, ``pred`` (class names), ``confidence`` (top
    probability), ``correct`` (bool), ``p_true`` (probability given to the true class).

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    probs : array-like of float, shape (n_samples, n_classes)
    classes : sequence of str, shape (n_classes,), optional
    sources : array-like of str, shape (n_samples,), optional (defaults to the row numbers)
    """
    y, P, classes = check_predictions(y_true, probs, classes, caller="per_image")
    n = len(y)
    if sources is None:
        sources = np.arange(n).astype(str)
    sources = np.asarray(sources, dtype=str)
    if sources.shape != (n,):
        raise DataError(f"per_image: sources must have shape ({n},) like y_true, got {sources.shape}.")
    pred = P.argmax(axis=1)
    names = np.asarray(classes, dtype=object)
    return pd.DataFrame({
        "source": sources, "true": names[y], "pred": names[pred], "confidence": P.max(axis=1),
        "correct": pred == y, "p_true": P[np.arange(n), y],
    })


def most_confident_mistakes(df: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` wrong predictions made with the highest confidence (rows of :func:`per_image`)."""
    k = check_int(k, "k", 0, "most_confident_mistakes")
    need = {"correct", "confidence"}
    if not need <= set(df.columns):
        raise DataError(f"most_confident_mistakes: expected a per_image() table with columns {sorted(need)}, "
                        f"got {list(df.columns)}.")
    wrong = df[~df["correct"].astype(bool)]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(k)


def confused_pairs(cm: pd.DataFrame | np.ndarray, k: int = 10) -> pd.DataFrame:
    """The ``k`` most frequent off-diagonal (true, predicted) pairs of a confusion matrix.

    Parameters
    ----------
    cm : DataFrame (C, C) of counts indexed by class (rows true, columns predicted), or an ndarray
    k : how many pairs to return

    Returns
    -------
    DataFrame with columns ``true``, ``pred``, ``count`` and ``rate`` (count / images of the true
    class), sorted by count then rate, zero counts left out.
    """
    k = check_int(k, "k", 0, "confused_pairs")
    if isinstance(cm, pd.DataFrame):
        rows, cols, counts = [str(i) for i in cm.index], [str(c) for c in cm.columns], cm.to_numpy()
    else:
        counts = np.asarray(cm)
        rows = cols = [str(i) for i in range(counts.shape[0])] if counts.ndim == 2 else []
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise DataError(f"confused_pairs: expected a square confusion matrix, got shape {counts.shape}.")
    totals = counts.sum(axis=1)
    recs = [(rows[i], cols[j], int(counts[i, j]), float(counts[i, j] / totals[i]))
            for i in range(len(rows)) for j in range(len(cols)) if i != j and counts[i, j] > 0]
    out = pd.DataFrame(recs, columns=["true", "pred", "count", "rate"])
    return out.sort_values(["count", "rate"], ascending=False, kind="stable").head(k).reset_index(drop=True)

