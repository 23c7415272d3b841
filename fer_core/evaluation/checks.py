"""Validation shared by the scores: labels against predicted probabilities, integer options."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, DataError

#: Tolerance on ``probs`` rows summing to 1.
SUM_TOL = 1e-3


def check_predictions(
    y_true: Any, probs: Any, classes: Sequence[str] | None = None, *, caller: str = "evaluate_probs"
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate true labels and predicted probabilities; return them cleaned.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,), values in 0..n_classes-1
    probs : array-like of float, shape (n_samples, n_classes), rows summing to 1
    classes : sequence of str of length n_classes, optional (defaults to "0", "1", ...)

    Returns
    -------
    y_true : int64 (n,), probs : float64 (n, C), classes : tuple of str
    """
    probs = np.asarray(probs)
    if probs.dtype == object or not np.issubdtype(probs.dtype, np.number) or np.issubdtype(probs.dtype, np.complexfloating):
        raise DataError(f"{caller}: probs must be numeric, got dtype {probs.dtype}.")
    if probs.ndim != 2:
        hint = (" Got 1D array: pass the (n_samples, n_classes) probabilities, not the predicted labels."
                if probs.ndim == 1 else "")
        raise DataError(f"{caller}: expected probs of shape (n_samples, n_classes), got an array of shape "
                        f"{probs.shape}.{hint}")
    n, C = probs.shape
    if n == 0:
        raise DataError(f"{caller}: got 0 samples; at least 1 is needed.")
    if C < 2:
        raise DataError(f"{caller}: probs has {C} column(s); a classifier needs at least 2 classes.")
    probs = probs.astype(np.float64, copy=False)
    if not np.isfinite(probs).all():
        row = int(np.argwhere(~np.isfinite(probs))[0, 0])
        raise DataError(f"{caller}: probs contains NaN or infinity (first in row {row}); check the model's "
                        "output.")
    if probs.min() < -SUM_TOL or probs.max() > 1 + SUM_TOL:
        raise DataError(f"{caller}: probs must lie in [0, 1], got values in [{probs.min():.4g}, "
                        f"{probs.max():.4g}]. If these are logits, apply a softmax first.")
    sums = probs.sum(axis=1)
    bad = np.abs(sums - 1.0) > SUM_TOL
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{caller}: each row of probs must sum to 1 (softmax probabilities); row {row} sums "
                        f"to {sums[row]:.6g} ({int(bad.sum())} row(s) off by more than {SUM_TOL}). If these "
                        "are logits or scores, apply a softmax first.")

    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{caller}: expected y_true of shape (n_samples,), got shape {y.shape}. For one-hot "
                        "labels pass y.argmax(axis=1).")
    if len(y) != n:
        raise DataError(f"{caller}: y_true has {len(y)} labels but probs has {n} rows; they must be aligned.")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{caller}: y_true must hold integer class indices 0..{C - 1}, got dtype {y.dtype}. "
                        "Map class names to indices first (e.g. classes.index(name)).")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.isfinite(y).all() and np.all(y == np.round(y))):
            raise DataError(f"{caller}: y_true must hold integer class indices, got non-integer values.")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= C:
        raise DataError(f"{caller}: y_true values must lie in 0..{C - 1} (probs has {C} columns), got "
                        f"values in {int(y.min())}..{int(y.max())}.")

    if classes is None:
        classes = tuple(str(i) for i in range(C))
    else:
        if isinstance(classes, str):
            raise DataError(f"{caller}: classes must be a sequence of class names, got the string {classes!r}.")
        classes = tuple(str(c) for c in classes)
        if len(classes) != C:
            raise DataError(f"{caller}: got {len(classes)} class names for {C} probability columns; pass one "
                            "name per column, in column order.")
        if len(set(classes)) != C:
            raise DataError(f"{caller}: class names must be unique, got {list(classes)}.")
    return y, probs, classes


def check_int(value: Any, name: str, minimum: int, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{caller}: {name} must be an int >= {minimum}, got {value!r}.")
    return int(value)

