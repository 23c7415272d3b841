"""A run's learning curve against another run's, epoch by epoch: is a new recipe ahead of an old one?

>>> gap = curve_gap(run.history(), store.get("fer2013-fernet-q").history())   # doctest: +SKIP
>>> gap.text
'epochs 31-40: validation accuracy 65.3% vs 64.0% (+1.3 points); best so far 66.9% vs 65.0%'

Long runs are compared at the same epochs (the reference's later epochs are not a fair yardstick
while the run is under way), over a window of the last epochs both have: single epochs swing by
a point or two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .errors import ConfigError

if TYPE_CHECKING:
    from .runs import Run, RunStore

__all__ = ["CurveGap", "curve_gap", "epoch_values", "reference_runs"]

#: Epochs averaged by default: single epochs of a FER2013 run swing by 1-2 points of validation accuracy.
WINDOW = 10


def epoch_values(history: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> dict[int, float]:
    """``{epoch: value}`` of ``metric`` in ``history.json`` rows (rows without it are skipped)."""
    out = {}
    for row in history:
        v, e = row.get(metric), row.get("epoch")
        if isinstance(v, (int, float)) and isinstance(e, int):
            out[e] = float(v)
    return out


@dataclass(frozen=True)
class CurveGap:
    """A run against a reference over epochs ``first`` to ``last`` (the last ``window`` both have)."""

    metric: str
    first: int
    last: int
    mean: float  # the run's mean over the window
    ref_mean: float
    best: float  # the run's best up to ``last``
    ref_best: float  # the reference's best up to ``last``

    @property
    def lead(self) -> float:
        """``mean - ref_mean``."""
        return self.mean - self.ref_mean

    @property
    def text(self) -> str:
        name = self.metric.replace("val_", "validation ").replace("_", " ")
        return (f"epochs {self.first}-{self.last}: {name} {self.mean:.1%} vs {self.ref_mean:.1%} "
                f"({100 * self.lead:+.1f} points); best so far {self.best:.1%} vs {self.ref_best:.1%}")


def curve_gap(history: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]],
              metric: str = "val_accuracy", window: int = WINDOW) -> CurveGap | None:
    """The run (``history``) against ``reference`` at the same epochs: means over the last ``window``
    epochs both have, and each one's best up to the last of them. None when they share no epoch."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"window must be a whole number of epochs >= 1; got {window!r}.")
    run, ref = epoch_values(history, metric), epoch_values(reference, metric)
    shared = sorted(set(run) & set(ref))
    if not shared:
        return None
    last = shared[-1]
    span = shared[-window:]
    return CurveGap(metric, span[0], last, sum(run[e] for e in span) / len(span), sum(ref[e] for e in span) / len(span),
                    max(v for e, v in run.items() if e <= last), max(v for e, v in ref.items() if e <= last))


def reference_runs(store: RunStore, exclude: str | None = None) -> list[Run]:
    """Runs whose curves a run can be held against: the user's runs with at least one epoch, newest
    first, then the bundled single models (their training history ships with them); not ``exclude``."""
    return [r for r in store.list() if r.id != exclude and r.history()]
