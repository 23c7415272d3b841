"""Display tables of fer_core objects: metrics with CIs, runs, datasets, probabilities, predictions."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def fmt_ci(value: float | None, low: float | None, high: float | None, pct: bool = True) -> str:
    """``"71.3% (68.0–74.7)"`` or ``"0.702 (0.671–0.733)"``; the point alone when the CI is NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.3f}")
    unit = "%" if pct else ""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"{f(value)}{unit}"
    return f"{f(value)}{unit} ({f(low)}–{f(high)})"


def accuracy_text(report: Any) -> str:
    """A report's accuracy with its 95% CI, e.g. ``"71.3% (68.0–74.7)"``."""
    return fmt_ci(report.accuracy, *report.ci["accuracy"])


def macro_f1_text(report: Any) -> str:
    """A report's macro-F1 with its 95% CI, e.g. ``"0.702 (0.671–0.733)"``."""
    return fmt_ci(report.macro_f1, *report.ci["macro_f1"], pct=False)


#: The :func:`metrics_table` column of the accuracy on the test faces with no twin in train.
UNSEEN_COLUMN = "accuracy, no train twin"


def metrics_table(reports: Mapping[str, Any], twins: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per named EvalReport: accuracy and macro-F1 with CIs, top-2, weighted F1, AUC, ECE, log loss.

    ``twins`` ({name: :func:`~fer_core.evaluation.leakage.leakage_figures` dict or None}) adds the
    column :data:`UNSEEN_COLUMN`: the accuracy on the test faces with no pixel-identical twin in
    train, and how many they are ("–" where a model has no such figure)."""
    rows = []
    for name, r in reports.items():
        row = {"model": name, "images": r.n, "accuracy (95% CI)": accuracy_text(r)}
        if twins is not None:  # beside the accuracy it qualifies
            fig = twins.get(name)
            row[UNSEEN_COLUMN] = ("–" if not fig or fig.get("accuracy_rest") is None
                                  else f"{fig['accuracy_rest']:.1%} of {fig['n_rest']:,}")
        rows.append(row | {"macro-F1 (95% CI)": macro_f1_text(r), "top-2 accuracy": f"{r.top2_accuracy:.1%}",
                           "weighted F1": round(r.weighted_f1, 3),
                           "AUC (macro)": round(r.auc["macro"], 3) if not math.isnan(r.auc["macro"]) else None,
                           "ECE": round(r.ece, 3), "log loss": round(r.log_loss, 3)})
    return pd.DataFrame(rows)


def evaluated_on(reports: Iterable[Any]) -> list[str]:
    """The distinct ``"dataset / split"`` the reports were scored on, sorted."""
    return sorted({f"{r.meta.get('dataset') or '?'} / {r.meta.get('split') or 'test'}" for r in reports})


def probability_table(probs: Mapping[str, Sequence[float]], classes: Sequence[str]) -> pd.DataFrame:
    """One row per model: its predicted class, then its probability of every class."""
    table = pd.DataFrame({k: list(v) for k, v in probs.items()}, index=list(classes)).T
    table.insert(0, "predicted", [classes[int(np.argmax(p))] for p in probs.values()])
    return table


def runs_table(runs: Iterable[Any]) -> pd.DataFrame:
    """Every run: id, name, model, dataset, status, test accuracy, macro-F1, created."""
    return pd.DataFrame([{"id": r.id, "name": r.name, "model": r.model, "dataset": r.dataset, "status": r.status,
                          "test accuracy": r.test_accuracy, "macro-F1": r.macro_f1, "created": r.created}
                         for r in runs])


def datasets_table(entries: Iterable[Any]) -> pd.DataFrame:
    """Registered datasets: name, path, format, exists, added."""
    return pd.DataFrame([{"name": e.name, "path": e.path, "format": e.format, "exists": e.exists, "added": e.added}
                         for e in entries])


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def format_bytes(n: int) -> str:
    """``"512 B"``, ``"3.4 KB"``, ``"12.0 MB"``, ``"1.2 GB"`` (powers of 1024)."""
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (``=cmd|...``, ``@SUM``...) gets a leading
    apostrophe; numbers and other text are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def predictions_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """CSV bytes of prediction rows (``PhotoResult.rows()``), columns in first-seen order; text cells
    that would start a spreadsheet formula (file names such as ``=HYPERLINK(...).jpg``) are neutralised."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    table = pd.DataFrame([{k: safe_cell(r.get(k)) for k in fields} for r in rows], columns=fields)
    return table.to_csv(index=False).encode("utf-8")
