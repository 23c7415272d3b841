"""Calibration: expected and maximum calibration error and the reliability table."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .checks import check_int, check_predictions

#: Equal-width confidence bins of the expected calibration error (Guo et al., 2017).
ECE_BINS = 15


def calibration_bins(P: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[float, float, pd.DataFrame]:
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin i holds confidences in (edges[i], edges[i+1]]; a confidence of 0 joins the first bin
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    gap = np.abs(acc - mean_conf)
    filled = count > 0
    ece = float(np.sum(count[filled] / len(P) * gap[filled]))
    mce = float(gap[filled].max()) if filled.any() else math.nan
    rel = pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "confidence": mean_conf,
                        "accuracy": acc, "count": count.astype(int)})
    return ece, mce, rel


def expected_calibration_error(y_true: Any, probs: Any, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top-class confidence over ``n_bins`` equal-width bins.

    ECE = sum over bins of (images in bin / n) * |accuracy in bin - mean confidence in bin|.
    """
    y, P, _ = check_predictions(y_true, probs, caller="expected_calibration_error")
    n_bins = check_int(n_bins, "n_bins", 1, "expected_calibration_error")
    return calibration_bins(P, y, n_bins)[0]


def _tempered_logits(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """``log_probs / temperature``, shifted so each row's maximum is 0 (float64)."""
    z = log_probs / temperature
    return z - z.max(axis=1, keepdims=True)


def _log_probs(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs.astype(np.float64), 1e-12, None))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)`` row-wise: > 1 softens, < 1 sharpens, argmax kept."""
    if temperature == 1.0:
        return probs
    e = np.exp(_tempered_logits(_log_probs(probs), temperature))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_temperature(y_true: Any, probs: Any) -> float:
    """The temperature T minimising the negative log-likelihood of ``softmax(log(probs) / T)``.

    Temperature scaling (Guo et al., ICML 2017): fit on held-out faces (validation, never the test
    split), it changes confidences, not the predicted classes. T > 1 means ``probs`` were
    over-confident, T < 1 under-confident. Searched over 0.05..20 (log scale).
    """
    from scipy.optimize import minimize_scalar

    y, P, _ = check_predictions(y_true, probs, caller="fit_temperature")
    logp = _log_probs(P)

    def nll(log_t: float) -> float:
        z = _tempered_logits(logp, math.exp(log_t))
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    res = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded",
                          options={"xatol": 1e-4})
    return float(math.exp(res.x))
