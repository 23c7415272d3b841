"""EvalReport: every score of one model on one labelled set, as tables, text and JSON."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..io import jsonable
from .calibration import ECE_BINS
from .mistakes import confused_pairs, per_image

#: Points kept per curve by :meth:`EvalReport.to_dict`.
MAX_CURVE_POINTS = 200


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
        return jsonable(out)

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
        return jsonable(out)

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



def _downsample(curve: Mapping[str, np.ndarray], max_points: int) -> dict[str, list[float]]:
    """Keep <= ``max_points`` evenly spaced points of every array (first and last always kept)."""
    m = len(next(iter(curve.values()))) if curve else 0
    if m > max_points:
        idx = np.unique(np.round(np.linspace(0, m - 1, max(2, max_points))).astype(int))
    else:
        idx = np.arange(m)
    return {k: np.asarray(v)[idx].astype(float).tolist() for k, v in curve.items()}

