"""The leaderboard: finished runs ranked by test accuracy (then macro-F1), with 95% bootstrap CIs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pandas as pd

from .evaluation.evalset import run_report
from .runs import Run
from .tables import fmt_ci

#: Columns of :attr:`Leaderboard.table`.
COLUMNS = ["run", "model", "dataset", "synthetic", "split", "n", "accuracy", "acc_low", "acc_high", "macro_f1",
           "f1_low", "f1_high", "created", "id"]


@dataclass
class Leaderboard:
    """``table``: one row per scored run, best first; ``skipped``: (run, error) of runs not scored."""

    table: pd.DataFrame
    skipped: list[tuple[Run, Exception]] = field(default_factory=list)

    def display(self) -> pd.DataFrame:
        """The table as shown: run, model, dataset, synthetic, images, formatted CIs, created."""
        b = self.table
        return pd.DataFrame({
            "run": b["run"], "model": b["model"], "dataset": b["dataset"], "synthetic": b["synthetic"],
            "images": b["n"],
            "accuracy (95% CI)": [fmt_ci(a, lo, hi) for a, lo, hi in zip(b["accuracy"], b["acc_low"], b["acc_high"])],
            "macro-F1 (95% CI)": [fmt_ci(a, lo, hi, pct=False)
                                  for a, lo, hi in zip(b["macro_f1"], b["f1_low"], b["f1_high"])],
            "created": b["created"],
        })


def leaderboard(runs: Iterable[Run], report_of: Callable[[Run], Any] = run_report,
                errors: tuple[type[Exception], ...] = (Exception,)) -> Leaderboard:
    """Score ``runs`` with ``report_of`` (e.g. a cached :func:`run_report`) and rank them.

    Runs whose scoring raises one of ``errors`` are left out and listed in ``skipped``.
    """
    rows, skipped = [], []
    for run in runs:
        try:
            r = report_of(run)
        except errors as exc:
            skipped.append((run, exc))
            continue
        name = f"★ {run.name} ({run.id}, bundled)" if run.bundled else f"{run.name} · {run.id[-4:]}"
        rows.append({"run": name, "model": run.model, "dataset": run.dataset,
                     "synthetic": str(run.dataset).startswith("synthetic"), "split": r.meta.get("split", "test"),
                     "n": r.n, "accuracy": r.accuracy, "acc_low": r.ci["accuracy"][0],
                     "acc_high": r.ci["accuracy"][1], "macro_f1": r.macro_f1, "f1_low": r.ci["macro_f1"][0],
                     "f1_high": r.ci["macro_f1"][1], "created": run.created, "id": run.id})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if len(table):
        table = table.sort_values(["accuracy", "macro_f1"], ascending=False, kind="stable").reset_index(drop=True)
    return Leaderboard(table, skipped)
