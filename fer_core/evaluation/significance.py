"""Is model A really better than model B? Paired bootstrap, McNemar's test, bootstrap intervals."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from .checks import check_int, check_predictions

#: Bootstrap resamples drawn per vectorised chunk are capped at this many indices in all.
_CHUNK_ELEMENTS = 2_000_000


def bootstrap_confusions(codes: list[np.ndarray], C: int, n: int, n_boot: int, seed: int) -> list[np.ndarray]:
    """Confusion matrices (n_boot, C, C) of each code array (true * C + pred) on shared resamples."""
    rng = np.random.default_rng(seed)
    out = [np.empty((n_boot, C, C), dtype=np.int64) for _ in codes]
    chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    offsets = None
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        if offsets is None or len(offsets) != b:
            offsets = (np.arange(b) * C * C)[:, None]
        for code, dst in zip(codes, out):
            flat = np.bincount((code[idx] + offsets).ravel(), minlength=b * C * C)
            dst[start:start + b] = flat.reshape(b, C, C)
    return out


def accuracy_from_cm(cms: np.ndarray) -> np.ndarray:
    """Accuracy of each (…, C, C) confusion matrix."""
    return np.trace(cms, axis1=-2, axis2=-1) / cms.sum(axis=(-2, -1))


def macro_f1_from_cm(cms: np.ndarray) -> np.ndarray:
    """Macro-F1 of each (…, C, C) confusion matrix, scikit-learn's convention.

    F1_k = 2 tp / (2 tp + fp + fn), averaged over the classes that are true or predicted at least
    once (the others have a zero denominator and are left out).
    """
    tp = np.diagonal(cms, axis1=-2, axis2=-1).astype(float)
    fp = cms.sum(axis=-2) - tp
    fn = cms.sum(axis=-1) - tp
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, np.nan)
    used = (denom > 0).sum(axis=-1)
    return np.nansum(f1, axis=-1) / np.maximum(used, 1)


_METRICS = {"accuracy": accuracy_from_cm, "macro_f1": macro_f1_from_cm}


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def paired_bootstrap(
    y_true: Any, probs_a: Any, probs_b: Any, metric: str = "accuracy", n: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Is model A really better than model B on these images? Paired bootstrap + McNemar's test.

    Both models are scored on the same resamples of the images, so the spread of the difference
    reflects only where they disagree.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    probs_a, probs_b : array-like of float, shape (n_samples, n_classes), the two models' probabilities
        on the same images in the same order
    metric : ``"accuracy"`` or ``"macro_f1"``
    n : number of bootstrap resamples
    seed : seed of the resampling

    Returns
    -------
    dict with ``metric``, ``a``, ``b`` (point estimates), ``diff`` (a - b), ``ci_low``/``ci_high``
    (95% percentile interval of the difference), ``p_a_better`` (fraction of resamples with A > B),
    ``p_b_better``, ``n_resamples``, and McNemar's test on the paired correct/incorrect table:
    ``a_only_correct``, ``b_only_correct``, ``both_correct``, ``both_wrong``,
    ``mcnemar_p_exact``, ``mcnemar_chi2``, ``mcnemar_p_chi2``.
    """
    if metric not in _METRICS:
        raise ConfigError(f"paired_bootstrap: metric must be one of {sorted(_METRICS)}, got {metric!r}.")
    n_boot = check_int(n, "n", 1, "paired_bootstrap")
    seed = check_int(seed, "seed", 0, "paired_bootstrap")
    shape_a, shape_b = np.shape(probs_a), np.shape(probs_b)
    if shape_a != shape_b:
        raise DataError(f"paired_bootstrap: probs_a and probs_b must have the same shape, got {shape_a} and "
                        f"{shape_b}; score both models on the same images and classes.")
    y, A, _ = check_predictions(y_true, probs_a, caller="paired_bootstrap (probs_a)")
    _, B, _ = check_predictions(y, probs_b, caller="paired_bootstrap (probs_b)")
    N, C = A.shape
    pa, pb = A.argmax(1), B.argmax(1)
    fn = _METRICS[metric]
    full = [np.bincount(y * C + p, minlength=C * C).reshape(C, C) for p in (pa, pb)]
    a, b = float(fn(full[0])), float(fn(full[1]))
    cms_a, cms_b = bootstrap_confusions([y * C + pa, y * C + pb], C, N, n_boot, seed)
    diff = fn(cms_a) - fn(cms_b)
    lo, hi = percentile_ci(diff)
    test = mcnemar(pa == y, pb == y)
    return {"metric": metric, "a": a, "b": b, "diff": a - b, "ci_low": lo, "ci_high": hi,
            "p_a_better": float(np.mean(diff > 0)), "p_b_better": float(np.mean(diff < 0)),
            "n_resamples": n_boot, "seed": seed, **test}


def mcnemar(correct_a: Any, correct_b: Any) -> dict[str, Any]:
    """McNemar's test on paired correct/incorrect outcomes of two models on the same images.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_samples,)

    Returns
    -------
    dict with the table counts ``both_correct``, ``a_only_correct`` (b), ``b_only_correct`` (c),
    ``both_wrong``; ``mcnemar_p_exact`` (two-sided binomial test of b vs c),
    ``mcnemar_chi2`` = (max(|b - c| - 1, 0))^2 / (b + c) with continuity correction and its
    ``mcnemar_p_chi2`` (1 degree of freedom). With b + c = 0 both p-values are 1.
    """
    from scipy.stats import binom, chi2

    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape or ca.ndim != 1:
        raise DataError(f"mcnemar: expected two boolean arrays of the same shape (n_samples,), got {ca.shape} "
                        f"and {cb.shape}.")
    b = int(np.sum(ca & ~cb))
    c = int(np.sum(~ca & cb))
    out = {"both_correct": int(np.sum(ca & cb)), "a_only_correct": b, "b_only_correct": c,
           "both_wrong": int(np.sum(~ca & ~cb))}
    if b + c == 0:
        return {**out, "mcnemar_p_exact": 1.0, "mcnemar_chi2": 0.0, "mcnemar_p_chi2": 1.0}
    p_exact = min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5)))
    stat = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    return {**out, "mcnemar_p_exact": p_exact, "mcnemar_chi2": float(stat), "mcnemar_p_chi2": float(chi2.sf(stat, 1))}

