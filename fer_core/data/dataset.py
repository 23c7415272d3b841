"""The canonical in-memory dataset every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class LoadIssue:
    """A file or row a loader skipped, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class FERDataset:
    """Images, labels, splits and source ids of one dataset, all aligned on the first axis.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, h, w) greyscale or (n, h, w, 3) RGB
    labels : ndarray of int64, shape (n,), indices into ``classes``
    classes : tuple of str, the class names (the canonical 7 first, extra classes after)
    splits : ndarray of str, shape (n,), each one of ``"train"``, ``"val"``, ``"test"``
    sources : ndarray of str, shape (n,), file path (relative to ``root``) or ``"file.csv#row=N"``
    name : a short human name ("fer2013", "synthetic", ...)
    root : the folder or file the dataset came from ("" for generated data)
    synthetic : True for generated data, which must be labelled as such wherever it is shown
    soft_labels : optional ndarray of float32, shape (n, len(classes)), rows sum to 1 (FER+ votes)
    not_face : optional ndarray of bool, shape (n,), annotators said "not a face"
    issues : files or rows the loader skipped (when loading with ``on_error="skip"``)
    split_note : how the loader assigned the splits when the data does not give them (a folder of
        class folders, OAHEGA: e.g. "split at random by class, train/val/test 80/10/10 %, seed 0"); "" when the
        splits are the data's own
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    splits: np.ndarray
    sources: np.ndarray
    name: str = "dataset"
    root: str = ""
    synthetic: bool = False
    soft_labels: np.ndarray | None = None
    not_face: np.ndarray | None = None
    issues: list[LoadIssue] = field(default_factory=list)
    split_note: str = ""

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.splits = np.asarray(self.splits, dtype=str)
        self.sources = np.asarray(self.sources, dtype=str)
        self.classes = tuple(self.classes)
        n = len(self.images)
        if self.images.dtype != np.uint8:
            raise DataError(f"FERDataset images must be uint8, got {self.images.dtype}.")
        if self.images.ndim not in (3, 4) or (self.images.ndim == 4 and self.images.shape[-1] != 3):
            raise DataError(
                "FERDataset images must have shape (n, h, w) or (n, h, w, 3), "
                f"got {self.images.shape}."
            )
        for name in ("labels", "splits", "sources"):
            if len(getattr(self, name)) != n:
                raise DataError(f"FERDataset {name} has {len(getattr(self, name))} entries for {n} images.")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise DataError(f"FERDataset labels must lie in 0..{len(self.classes) - 1}.")
        bad = sorted(set(np.unique(self.splits)) - set(SPLITS))
        if bad:
            raise DataError(f"FERDataset splits must be one of {SPLITS}, got {bad}.")
        if self.soft_labels is not None and self.soft_labels.shape != (n, len(self.classes)):
            raise DataError(f"soft_labels must have shape {(n, len(self.classes))}, got {self.soft_labels.shape}.")
        if self.not_face is not None and len(self.not_face) != n:
            raise DataError(f"not_face has {len(self.not_face)} entries for {n} images.")

    # -- shape ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """1 for greyscale, 3 for RGB."""
        return 1 if self.images.ndim == 3 else 3

    @property
    def display_name(self) -> str:
        """The name as it should be shown, marked when the data is synthetic."""
        if self.synthetic and "synthetic" not in self.name.lower():
            return f"{self.name} (synthetic)"
        return self.name

    # -- selection -----------------------------------------------------------
    def select(self, index: np.ndarray | Sequence[int]) -> "FERDataset":
        """A new dataset with the rows in ``index`` (a boolean mask or integer indices)."""
        index = np.asarray(index)
        return replace(
            self,
            images=self.images[index],
            labels=self.labels[index],
            splits=self.splits[index],
            sources=self.sources[index],
            soft_labels=None if self.soft_labels is None else self.soft_labels[index],
            not_face=None if self.not_face is None else self.not_face[index],
            issues=list(self.issues),
        )

    def split(self, name: str) -> "FERDataset":
        """The rows of one split (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLITS:
            raise DataError(f"Unknown split {name!r}; expected one of {SPLITS}.")
        return self.select(self.splits == name)

    def available_splits(self) -> list[str]:
        """The splits that hold at least one image, in train/val/test order."""
        present = set(np.unique(self.splits))
        return [s for s in SPLITS if s in present]

    def with_classes(self, classes: Sequence[str]) -> "FERDataset":
        """Re-index labels onto ``classes``; rows whose class is not in it are dropped."""
        classes = tuple(classes)
        lookup = np.array([classes.index(c) if c in classes else -1 for c in self.classes])
        new = lookup[self.labels]
        keep = new >= 0
        out = self.select(keep)
        out.labels = new[keep]
        if out.soft_labels is not None:
            cols = [self.classes.index(c) if c in self.classes else None for c in classes]
            soft = np.zeros((len(out), len(classes)), np.float32)
            for j, c in enumerate(cols):
                if c is not None:
                    soft[:, j] = out.soft_labels[:, c]
            total = soft.sum(1, keepdims=True)
            out.soft_labels = np.divide(soft, total, out=np.zeros_like(soft), where=total > 0)
        out.classes = classes
        return out

    # -- summaries -----------------------------------------------------------
    def counts(self) -> pd.DataFrame:
        """Images per class (rows, in ``classes`` order) and split (columns), with totals."""
        table = pd.crosstab(
            pd.Categorical(np.asarray(self.classes)[self.labels], categories=list(self.classes)),
            pd.Categorical(self.splits, categories=[s for s in SPLITS]),
            dropna=False,
        )
        table = table.loc[:, [s for s in SPLITS if s in self.available_splits()]]
        table.index.name, table.columns.name = "class", "split"
        table["total"] = table.sum(axis=1)
        return table

    def describe(self) -> str:
        """One line: name, size, image shape and splits."""
        h, w = self.image_size if len(self) else (0, 0)
        per_split = ", ".join(f"{s} {int((self.splits == s).sum())}" for s in self.available_splits())
        mode = "grey" if self.channels == 1 else "RGB"
        return (
            f"{self.display_name}: {len(self)} images {h}x{w} {mode}, "
            f"{len(self.classes)} classes ({per_split})"
        )
