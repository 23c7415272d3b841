"""How many images a training epoch will see, by the same split, subset and resampling rules as
:func:`fer_core.training.prepare.prepare_data` and the configuration defaults (:class:`DataSpec`)."""
from __future__ import annotations

import inspect

import numpy as np

from ..data import FERDataset, with_val_split
from ..data.synthetic import _split_counts, class_counts, make_synthetic
from .config import DataSpec
from .prepare import stratified_subset

#: Imbalance methods that grow every class of the train split to the largest one.
RESAMPLING = ("oversample", "smote", "adasyn")
#: (train, val, test) fractions of ``synthetic:n=...`` data (``make_synthetic``'s default).
SYNTHETIC_FRACTIONS: tuple[float, float, float] = tuple(
    inspect.signature(make_synthetic).parameters["split_fractions"].default)


def _subset(counts: np.ndarray, subset: int | None, seed: int) -> np.ndarray:
    if subset is None:
        return counts
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(labels[stratified_subset(labels, subset, seed)], minlength=len(counts))


def train_counts(ds: FERDataset, spec: DataSpec | None = None) -> np.ndarray:
    """Train images per class after the val carve-out (when ``ds`` has no val split) and ``spec.subset``."""
    spec = spec or DataSpec()
    if "val" not in ds.available_splits():
        ds = with_val_split(ds, spec.val_fraction, seed=spec.seed)
    counts = np.bincount(ds.split("train").labels, minlength=len(ds.classes))
    return _subset(counts, spec.subset, spec.seed)


def synthetic_train_counts(n: int, spec: DataSpec | None = None) -> np.ndarray:
    """Train images per class of ``synthetic:n=<n>`` (its default split fractions), after ``spec.subset``."""
    spec = spec or DataSpec()
    fractions = np.asarray(SYNTHETIC_FRACTIONS, float)
    counts = np.array([_split_counts(int(m), fractions)[0] for m in class_counts(n)], dtype=np.int64)
    return _subset(counts, spec.subset, spec.seed)


def epoch_images(counts: np.ndarray, imbalance: str = "none") -> int:
    """Images per training epoch: the train counts, grown to the largest class by resampling methods."""
    counts = np.asarray(counts, dtype=np.int64)
    if imbalance in RESAMPLING:
        present = counts[counts > 0]
        return int(present.max() * len(present)) if len(present) else 0
    return int(counts.sum())
