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
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.labels import SYNONYMS, canonical_name
from ..errors import ConfigError, DataError

__all__ = [
    "ECE_BINS", "MAX_CURVE_POINTS", "EvalReport", "align_classes", "align_labels", "check_predictions",
    "confused_pairs", "evaluate_predictions", "evaluate_probs", "expected_calibration_error",
    "mcnemar", "most_confident_mistakes", "paired_bootstrap", "per_image",
]

#: Equal-width confidence bins of the expected calibration error (Guo et al., 2017).
ECE_BINS = 15
#: Points kept per curve by :meth:`EvalReport.to_dict`.
MAX_CURVE_POINTS = 200
#: Tolerance on ``probs`` rows summing to 1.
SUM_TOL = 1e-3
#: Bootstrap resamples drawn per vectorised chunk are capped at this many indices in all.
_CHUNK_ELEMENTS = 2_000_000


# -- validation ------------------------------------------------------------------------------
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


def _check_int(value: Any, name: str, minimum: int, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{caller}: {name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


# -- the report ------------------------------------------------------------------------------
@dataclass(repr=False)
class EvalReport:
    """Every score of one model on one labelled set, computed from predicted probabilities.

    Attributes
    ----------
    classes : tuple of str, shape (C,), the model's classes (column order of ``probs``)
    n : number of images scored
    accuracy, top2_accuracy : fractions in [0, 1]
    per_class : DataFrame indexed by class with columns precision, recall, f1, support
        (images of the class), predicted (images predicted as it), auc, average_precision
    macro_precision, macro_recall, macro_f1, weighted_precision, weighted_recall, weighted_f1 : floats
    confusion : DataFrame (C, C) of counts, index = true class, columns = predicted class
    confusion_normalized : the same divided by each row's total (rows of absent classes NaN)
    roc : {class | "micro" | "macro": {"fpr": ndarray, "tpr": ndarray}} one-vs-rest ROC curves
        (empty arrays for a class without images)
    auc : {class | "micro" | "macro": float} areas under those curves (NaN when undefined)
    pr : {class | "micro": {"precision": ndarray, "recall": ndarray}} precision-recall curves
    average_precision : {class | "micro" | "macro": float}
    ece, mce : expected and maximum calibration error over :data:`ECE_BINS` equal-width bins of the
        top-class confidence
    reliability : DataFrame (ECE_BINS rows) bin_lower, bin_upper, confidence, accuracy, count
    log_loss, brier : mean negative log-likelihood of the true class, mean multi-class Brier score
    ci : {"accuracy": (low, high), "macro_f1": (low, high)} 95% percentile bootstrap intervals
        ((NaN, NaN) when ``n_bootstrap == 0``)
    n_bootstrap, seed : the bootstrap settings used
    unpredictable : {data class: images} of classes the model cannot predict, excluded from every
        score above (see :func:`align_classes`); {} when the classes match
    meta : free-form context (dataset, split, model, tta, ...), kept in :meth:`to_dict`
    y_true, probs, sources : the inputs (int64 (n,), float64 (n, C), str (n,) or None)
    """

    classes: tuple[str, ...]
    n: int
    accuracy: float
    top2_accuracy: float
    per_class: pd.DataFrame
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    confusion: pd.DataFrame
    confusion_normalized: pd.DataFrame
    roc: dict[str, dict[str, np.ndarray]]
    auc: dict[str, float]
    pr: dict[str, dict[str, np.ndarray]]
    average_precision: dict[str, float]
    ece: float
    mce: float
    reliability: pd.DataFrame
    log_loss: float
    brier: float
    ci: dict[str, tuple[float, float]]
    n_bootstrap: int
    seed: int
    unpredictable: dict[str, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    y_true: np.ndarray | None = None
    probs: np.ndarray | None = None
    sources: np.ndarray | None = None

    # -- views ---------------------------------------------------------------------------
    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class indices, int64 (n,) (argmax of ``probs``)."""
        return self.probs.argmax(axis=1)

    @property
    def n_unpredictable(self) -> int:
        """Images left out because the model has no output for their class."""
        return int(sum(self.unpredictable.values()))

    def per_image(self) -> pd.DataFrame:
        """One row per scored image; see :func:`per_image`."""
        return per_image(self.y_true, self.probs, self.classes, self.sources)

    def confused_pairs(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` most frequent (true, predicted) confusions; see :func:`confused_pairs`."""
        return confused_pairs(self.confusion, k)

    def summary(self) -> dict[str, Any]:
        """The headline numbers as a flat JSON-safe dict (NaN becomes None)."""
        out = {
            "n": self.n,
            "n_classes": len(self.classes),
            "accuracy": self.accuracy,
            "accuracy_ci_low": self.ci["accuracy"][0],
            "accuracy_ci_high": self.ci["accuracy"][1],
            "top2_accuracy": self.top2_accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "macro_f1_ci_low": self.ci["macro_f1"][0],
            "macro_f1_ci_high": self.ci["macro_f1"][1],
            "weighted_f1": self.weighted_f1,
            "auc_macro": self.auc["macro"],
            "auc_micro": self.auc["micro"],
            "ap_macro": self.average_precision["macro"],
            "ece": self.ece,
            "log_loss": self.log_loss,
            "n_unpredictable": self.n_unpredictable,
        }
        return _json_safe(out)

    def to_dict(self, max_points: int = MAX_CURVE_POINTS) -> dict[str, Any]:
        """Everything but the raw per-image arrays, JSON-safe; curves keep <= ``max_points`` points."""
        out: dict[str, Any] = dict(self.summary())
        out["classes"] = list(self.classes)
        out["weighted_precision"] = self.weighted_precision
        out["weighted_recall"] = self.weighted_recall
        out["mce"] = self.mce
        out["brier"] = self.brier
        out["per_class"] = {c: dict(row) for c, row in self.per_class.to_dict(orient="index").items()}
        out["confusion_matrix"] = self.confusion.to_numpy().tolist()
        out["confusion_matrix_normalized"] = self.confusion_normalized.to_numpy().tolist()
        out["roc"] = {k: {**_downsample(v, max_points), "auc": self.auc.get(k)} for k, v in self.roc.items()}
        out["pr"] = {k: {**_downsample(v, max_points), "average_precision": self.average_precision.get(k)}
                     for k, v in self.pr.items()}
        out["auc"] = dict(self.auc)
        out["average_precision"] = dict(self.average_precision)
        out["calibration"] = {"ece": self.ece, "mce": self.mce, "bins": ECE_BINS,
                              "reliability": self.reliability.to_dict(orient="list")}
        out["ci"] = {"level": 0.95, "method": "percentile bootstrap", "n_bootstrap": self.n_bootstrap,
                     "seed": self.seed, **{k: list(v) for k, v in self.ci.items()}}
        out["unpredictable"] = dict(self.unpredictable)
        out["meta"] = dict(self.meta)
        return _json_safe(out)

    def format_text(self) -> str:
        """A plain-text report: headline numbers, then a per-class table."""
        def f(x: float, pct: bool = False) -> str:
            if x is None or (isinstance(x, float) and math.isnan(x)):
                return "-"
            return f"{100 * x:.1f}%" if pct else f"{x:.3f}"

        head = self.meta.get("name") or self.meta.get("model") or "model"
        where = " on ".join(str(v) for v in (self.meta.get("dataset"), self.meta.get("split")) if v)
        lines = [f"{head}{' - ' + where if where else ''}: {self.n} images, {len(self.classes)} classes"]
        lo, hi = self.ci["accuracy"]
        ci = f" (95% CI {f(lo, True)} - {f(hi, True)})" if not math.isnan(lo) else ""
        lines.append(f"accuracy       {f(self.accuracy, True)}{ci}   top-2 {f(self.top2_accuracy, True)}")
        lo, hi = self.ci["macro_f1"]
        ci = f" (95% CI {f(lo)} - {f(hi)})" if not math.isnan(lo) else ""
        lines.append(f"macro F1       {f(self.macro_f1)}{ci}   weighted F1 {f(self.weighted_f1)}")
        lines.append(f"macro P / R    {f(self.macro_precision)} / {f(self.macro_recall)}")
        lines.append(f"AUC macro      {f(self.auc['macro'])}   micro {f(self.auc['micro'])}   "
                     f"AP macro {f(self.average_precision['macro'])}")
        lines.append(f"calibration    ECE {f(self.ece)}   MCE {f(self.mce)}   log loss {f(self.log_loss)}")
        width = max(8, *(len(c) for c in self.classes))
        lines.append("")
        lines.append(f"{'class':<{width}}  precision  recall     f1    auc  support  predicted")
        for c, row in self.per_class.iterrows():
            lines.append(f"{c:<{width}}  {f(row.precision):>9}  {f(row.recall):>6}  {f(row.f1):>5}  "
                         f"{f(row.auc):>5}  {int(row.support):>7}  {int(row.predicted):>9}")
        if self.unpredictable:
            parts = ", ".join(f"{c} {k}" for c, k in self.unpredictable.items())
            lines.append("")
            lines.append(f"excluded (the model has no such class): {parts}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"EvalReport(n={self.n}, classes={len(self.classes)}, accuracy={self.accuracy:.4f}, "
                f"macro_f1={self.macro_f1:.4f}, ece={self.ece:.4f}"
                f"{f', unpredictable={self.n_unpredictable}' if self.unpredictable else ''})")


def _json_safe(obj: Any) -> Any:
    """Plain Python types, NaN/inf as None."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj


def _downsample(curve: Mapping[str, np.ndarray], max_points: int) -> dict[str, list[float]]:
    """Keep <= ``max_points`` evenly spaced points of every array (first and last always kept)."""
    m = len(next(iter(curve.values()))) if curve else 0
    if m > max_points:
        idx = np.unique(np.round(np.linspace(0, m - 1, max(2, max_points))).astype(int))
    else:
        idx = np.arange(m)
    return {k: np.asarray(v)[idx].astype(float).tolist() for k, v in curve.items()}


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
    n_bootstrap = _check_int(n_bootstrap, "n_bootstrap", 0, "evaluate_probs")
    seed = _check_int(seed, "seed", 0, "evaluate_probs")
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

    ece, mce, rel = _calibration(P, y, ECE_BINS)
    p_true = P[np.arange(n), y]
    log_loss = float(-np.mean(np.log(np.clip(p_true, 1e-15, 1.0))))
    brier = float(np.mean(np.sum((P - onehot) ** 2, axis=1)))

    ci = {"accuracy": (math.nan, math.nan), "macro_f1": (math.nan, math.nan)}
    if n_bootstrap:
        cms = _bootstrap_confusions([y * C + pred], C, n, n_bootstrap, seed)[0]
        ci = {"accuracy": _percentile_ci(_accuracy_from_cm(cms)), "macro_f1": _percentile_ci(_macro_f1_from_cm(cms))}

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


# -- calibration -----------------------------------------------------------------------------
def _calibration(P: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[float, float, pd.DataFrame]:
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
    n_bins = _check_int(n_bins, "n_bins", 1, "expected_calibration_error")
    return _calibration(P, y, n_bins)[0]


# -- bootstrap -------------------------------------------------------------------------------
def _bootstrap_confusions(codes: list[np.ndarray], C: int, n: int, n_boot: int, seed: int) -> list[np.ndarray]:
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


def _accuracy_from_cm(cms: np.ndarray) -> np.ndarray:
    """Accuracy of each (…, C, C) confusion matrix."""
    return np.trace(cms, axis1=-2, axis2=-1) / cms.sum(axis=(-2, -1))


def _macro_f1_from_cm(cms: np.ndarray) -> np.ndarray:
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


_METRICS = {"accuracy": _accuracy_from_cm, "macro_f1": _macro_f1_from_cm}


def _percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
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
    n_boot = _check_int(n, "n", 1, "paired_bootstrap")
    seed = _check_int(seed, "seed", 0, "paired_bootstrap")
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
    cms_a, cms_b = _bootstrap_confusions([y * C + pa, y * C + pb], C, N, n_boot, seed)
    diff = fn(cms_a) - fn(cms_b)
    lo, hi = _percentile_ci(diff)
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


# -- per image -------------------------------------------------------------------------------
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
    k = _check_int(k, "k", 0, "most_confident_mistakes")
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
    k = _check_int(k, "k", 0, "confused_pairs")
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


# -- cross-dataset ---------------------------------------------------------------------------
def _class_key(name: str) -> str:
    key = canonical_name(str(name))
    return SYNONYMS.get(key, key)


def align_classes(model_classes: Sequence[str], data_classes: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map a dataset's classes onto a model's outputs.

    Names match after lower-casing and the usual synonyms ("happiness" is "happy").

    Parameters
    ----------
    model_classes : sequence of str, the model's output classes in column order
    data_classes : sequence of str, the dataset's classes (its label order)

    Returns
    -------
    mapping : int64 array of shape (len(data_classes),): the model column of each data class, or -1
        when the model cannot predict it
    unpredictable : tuple of the data classes mapped to -1 (their images must be reported and left
        out of the scores). Model classes the dataset lacks need nothing: predictions into them
        simply count as errors.
    """
    model_keys = [_class_key(c) for c in model_classes]
    dup = sorted({c for c in model_keys if model_keys.count(c) > 1})
    if dup:
        raise DataError(f"align_classes: the model's classes {list(model_classes)} name {dup} more than once.")
    data_keys = [_class_key(c) for c in data_classes]
    dup = sorted({c for c in data_keys if data_keys.count(c) > 1})
    if dup:
        raise DataError(f"align_classes: the dataset's classes {list(data_classes)} name {dup} more than once.")
    lookup = {k: i for i, k in enumerate(model_keys)}
    mapping = np.array([lookup.get(k, -1) for k in data_keys], dtype=np.int64)
    unpredictable = tuple(str(c) for c, m in zip(data_classes, mapping) if m < 0)
    return mapping, unpredictable


def align_labels(
    labels: Any, data_classes: Sequence[str], model_classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Re-index a dataset's labels onto a model's classes.

    Returns
    -------
    y_model : int64 (n_kept,), labels in the model's class indices, for the images kept
    keep : bool (n,), images whose class the model can predict
    unpredictable : {data class: images} for every data class the model cannot predict (0 included)
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1:
        raise DataError(f"align_labels: expected labels of shape (n,), got {labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(data_classes)):
        raise DataError(f"align_labels: labels must lie in 0..{len(data_classes) - 1} (one per data class).")
    mapping, missing = align_classes(model_classes, data_classes)
    mapped = mapping[labels]
    keep = mapped >= 0
    counts = np.bincount(labels[~keep], minlength=len(data_classes))
    unpredictable = {str(c): int(counts[i]) for i, c in enumerate(data_classes) if mapping[i] < 0}
    return mapped[keep], keep, unpredictable
