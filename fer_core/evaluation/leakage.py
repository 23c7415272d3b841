"""How much of a test score comes from images that are also in the training split.

FER2013 holds byte-identical copies of some faces in both its train and test splits (the audit's
"split leakage"): a model that saw a face's twin in training is scored on a face it has, in effect,
memorised. These helpers find the test images with a pixel-identical twin in train and split a
score into "with a twin" and "without", so a card or an evaluation can say what the accuracy is on
faces the model has never seen.

>>> twins = train_twins(dataset, "test")                         # doctest: +SKIP
>>> leakage_figures(report.y_true, report.y_pred, twins)         # doctest: +SKIP
{'n_twins': 280, 'accuracy_twins': 0.90, 'n_rest': 3309, 'accuracy_rest': 0.697}
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["format_leakage", "leakage_figures", "train_twins", "twin_mask"]


def _digests(images: np.ndarray) -> list[bytes]:
    images = np.ascontiguousarray(images)
    return [hashlib.blake2b(im.tobytes(), digest_size=16).digest() + bytes(str(im.shape), "ascii")
            for im in images]


def twin_mask(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Boolean (n,): which of ``images`` have a pixel-identical image (same shape and values) in
    ``reference``."""
    seen = set(_digests(reference))
    return np.fromiter((d in seen for d in _digests(images)), dtype=bool, count=len(images))


def train_twins(ds: Any, split: str = "test") -> np.ndarray | None:
    """Which images of ``ds.split(split)`` have a pixel-identical twin in ``ds.split("train")``
    (a boolean array in the split's order), or None when there is no train split to compare with
    or ``split`` is the train split itself."""
    if split == "train" or "train" not in ds.available_splits():
        return None
    return twin_mask(ds.split(split).images, ds.split("train").images)


def leakage_figures(y_true: np.ndarray, y_pred: np.ndarray, twins: np.ndarray) -> dict[str, Any]:
    """Accuracy on the images with a train twin and on the rest.

    Returns
    -------
    dict with ``n_twins``, ``accuracy_twins`` (None when there are none), ``n_rest`` and
    ``accuracy_rest`` (None when every image has a twin).
    """
    y_true, y_pred, twins = np.asarray(y_true), np.asarray(y_pred), np.asarray(twins, dtype=bool)
    if not (len(y_true) == len(y_pred) == len(twins)):
        raise ValueError(f"y_true, y_pred and twins differ in length: {len(y_true)}, {len(y_pred)}, {len(twins)}.")
    right = y_true == y_pred

    def acc(mask: np.ndarray) -> float | None:
        return float(right[mask].mean()) if mask.any() else None

    return {"n_twins": int(twins.sum()), "accuracy_twins": acc(twins),
            "n_rest": int((~twins).sum()), "accuracy_rest": acc(~twins)}


def format_leakage(fig: dict[str, Any]) -> str:
    """One line for people: how many test faces have a train twin and the accuracy without them."""
    if not fig["n_twins"]:
        return "no image of this split has a pixel-identical twin in the train split"
    rest = "n/a" if fig["accuracy_rest"] is None else f"{100 * fig['accuracy_rest']:.1f}%"
    return (f"{fig['n_twins']} image(s) have a pixel-identical twin in the train split (accuracy on them "
            f"{100 * fig['accuracy_twins']:.1f}%); accuracy on the other {fig['n_rest']}: {rest}")
