"""``audit(ds)``: hash every image, group exact and near duplicates, build the report."""
from __future__ import annotations

import hashlib
import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..data.dataset import FERDataset
from ..errors import ConfigError, DataError
from .hashing import CHUNK, components, max_distance, near_pairs, phash
from .report import GROUP_COLUMNS, AuditReport, ferplus_agreement, group_summary, group_table, imbalance

Progress = Callable[[float, str], None]

#: Largest ``near_threshold`` accepted: beyond it the chunks get so short (< 6 bits) that the
#: buckets fill up and the search stops being fast, and pHash matches stop meaning "same image".
MAX_NEAR_THRESHOLD = 10


def _check_options(ds: Any, near_threshold: Any, blank_std: Any, progress: Any) -> None:
    if not isinstance(ds, FERDataset):
        raise DataError(
            f"audit expects a FERDataset, got {type(ds).__name__}; load one with a loader from "
            "fer_core.data (or build FERDataset(images=..., labels=..., ...))."
        )
    if isinstance(near_threshold, bool) or not isinstance(near_threshold, (int, np.integer)) or not (
        0 <= near_threshold <= MAX_NEAR_THRESHOLD
    ):
        raise ConfigError(
            f"near_threshold must be an integer in 0..{MAX_NEAR_THRESHOLD} (bits of 64), got "
            f"{near_threshold!r}; the default 4 is a conservative choice for 48x48 faces."
        )
    if isinstance(blank_std, bool) or not isinstance(blank_std, (int, float, np.number)) or not (
        math.isfinite(blank_std) and blank_std >= 0
    ):
        raise ConfigError(
            f"blank_std must be a finite number >= 0 (a pixel standard deviation), got {blank_std!r}; "
            "use 0 to report no image as blank."
        )
    if progress is not None and not callable(progress):
        raise ConfigError(
            f"progress must be a callable progress(fraction, message) or None, got {type(progress).__name__}."
        )


def audit(
    ds: FERDataset,
    *,
    near_threshold: int = 4,
    blank_std: float = 1.0,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit a dataset's quality.

    Parameters
    ----------
    ds : FERDataset
    near_threshold : int, default 4
        Largest pHash Hamming distance (of 64 bits) for two images to be near duplicates, in
        0..10. Images with identical pixels are exact duplicates instead, and near-blank images
        are left out of the near search (they would all match each other).
    blank_std : float, default 1.0
        Images whose pixel standard deviation is below this are reported as near-blank.
    progress : callable(fraction, message), optional
        Called with a fraction in [0, 1] and a short message during the long steps.

    Returns
    -------
    AuditReport
    """
    _check_options(ds, near_threshold, blank_std, progress)
    near_threshold, blank_std = int(near_threshold), float(blank_std)

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(float(min(max(fraction, 0.0), 1.0)), message)

    n = len(ds)
    images = ds.images
    names = np.asarray(ds.classes, dtype=object)

    # 1. pixel hashes and pixel statistics, block by block
    digests = np.empty(n, dtype="S16")
    std = np.empty(n, np.float64)
    mean = np.empty(n, np.float64)
    for start in range(0, n, CHUNK):
        pixels = np.ascontiguousarray(images[start:start + CHUNK]).reshape(min(CHUNK, n - start), -1)
        for i, row in enumerate(pixels):
            digests[start + i] = hashlib.blake2b(row, digest_size=16).digest()
        flat = pixels.astype(np.float32)
        mean[start:start + len(flat)] = flat.mean(axis=1, dtype=np.float64)
        std[start:start + len(flat)] = np.sqrt(
            np.maximum((flat * flat).mean(axis=1, dtype=np.float64) - mean[start:start + len(flat)] ** 2, 0)
        )
        report(0.3 * (start + len(flat)) / n, "hashing pixels")

    # 2. exact groups
    content, first_of, inverse, size = (
        np.unique(digests, return_index=True, return_inverse=True, return_counts=True)
        if n else (np.empty(0, "S16"), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    )
    in_exact = size[inverse] > 1 if n else np.zeros(0, bool)
    exact_idx = np.flatnonzero(in_exact)
    exact = group_table(ds, exact_idx, inverse[exact_idx])
    exact_of = np.full(n, -1, np.int64)
    exact_of[exact["index"].to_numpy()] = exact["group"].to_numpy()
    exact = exact[GROUP_COLUMNS]

    # 3. near groups over distinct, non-blank contents
    is_blank = std < blank_std
    reps = first_of[~is_blank[first_of]] if n else np.empty(0, np.int64)  # one image per content
    hashes = np.empty(len(reps), np.uint64)
    for start in range(0, len(reps), CHUNK):
        report(0.3 + 0.2 * start / len(reps), f"perceptual hashes of {len(reps):,} distinct images")
        hashes[start:start + CHUNK] = phash(images[reps[start:start + CHUNK]])
    report(0.5, "searching near duplicates")
    pairs = near_pairs(hashes, near_threshold, lambda f: report(0.5 + 0.4 * f, "searching near duplicates"))
    near_cols = GROUP_COLUMNS + ["exact_group", "max_distance"]
    if len(pairs):
        comp = components(len(reps), pairs)
        comp_size = np.bincount(comp)
        rep_comp = np.full(len(content), -1, np.int64)  # near component of each content
        grouped = comp_size[comp] > 1
        rep_comp[inverse[reps[grouped]]] = comp[grouped]
        member = np.flatnonzero(rep_comp[inverse] >= 0)
        near = group_table(ds, member, rep_comp[inverse[member]])
        near["exact_group"] = exact_of[near["index"].to_numpy()]
        dist = {c: max_distance(hashes[comp == c]) for c in np.unique(comp[grouped])}
        near["max_distance"] = [dist[c] for c in near["raw"]]
        near = near[near_cols]
    else:
        near = pd.DataFrame({c: pd.Series(dtype=object if c in ("source", "split", "label") else
                                          bool if c in ("spans_splits", "labels_conflict") else np.int64)
                             for c in near_cols})
    report(0.9, "building tables")

    # 4. summaries
    summaries = pd.concat(
        [group_summary(exact, "exact", ds.classes), group_summary(near, "near", ds.classes)],
        ignore_index=True,
    )
    leakage = summaries[summaries["spans_splits"].astype(bool)].reset_index(drop=True)
    conflicts = summaries[summaries["labels_conflict"].astype(bool)].reset_index(drop=True)

    blank_idx = np.flatnonzero(is_blank)
    blank = pd.DataFrame({
        "index": blank_idx.astype(np.int64),
        "source": ds.sources[blank_idx].astype(object),
        "split": ds.splits[blank_idx].astype(object),
        "label": names[ds.labels[blank_idx]] if len(blank_idx) else np.empty(0, object),
        "std": std[blank_idx],
        "mean": mean[blank_idx],
    }).sort_values("source", kind="stable").reset_index(drop=True)

    not_face = None
    if ds.not_face is not None:
        nf_idx = np.flatnonzero(np.asarray(ds.not_face, bool))
        not_face = pd.DataFrame({
            "index": nf_idx.astype(np.int64),
            "source": ds.sources[nf_idx].astype(object),
            "split": ds.splits[nf_idx].astype(object),
            "label": names[ds.labels[nf_idx]] if len(nf_idx) else np.empty(0, object),
        }).sort_values("source", kind="stable").reset_index(drop=True)

    counts = ds.counts()
    result = AuditReport(
        dataset=ds.name,
        synthetic=bool(ds.synthetic),
        n_images=n,
        counts=counts,
        imbalance=imbalance(counts),
        exact_groups=exact,
        near_groups=near,
        leakage=leakage,
        label_conflicts=conflicts,
        blank=blank,
        not_face=not_face,
        ferplus_agreement=ferplus_agreement(ds),
        near_threshold=near_threshold,
        blank_std=blank_std,
    )
    report(1.0, "done")
    return result
