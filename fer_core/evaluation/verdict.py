"""Is A really better than B? Two reports matched image by image, a paired test, and its verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import paired_bootstrap


def align_predictions(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labels and both probability matrices on the images two reports share (matched by source).

    Returns (y (n,), probs_a (n, C), probs_b (n, C)) in ``a``'s order, or None when they share
    no image, disagree on a shared image's label, or have different classes.
    """
    if tuple(a.classes) != tuple(b.classes) or a.sources is None or b.sources is None:
        return None
    pos = {s: i for i, s in enumerate(b.sources)}
    ia = np.array([i for i, s in enumerate(a.sources) if s in pos], dtype=np.int64)
    if not len(ia):
        return None
    ib = np.array([pos[a.sources[i]] for i in ia], dtype=np.int64)
    if not np.array_equal(a.y_true[ia], b.y_true[ib]):
        return None
    return a.y_true[ia], a.probs[ia], b.probs[ib]


def decision(result: dict[str, Any]) -> str:
    """``"A is better"`` / ``"B is better"`` when the 95% CI of A − B excludes 0, else ``"no clear difference"``."""
    if result["ci_low"] > 0:
        return "A is better"
    if result["ci_high"] < 0:
        return "B is better"
    return "no clear difference"


@dataclass(frozen=True)
class Verdict:
    """A paired comparison of A and B: the decision, the test's numbers, and a sentence saying both."""

    decision: str
    n_images: int
    result: dict[str, Any]

    @property
    def text(self) -> str:
        r = self.result
        return (f"**{self.decision}** on {self.n_images} shared images: "
                f"{r['metric']} A {r['a']:.3f} vs B {r['b']:.3f}, "
                f"difference {r['diff']:+.3f} (95% CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}; "
                f"A ahead in {r['p_a_better']:.0%} of {r['n_resamples']:,} paired bootstrap resamples). "
                f"McNemar's exact test on the images only one of them gets right "
                f"({r['a_only_correct']} vs {r['b_only_correct']}): p = {r['mcnemar_p_exact']:.3g}.")


def compare_reports(a: Any, b: Any, metric: str = "accuracy", n: int = 2000, seed: int = 0) -> Verdict | None:
    """Paired bootstrap + McNemar of two reports on their shared images (None when not comparable)."""
    aligned = align_predictions(a, b)
    if aligned is None:
        return None
    y, pa, pb = aligned
    res = paired_bootstrap(y, pa, pb, metric=metric, n=n, seed=seed)
    return Verdict(decision(res), len(y), res)
