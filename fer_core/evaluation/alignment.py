"""Cross-dataset scoring: map a dataset's classes and labels onto a model's outputs."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..data.labels import SYNONYMS, canonical_name
from ..errors import DataError


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
