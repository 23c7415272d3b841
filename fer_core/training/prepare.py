"""From a configuration to training arrays: load, split, subset, convert, rebalance.

Everything here is numpy (TensorFlow only for a teacher's predictions): :func:`prepare_data`
returns a :class:`TrainingData` with uint8 images already in the model's input shape and float32
target rows, ready for :mod:`fer_core.training.pipeline`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..evaluation.predict import to_model_input
from .config import TrainConfig, resolve_path
from .imbalance import class_weights, resample


@dataclass
class TrainingData:
    """Arrays for one run.

    Attributes
    ----------
    classes : class names, length C
    x_train, x_val, x_eval : uint8 arrays of shape (n, s, s, c), s = model.input_size, c = channels
    y_train : float32 (n_train, C): one-hot rows, or FER+ vote distributions with soft labels
    w_train : float32 (n_train,) per-sample weights (class_weight) or None
    labels_val, labels_eval : int64 (n,), hard labels
    soft_eval : float32 (n_eval, C) FER+ votes of the evaluation split, or None
    sources_eval : str (n_eval,) source ids of the evaluation split
    eval_split : ``"test"``, or ``"val"`` when the data has no test split
    summary : counts and notes for ``metrics.json``
    """

    classes: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    w_train: np.ndarray | None
    x_val: np.ndarray
    labels_val: np.ndarray
    x_eval: np.ndarray
    labels_eval: np.ndarray
    sources_eval: np.ndarray
    soft_eval: np.ndarray | None
    eval_split: str
    dataset_name: str
    synthetic: bool
    summary: dict[str, Any] = field(default_factory=dict)


# -- loading -------------------------------------------------------------------------------
def load_for_config(cfg: TrainConfig, progress=None):
    """Load the dataset ``cfg.data`` describes (``fer_core.data.load_dataset``)."""
    from ..data import load_dataset
    from ..data.sources import _parse_inline, detect_format

    d = cfg.data
    path = resolve_path(d.path)
    fmt = detect_format(path) if d.format == "auto" else d.format
    opts: dict[str, Any] = {}
    if fmt == "synthetic":
        inline = _parse_inline(path) if path.startswith("synthetic") else {}
        if d.size is not None:
            opts["size"] = d.size
        if d.color is not None:
            opts["rgb"] = d.color == "rgb"
        if "seed" not in inline:
            opts["seed"] = d.seed
    elif fmt in ("folders", "oahega"):
        if d.size is not None:
            opts["size"] = d.size
        if d.color is not None:
            opts["color"] = d.color
        if d.label_map:
            opts["label_map"] = {k: (v or None) for k, v in d.label_map.items()}
        if d.extra is not None:
            opts["extra"] = d.extra
        opts["seed"] = d.seed
    elif d.label_map or d.extra is not None:
        raise ConfigError(f"data.label_map / data.extra apply to image folders and OAHEGA, not to {fmt!r} data.")
    ferplus: Any = d.ferplus
    if ferplus.lower() == "none":
        ferplus = None
    elif ferplus != "auto":
        ferplus = resolve_path(ferplus)
    if fmt == "synthetic":
        return load_dataset(path, fmt, **opts)
    return load_dataset(path, fmt, ferplus=ferplus, progress=progress, **opts)


# -- splits --------------------------------------------------------------------------------
def stratified_subset(labels: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``limit`` items keeping the class proportions (sorted).

    Every class present keeps at least one item when ``limit`` allows it.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (limit / n)
    take = np.floor(quota).astype(np.int64)
    if limit >= len(classes):
        take = np.maximum(take, 1)
    short = limit - int(take.sum())
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    i = 0
    while short > 0:  # hand out the remainder by largest fractional part
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
            short -= 1
        i += 1
    while short < 0:  # minimum-one bumps overshot: trim the largest classes
        c = int(np.argmax(take))
        take[c] -= 1
        short += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def _blend(targets: np.ndarray, other: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * targets + weight * other`` as float32: a share ``weight`` of each row from ``other``."""
    return ((1.0 - weight) * targets + weight * other).astype(np.float32)


def _targets(labels: np.ndarray, soft: np.ndarray | None, n_classes: int, weight: float = 1.0) -> np.ndarray:
    """One-hot rows, blended with the vote distribution (share ``weight``) where ``soft`` has votes."""
    y = np.eye(n_classes, dtype=np.float32)[labels]
    if soft is not None:
        has = soft.sum(axis=1) > 0
        y[has] = _blend(y[has], soft[has] / soft[has].sum(axis=1, keepdims=True), weight)
    return y


def teacher_probs(ref: str, images: np.ndarray, classes: tuple[str, ...], progress=None) -> np.ndarray:
    """Class probabilities of the teacher ``ref`` (a run id or bundled id) on ``images``, float32
    (n, C) with columns in the order of ``classes``; the teacher's own test-time augmentation applies.

    ``progress(fraction, message)`` is called as the images are scored.
    """
    from pathlib import Path

    from ..bundled import DEFAULT_ALIAS, get_bundled, is_bundled
    from ..evaluation.ensemble import check_member_ref, resolve_member
    from ..evaluation.evaluate import model_classes
    from ..evaluation.predict import predict_probs
    from ..inference import run_classes
    from ..runs import RunStore

    try:
        ref = check_member_ref(ref)
    except DataError as exc:
        raise ConfigError(f"train.teacher: {exc}") from None
    if ref == DEFAULT_ALIAS:
        raise ConfigError("train.teacher must name a stable id, not 'default' (which moves when models are "
                          "bundled); list the ids with: python -m fer_core runs")
    model = resolve_member(ref)
    folder = get_bundled(ref).path if is_bundled(ref) else Path(RunStore().get(ref).path)
    names = model_classes(model, classes=run_classes(folder))
    if sorted(names) != sorted(classes):
        raise ConfigError(f"train.teacher {ref!r} predicts the classes {list(names)}, but this dataset has "
                          f"{list(classes)}; a teacher must know exactly the dataset's classes.")
    n = len(images)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), f"teacher {ref}: {done:,} of {total:,} training images")

    probs = predict_probs(model, images, progress=report)
    return probs[:, [names.index(c) for c in classes]].astype(np.float32).reshape(n, len(classes))


def cached_teacher_probs(ref: str, images: np.ndarray, classes: tuple[str, ...], cache: Path | None,
                         progress=None) -> np.ndarray:
    """:func:`teacher_probs`, kept in ``cache`` (an ``.npz`` in the run folder) so that a resumed run
    trains on the very targets it started with and does not score the train images again (an
    ensemble teacher with ten-crop takes tens of minutes). The cache holds the teacher id, the
    classes and a digest of the images; any mismatch scores afresh. Written atomically."""
    import hashlib
    import zipfile

    from ..io import atomic_write_npz

    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()
    key = np.array([ref, "|".join(classes), digest])
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as npz:
                if np.array_equal(npz["key"], key):
                    return npz["probs"].astype(np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable or from another version: score again and overwrite
    probs = teacher_probs(ref, images, classes, progress=progress)
    if cache is not None:
        atomic_write_npz(cache, key=key, probs=probs)
    return probs


def prepare_data(cfg: TrainConfig, ds=None, progress=None, teacher_cache: Path | None = None) -> TrainingData:
    """Turn a configuration (and optionally an already loaded dataset) into training arrays.

    Steps: load (unless ``ds`` is given) -> drop classes with no image at all -> carve val from
    train if there is no val split (``data.val_fraction``, ``data.seed``) -> stratified subset per
    split (``data.subset``) -> convert to the model's channels and size -> rebalance the train
    split (``imbalance``; val and test are never touched) -> targets (one-hot or FER+ votes,
    blended with a teacher's probabilities when ``train.teacher`` is set; ``teacher_cache``, a
    file path, keeps those probabilities for the run's next sessions).
    """
    from ..data import with_val_split

    if ds is None:
        ds = load_for_config(cfg, progress=progress)
    if len(ds) == 0:
        raise DataError(f"dataset {ds.name!r} has no images.")
    counts = np.bincount(ds.labels, minlength=len(ds.classes))
    dropped = [c for c, k in zip(ds.classes, counts) if k == 0]
    if dropped:
        ds = ds.with_classes([c for c, k in zip(ds.classes, counts) if k > 0])
    classes = tuple(ds.classes)
    if len(classes) < 2:
        raise DataError(f"dataset {ds.name!r} has images of only {len(classes)} class(es); need at least 2.")
    splits = ds.available_splits()
    if "train" not in splits:
        raise DataError(f"dataset {ds.name!r} has no train split (splits: {splits}); resplit it first.")
    notes = []
    if "val" not in splits:
        ds = with_val_split(ds, cfg.data.val_fraction, seed=cfg.data.seed)
        notes.append(f"val carved from train ({cfg.data.val_fraction:.0%}, seed {cfg.data.seed})")
    if cfg.data.subset is not None:
        keep = np.zeros(len(ds), bool)
        for s in ds.available_splits():
            idx = np.flatnonzero(ds.splits == s)
            keep[idx[stratified_subset(ds.labels[idx], cfg.data.subset, cfg.data.seed)]] = True
        ds = ds.select(keep)
        notes.append(f"subset: at most {cfg.data.subset} images per split")
    if cfg.train.soft_labels and ds.soft_labels is None:
        raise DataError(
            f"train.soft_labels=true needs FER+ votes, but dataset {ds.name!r} has none attached. Set "
            "data.ferplus to the votes file (fer2013new.csv or ferplus_map.csv) or keep it 'auto' "
            "with the file beside the data, or set train.soft_labels=false."
        )
    train, val = ds.split("train"), ds.split("val")
    if len(val) == 0:
        raise DataError(f"dataset {ds.name!r} has no validation images; raise data.val_fraction or add data.")
    eval_split = "test" if "test" in ds.available_splits() else "val"
    test = ds.split(eval_split)
    C = len(classes)

    x_train, lab_train = train.images, train.labels
    soft_train = train.soft_labels if cfg.train.soft_labels else None
    before = np.bincount(lab_train, minlength=C)
    w_train = None
    if cfg.imbalance in ("oversample", "smote", "adasyn"):
        x_train, lab_train, origin = resample(x_train, lab_train, cfg.imbalance, seed=cfg.data.seed)
        if soft_train is not None:  # copies keep their votes, synthesised rows are one-hot
            soft_train = np.where((origin >= 0)[:, None], soft_train[np.maximum(origin, 0)], 0).astype(np.float32)
    elif cfg.imbalance == "class_weight":
        w_train = class_weights(lab_train, C)[lab_train]
    size, ch = cfg.model.input_size, cfg.model.channels
    counts_out = {
        "train_original": before.tolist(),
        "train": np.bincount(lab_train, minlength=C).tolist(),
        "val": np.bincount(val.labels, minlength=C).tolist(),
    }
    if eval_split == "test":
        counts_out["test"] = np.bincount(test.labels, minlength=C).tolist()
    summary = {
        "classes": list(classes),
        "dropped_empty_classes": dropped,
        "counts": counts_out,
        "imbalance": cfg.imbalance,
        "class_weights": class_weights(train.labels, C).tolist() if cfg.imbalance == "class_weight" else None,
        "input_shape": [size, size, ch],
        "notes": notes,
    }
    y_train = _targets(lab_train, soft_train, C, cfg.train.soft_weight)
    if soft_train is not None and cfg.train.soft_weight < 1:
        notes.append(f"targets: {1 - cfg.train.soft_weight:.0%} labels + {cfg.train.soft_weight:.0%} FER+ votes")
    if cfg.train.teacher is not None:
        taught = cached_teacher_probs(cfg.train.teacher, x_train, classes, teacher_cache, progress=progress)
        w = cfg.train.teacher_weight
        y_train = _blend(y_train, taught, w)
        summary["teacher"] = {"id": cfg.train.teacher, "weight": w,
                              "train_agreement": float((taught.argmax(1) == lab_train).mean())}
        notes.append(f"targets: {1 - w:.0%} labels + {w:.0%} teacher {cfg.train.teacher} "
                     f"(it agrees with {summary['teacher']['train_agreement']:.1%} of the train labels)")
    return TrainingData(
        classes=classes,
        x_train=to_model_input(x_train, (size, size, ch), dtype=np.uint8),
        y_train=y_train,
        w_train=None if w_train is None else w_train.astype(np.float32),
        x_val=to_model_input(val.images, (size, size, ch), dtype=np.uint8),
        labels_val=val.labels,
        x_eval=to_model_input(test.images, (size, size, ch), dtype=np.uint8),
        labels_eval=test.labels,
        sources_eval=test.sources,
        soft_eval=test.soft_labels,
        eval_split=eval_split,
        dataset_name=ds.display_name,
        synthetic=bool(ds.synthetic),
        summary=summary,
    )
