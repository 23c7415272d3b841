"""Train/val/test splitting: stratified by class, and group-aware (CK+ subjects never straddle splits)."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from .dataset import FERDataset

_SUBJECT = re.compile(r"(?:^|[/\\])(S\d{3})_")


def subject_of(source: str) -> str | None:
    """The CK+ subject id (``"S005"``) in a file name like ``S005_001_00000011.png``, else None."""
    match = _SUBJECT.search(source)
    return match.group(1) if match else None


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions must be three non-negative numbers (train, val, test) summing to 1, "
            f"got {tuple(fractions)}."
        )
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def stratified_assign(labels: np.ndarray, fractions: Sequence[float], seed: int = 0) -> np.ndarray:
    """Assign each item to train/val/test so every class keeps the given fractions.

    Returns an array of split names, shape (n,). Each class gets at least one item in every split
    with a non-zero fraction when it has enough items.
    """
    fr = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype="<U5")
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n = len(idx)
        n_val = int(round(fr[1] * n))
        n_test = int(round(fr[2] * n))
        if n >= 3:
            n_val = max(n_val, 1 if fr[1] > 0 else 0)
            n_test = max(n_test, 1 if fr[2] > 0 else 0)
        n_train = n - n_val - n_test
        out[idx[:n_train]] = "train"
        out[idx[n_train:n_train + n_val]] = "val"
        out[idx[n_train + n_val:]] = "test"
    return out


def group_assign(
    labels: np.ndarray, groups: np.ndarray, fractions: Sequence[float], seed: int = 0
) -> np.ndarray:
    """Assign whole groups (e.g. subjects) to train/val/test, balancing class counts greedily.

    Every item of a group lands in the same split, so no subject is seen in training and testing.
    """
    fr = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    names = np.array(["train", "val", "test"])
    uniq = np.unique(groups)
    rng.shuffle(uniq)
    classes = np.unique(labels)
    target = np.array(fr)[:, None] * np.array([(labels == c).sum() for c in classes])[None, :]
    have = np.zeros_like(target)
    out = np.empty(len(labels), dtype="<U5")
    # Largest groups first, each to the split with the largest remaining share of its class targets.
    sizes = {g: int((groups == g).sum()) for g in uniq}
    for g in sorted(uniq, key=lambda g: -sizes[g]):
        members = groups == g
        counts = np.array([(labels[members] == c).sum() for c in classes])
        wanted = counts > 0
        deficit = ((target - have)[:, wanted].sum(axis=1)) / np.maximum(target[:, wanted].sum(axis=1), 1e-9)
        deficit[np.array(fr) == 0] = -np.inf
        k = int(np.argmax(deficit))
        have[k] += counts
        out[members] = names[k]
    return out


def resplit(
    ds: FERDataset,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 0,
    groups: str | np.ndarray | None = "auto",
) -> FERDataset:
    """Reassign every image of ``ds`` to train/val/test.

    ``groups="auto"`` groups by CK+ subject when every source name carries an ``S###_`` prefix;
    ``"subject"`` requires it; an array gives one group id per image; ``None`` splits by image.
    """
    group_ids = _groups(ds, groups)
    shares = "/".join(f"{100 * f:g}" for f in fractions)
    if group_ids is None:
        splits = stratified_assign(ds.labels, fractions, seed)
        note = f"split at random by class, train/val/test {shares} %, seed {seed}"
    else:
        splits = group_assign(ds.labels, group_ids, fractions, seed)
        note = f"split by subject (no subject in two splits), train/val/test about {shares} %, seed {seed}"
    return replace(ds, splits=splits, split_note=note)


def with_val_split(
    ds: FERDataset, fraction: float = 0.1, *, seed: int = 0, groups: str | np.ndarray | None = "auto"
) -> FERDataset:
    """Move a stratified ``fraction`` of the train split into val (test is left untouched)."""
    if not 0 < fraction < 1:
        raise ConfigError(f"val fraction must be between 0 and 1, got {fraction}.")
    train = np.flatnonzero(ds.splits == "train")
    group_ids = _groups(ds, groups)
    fr = (1 - fraction, fraction, 0.0)
    if group_ids is None:
        sub = stratified_assign(ds.labels[train], fr, seed)
    else:
        sub = group_assign(ds.labels[train], group_ids[train], fr, seed)
    splits = ds.splits.copy()
    splits[train] = sub
    return replace(ds, splits=splits)


def _groups(ds: FERDataset, groups: str | np.ndarray | None) -> np.ndarray | None:
    if groups is None:
        return None
    if isinstance(groups, str):
        if groups not in ("auto", "subject"):
            raise ConfigError(f"groups must be 'auto', 'subject', None or an array, got {groups!r}.")
        subjects = [subject_of(s) for s in ds.sources]
        if all(subjects) and len(subjects):
            return np.asarray(subjects)
        if groups == "subject":
            missing = next(s for s, g in zip(ds.sources, subjects) if not g)
            raise ConfigError(
                f"groups='subject' needs CK+-style names 'S###_...'; {missing!r} has none. "
                "Use groups=None to split by image."
            )
        return None
    groups = np.asarray(groups)
    if len(groups) != len(ds):
        raise ConfigError(f"groups has {len(groups)} entries for {len(ds)} images.")
    return groups
