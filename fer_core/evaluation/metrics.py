"""Scores of a classifier computed from its predicted probabilities alone (numpy + scikit-learn).

>>> report = evaluate_probs(y_true, probs, CLASSES, sources=sources)   # doctest: +SKIP
>>> report.accuracy, report.ci["accuracy"], report.auc["macro"], report.ece  # doctest: +SKIP

Conventions (scikit-learn's): ``*_score`` is higher-better, ``*_loss`` lower-better; macro and
weighted averages run over the classes present in ``y_true`` or in the predictions, an
ill-defined precision/recall (no prediction / no image of that class) counts as 0. A class with
no image and no prediction has NaN precision/recall/F1 and no part in the averages; a class with
no image has AUC and average precision NaN (one-vs-rest needs both positives and negatives).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from .calibration import ECE_BINS, calibration_bins
from .checks import check_int, check_predictions
from .report import EvalReport
from .significance import accuracy_from_cm, bootstrap_confusions, macro_f1_from_cm, percentile_ci

__all__ = ["evaluate_predictions", "evaluate_probs"]


# -- evaluation ------------------------------------------------------------------------------
def evaluate_probs(
    y_true: Any,
    probs: Any,
    classes: Sequence[str] | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    sources: Any = None,
    unpredictable: Mapping[str, int] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> EvalReport:
    """Score predicted class probabilities against true labels.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,), class indices 0..n_classes-1
    probs : array-like of float, shape (n_samples, n_classes), rows summing to 1
    classes : sequence of str, shape (n_classes,), names of the columns (default "0", "1", ...)
    n_bootstrap : resamples for the 95% confidence intervals of accuracy and macro-F1 (0: none)
    seed : seed of the bootstrap
    sources : array-like of str, shape (n_samples,), optional image ids (kept for :func:`per_image`)
    unpredictable : {data class: images} excluded beforehand because the model cannot predict their
        class (see :func:`align_labels`); reported, not scored
    meta : context stored with the report (dataset, split, model, tta, ...)

    Returns
    -------
    EvalReport
    """
    y, P, classes = check_predictions(y_true, probs, classes, caller="evaluate_probs")
    reserved = sorted({"micro", "macro"} & set(classes))
    if reserved:
        raise DataError(f"evaluate_probs: class names {reserved} are reserved for the averaged curves; rename "
                        "those classes.")
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 0, "evaluate_probs")
    seed = check_int(seed, "seed", 0, "evaluate_probs")
    n, C = P.shape
    if sources is not None:
        sources = np.asarray(sources, dtype=str)
        if sources.shape != (n,):
            raise DataError(f"evaluate_probs: sources must have shape ({n},) like y_true, got {sources.shape}.")

    from sklearn.metrics import f1_score, precision_recall_fscore_support, precision_score, recall_score

    pred = P.argmax(axis=1)
    ids = list(range(C))
    p, r, f1, support = precision_recall_fscore_support(y, pred, labels=ids, zero_division=0)
    predicted = np.bincount(pred, minlength=C)
    unused = (support == 0) & (predicted == 0)  # neither true nor predicted: excluded from averages
    p, r, f1 = (np.where(unused, np.nan, a.astype(float)) for a in (p, r, f1))

    def avg(fn, how: str) -> float:
        return float(fn(y, pred, average=how, zero_division=0))

    cm = np.bincount(y * C + pred, minlength=C * C).reshape(C, C)
    rows = cm.sum(axis=1, keepdims=True)
    cm_norm = np.divide(cm, rows, out=np.full(cm.shape, np.nan), where=rows > 0)
    names = pd.Index(classes, name="true")
    cols = pd.Index(classes, name="predicted")

    onehot = np.zeros_like(P)
    onehot[np.arange(n), y] = 1.0
    roc, auc, pr, ap = _curves(onehot, P, classes)

    ece, mce, rel = calibration_bins(P, y, ECE_BINS)
    p_true = P[np.arange(n), y]
    log_loss = float(-np.mean(np.log(np.clip(p_true, 1e-15, 1.0))))
    brier = float(np.mean(np.sum((P - onehot) ** 2, axis=1)))

    ci = {"accuracy": (math.nan, math.nan), "macro_f1": (math.nan, math.nan)}
    if n_bootstrap:
        cms = bootstrap_confusions([y * C + pred], C, n, n_bootstrap, seed)[0]
        ci = {"accuracy": percentile_ci(accuracy_from_cm(cms)), "macro_f1": percentile_ci(macro_f1_from_cm(cms))}

    per_class = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f1, "support": support.astype(int), "predicted": predicted.astype(int),
         "auc": [auc[c] for c in classes], "average_precision": [ap[c] for c in classes]},
        index=pd.Index(classes, name="class"),
    )
    return EvalReport(
        classes=classes, n=int(n), accuracy=float(np.mean(pred == y)), top2_accuracy=_top_k(y, P, 2),
        per_class=per_class,
        macro_precision=avg(precision_score, "macro"), macro_recall=avg(recall_score, "macro"),
        macro_f1=avg(f1_score, "macro"), weighted_precision=avg(precision_score, "weighted"),
        weighted_recall=avg(recall_score, "weighted"), weighted_f1=avg(f1_score, "weighted"),
        confusion=pd.DataFrame(cm, index=names, columns=cols),
        confusion_normalized=pd.DataFrame(cm_norm, index=names.copy(), columns=cols.copy()),
        roc=roc, auc=auc, pr=pr, average_precision=ap, ece=ece, mce=mce, reliability=rel,
        log_loss=log_loss, brier=brier, ci=ci, n_bootstrap=n_bootstrap, seed=seed,
        unpredictable={str(k): int(v) for k, v in (unpredictable or {}).items()},
        meta=dict(meta or {}), y_true=y, probs=P, sources=sources,
    )


def evaluate_predictions(predictions: Mapping[str, Any], **kwargs: Any) -> EvalReport:
    """Score a run's saved ``predictions.npz`` (keys ``probs``, ``labels``, ``classes``, ``sources``).

    ``kwargs`` go to :func:`evaluate_probs`; ``meta["split"]`` is filled from the file's ``split``.
    """
    missing = [k for k in ("probs", "labels") if k not in predictions]
    if missing:
        raise DataError(f"evaluate_predictions: the predictions lack {missing}; expected the arrays "
                        f"probs, labels[, classes, sources, split], got keys {sorted(predictions)}.")
    classes = predictions.get("classes")
    meta = dict(kwargs.pop("meta", None) or {})
    if "split" in predictions:
        meta.setdefault("split", str(np.asarray(predictions["split"])))
    return evaluate_probs(predictions["labels"], predictions["probs"],
                          None if classes is None else [str(c) for c in np.asarray(classes)],
                          sources=predictions.get("sources"), meta=meta, **kwargs)


def _top_k(y: np.ndarray, P: np.ndarray, k: int) -> float:
    if P.shape[1] <= k:
        return 1.0
    from sklearn.metrics import top_k_accuracy_score

    return float(top_k_accuracy_score(y, P, k=k, labels=np.arange(P.shape[1])))


def _curves(onehot: np.ndarray, P: np.ndarray, classes: tuple[str, ...]):
    """One-vs-rest ROC and precision-recall curves, per class, micro- and macro-averaged."""
    from sklearn.metrics import auc as area, average_precision_score, precision_recall_curve, roc_curve

    n = len(P)
    empty = np.zeros(0)
    roc: dict[str, dict[str, np.ndarray]] = {}
    pr: dict[str, dict[str, np.ndarray]] = {}
    aucs: dict[str, float] = {}
    aps: dict[str, float] = {}
    for k, c in enumerate(classes):
        pos = int(onehot[:, k].sum())
        if 0 < pos < n:
            fpr, tpr, _ = roc_curve(onehot[:, k], P[:, k])
            prec, rec, _ = precision_recall_curve(onehot[:, k], P[:, k])
            roc[c], aucs[c] = {"fpr": fpr, "tpr": tpr}, float(area(fpr, tpr))
            pr[c], aps[c] = {"precision": prec, "recall": rec}, float(average_precision_score(onehot[:, k], P[:, k]))
        else:  # no positives (absent class) or no negatives (a one-class set): undefined
            roc[c], aucs[c] = {"fpr": empty, "tpr": empty}, math.nan
            pr[c], aps[c] = {"precision": empty, "recall": empty}, math.nan
    fpr, tpr, _ = roc_curve(onehot.ravel(), P.ravel())
    roc["micro"], aucs["micro"] = {"fpr": fpr, "tpr": tpr}, float(area(fpr, tpr))
    prec, rec, _ = precision_recall_curve(onehot.ravel(), P.ravel())
    pr["micro"] = {"precision": prec, "recall": rec}
    aps["micro"] = float(average_precision_score(onehot.ravel(), P.ravel()))
    defined = [c for c in classes if not math.isnan(aucs[c])]
    if defined:  # macro ROC curve: mean TPR of the per-class curves on the union of their FPRs
        grid = np.unique(np.concatenate([roc[c]["fpr"] for c in defined]))
        mean_tpr = np.mean([np.interp(grid, roc[c]["fpr"], roc[c]["tpr"]) for c in defined], axis=0)
        roc["macro"] = {"fpr": grid, "tpr": mean_tpr}
        aucs["macro"] = float(np.mean([aucs[c] for c in defined]))
        aps["macro"] = float(np.mean([aps[c] for c in defined]))
    else:
        roc["macro"], aucs["macro"], aps["macro"] = {"fpr": empty, "tpr": empty}, math.nan, math.nan
    return roc, aucs, pr, aps

