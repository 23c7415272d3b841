"""Loaders: FER2013 CSV, image folders (Kaggle layout or one folder per class), OAHEGA, FER+ votes.

Every loader returns a :class:`FERDataset`. With ``on_error="skip"`` bad files or rows are left
out and listed in ``dataset.issues``; with ``on_error="raise"`` (the default) the first one raises
a :class:`~fer_core.errors.DataError` that names the file or row and what was wrong.

(Long because the four formats share one error-reporting and skipping scheme, kept in one place.)
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import CLASSES
from ..errors import DataError, ImageReadError
from .dataset import FERDataset, LoadIssue
from .images import is_image_file, read_image, resize
from .labels import canonical_name, map_class_names
from .splits import resplit

Progress = Callable[[float, str], None]

FER2013_USAGE = {"training": "train", "publictest": "val", "privatetest": "test"}
SPLIT_FOLDERS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test", "publictest": "test", "privatetest": "test",
}
FERPLUS_VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                 "contempt", "unknown", "NF")


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")


def _read_table(path: Path, **kwargs) -> pd.DataFrame:
    """``path`` as a table of strings (empty cells stay ""), or a DataError saying it is not a readable CSV."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)  # "loss of data": an empty extra field
            return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc}).") from None


# --------------------------------------------------------------------------- FER2013 CSV
def load_fer2013_csv(
    path: str | Path,
    *,
    usage_map: Mapping[str, str] | None = None,
    on_error: str = "raise",
    progress: Progress | None = None,
) -> FERDataset:
    """Load the Kaggle ``fer2013.csv`` (``emotion,pixels,Usage``; 48x48 greyscale).

    ``Usage`` maps to splits by ``usage_map`` (default Training->train, PublicTest->val,
    PrivateTest->test); a CSV without a ``Usage`` column puts every row in train. Source ids are
    ``"<file name>#row=<i>"`` with ``i`` the 0-based data row, which is also the row of FER+'s
    ``fer2013new.csv``.
    """
    _check_on_error(on_error)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected the FER2013 CSV (emotion,pixels,Usage).")
    usage = {canonical_name(k).replace("_", ""): v for k, v in (usage_map or FER2013_USAGE).items()}
    # index_col=False: a trailing comma on the data rows must not shift every column by one
    frame = _read_table(path, skipinitialspace=True, index_col=False)
    frame.columns = [c.strip() for c in frame.columns]
    cols = {c.lower(): c for c in frame.columns}
    missing = [c for c in ("emotion", "pixels") if c not in cols]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. "
            "Expected the FER2013 layout emotion,pixels,Usage."
        )
    emotions = frame[cols["emotion"]].to_numpy()
    pixels = frame[cols["pixels"]].to_numpy()
    usages = frame[cols["usage"]].to_numpy() if "usage" in cols else np.full(len(frame), "Training")
    n = len(frame)
    images = np.zeros((n, 48, 48), np.uint8)
    labels = np.zeros(n, np.int64)
    splits = np.empty(n, "<U5")
    keep = np.ones(n, bool)
    issues: list[LoadIssue] = []
    for i in range(n):
        src = f"{path.name}#row={i}"
        try:
            labels[i], splits[i], images[i] = _parse_fer_row(emotions[i], pixels[i], usages[i], usage)
        except ValueError as exc:
            where = f"{path.name} line {i + 2} (row {i})"
            if on_error == "raise":
                raise DataError(f"{where}: {exc}") from None
            keep[i] = False
            issues.append(LoadIssue(src, str(exc)))
        if progress and i % 2000 == 0:
            progress(i / max(n, 1), f"parsing row {i:,} of {n:,}")
    sources = np.array([f"{path.name}#row={i}" for i in range(n)])
    ds = FERDataset(images[keep], labels[keep], CLASSES, splits[keep], sources[keep],
                    name=path.stem, root=str(path), issues=issues)
    if not len(ds):
        raise DataError(f"{path}: no usable rows ({len(issues)} bad rows; first: {issues[0] if issues else 'none'}).")
    return ds


def _parse_fer_row(emotion: str, pixels: str, usage_raw: str, usage: Mapping[str, str]):
    try:
        label = int(str(emotion).strip())
    except ValueError:
        raise ValueError(f"emotion {emotion!r} is not an integer 0..6") from None
    if not 0 <= label < 7:
        raise ValueError(f"emotion {label} is outside 0..6 ({', '.join(f'{i}={c}' for i, c in enumerate(CLASSES))})")
    key = canonical_name(str(usage_raw)).replace("_", "")
    if key not in usage:
        raise ValueError(f"Usage {usage_raw!r} is not one of Training, PublicTest, PrivateTest")
    tokens = str(pixels).split()
    if len(tokens) != 2304:
        raise ValueError(f"pixels has {len(tokens)} values, expected 2304 (48x48)")
    try:
        values = np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):  # a non-number, or a number beyond int64: find and name it
        values = np.array([_pixel_value(t) for t in tokens], dtype=np.int64)
    if values.min() < 0 or values.max() > 255:
        raise ValueError(f"pixel values must lie in 0..255, found {values.min()}..{values.max()}")
    return label, usage[key], values.reshape(48, 48).astype(np.uint8)


def _pixel_value(token: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"pixels contains a non-numeric value {token!r}") from None
    if not 0 <= value <= 255:
        raise ValueError(f"pixel values must lie in 0..255, found {token}")
    return value


def write_fer2013_csv(ds: FERDataset, path: str | Path, usage_names: Mapping[str, str] | None = None) -> None:
    """Write a 48x48 greyscale dataset in the FER2013 CSV layout (used by tests and exports)."""
    names = usage_names or {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
    if ds.image_size != (48, 48) or ds.channels != 1:
        raise DataError(f"FER2013 CSV needs 48x48 greyscale images, got {ds.image_size} with {ds.channels} channels.")
    if len(ds.classes) > 7 or tuple(ds.classes[:7]) != CLASSES[: len(ds.classes)]:
        raise DataError("FER2013 CSV needs the canonical 7 classes; use ds.with_classes(fer_core.CLASSES).")
    from ..io import atomic_write_text

    lines = ["emotion,pixels,Usage"]
    for img, lab, sp in zip(ds.images, ds.labels, ds.splits):
        lines.append(f"{lab},{' '.join(map(str, img.ravel().tolist()))},{names[sp]}")
    atomic_write_text(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- image folders
def _scan_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p.name))


def _read_many(
    paths: Sequence[Path],
    root: Path,
    color: str,
    size: int | tuple[int, int] | None,
    on_error: str,
    progress: Progress | None,
    faces: str | None = None,
) -> tuple[list[np.ndarray | None], list[LoadIssue]]:
    """Decode many files in a thread pool; failures become LoadIssues (or raise).

    With ``faces`` ("haar" or "mtcnn") the largest face is detected at full resolution and cropped
    before resizing; images with no face are always left out and reported, never kept silently.
    """
    detector = None
    if faces is not None:
        from .faces import get_detector

        detector = get_detector(faces)

    def one(p: Path) -> np.ndarray | ImageReadError | LoadIssue:
        try:
            img = read_image(p, color=color, name=_rel(p, root))
        except ImageReadError as exc:
            return exc
        if detector is not None:
            from .faces import crop_face

            found = detector.detect(img)
            if not found:
                return LoadIssue(_rel(p, root), f"no face found by {faces} detector")
            img = crop_face(img, found[0], margin=0.2)
        return resize(img, size) if size is not None else img

    results: list[np.ndarray | None] = []
    issues: list[LoadIssue] = []
    workers = min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(workers) as pool:
        for i, res in enumerate(pool.map(one, paths, chunksize=256)):
            if isinstance(res, ImageReadError):
                if on_error == "raise":
                    raise res
                issues.append(LoadIssue(res.source, res.reason))
                results.append(None)
            elif isinstance(res, LoadIssue):
                issues.append(res)
                results.append(None)
            else:
                results.append(res)
            if progress and i % 1000 == 0:
                progress(i / max(len(paths), 1), f"decoding image {i:,} of {len(paths):,}")
    return results, issues


def _rel(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(p)


def _stack(images: list[np.ndarray], where: Path) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError(
            f"{where}: images have different sizes {sorted(shapes)[:4]}...; pass size=48 "
            "(or another size) to resize them on loading."
        )
    return np.stack(images).astype(np.uint8, copy=False)


def load_folders(
    root: str | Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    extra: str = "keep",
    color: str = "grey",
    size: int | tuple[int, int] | None = 48,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    groups: str | None = "auto",
    on_error: str = "raise",
    progress: Progress | None = None,
    name: str | None = None,
    faces: str | None = None,
) -> FERDataset:
    """Load an image-folder dataset.

    Two layouts are recognised:

    * Kaggle FER2013 style ``root/<split>/<class>/*.jpg`` where ``<split>`` is train / val / test
      (also training, validation, publictest, ...): splits are taken from the folders.
    * One folder per class ``root/<class>/*`` (CK+, JAFFE sorted by class, a user's own photos):
      images are split ``fractions`` (train, val, test) by class with ``seed``; with
      ``groups="auto"`` CK+ names (``S005_001_...``) are split by subject so that no subject
      appears in two splits.

    Class folder names are mapped onto the canonical seven (``anger`` -> angry, ``sadness`` -> sad,
    ...); ``contempt`` and ``ahegao`` are kept as extra classes (``extra="keep"``) or dropped
    (``extra="drop"``); other names need an entry in ``label_map``. Images are decoded to
    ``color`` ("grey" or "rgb") and resized to ``size`` (``None`` keeps them as they are, which
    requires one common size). Source ids are paths relative to ``root``. ``faces="haar"`` (or
    ``"mtcnn"``) detects and crops the largest face of each image first (for uncropped photos such
    as JAFFE); images with no face are left out and listed in ``issues``.
    """
    _check_on_error(on_error)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder. Expected class folders (root/<class>/*.jpg) "
                        "or split folders (root/train/<class>/*.jpg).")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [p for p in subdirs if canonical_name(p.name) in SPLIT_FOLDERS]
    issues: list[LoadIssue] = []
    entries: list[tuple[Path, str, str]] = []  # (file, raw class, split)
    if split_dirs:
        layouts = [(SPLIT_FOLDERS[canonical_name(d.name)], d) for d in split_dirs]
    else:
        layouts = [("train", root)]
    for split, base in layouts:
        class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise DataError(f"{base}: no class folders found; expected {base}/<class>/<image files>.")
        for cdir in class_dirs:
            files = _scan_images(cdir)
            if not files:
                msg = f"class folder is empty (no image files with {', '.join(('.jpg', '.png', '.tif'))}, ...)"
                if on_error == "raise":
                    layout = "split folders (root/<split>/<class>/*.jpg)" if split_dirs else \
                        "one folder per class (root/<class>/*.jpg)"
                    raise DataError(f"{_rel(cdir, root)}: {msg} in {root}, read as {layout}. Check that {root} is "
                                    "the dataset's folder, or leave empty class folders out (on_error='skip'; "
                                    "--skip-bad on the command line).")
                issues.append(LoadIssue(_rel(cdir, root), msg))
                continue
            entries.extend((f, cdir.name, split) for f in files)
    if not entries:
        raise DataError(f"{root}: no image files found in any class folder.")
    raw_names = sorted({e[1] for e in entries})
    classes, mapping = map_class_names(raw_names, label_map, extra, where=str(root))
    entries = [e for e in entries if mapping[e[1]] is not None]
    decoded, bad = _read_many([e[0] for e in entries], root, color, size, on_error, progress, faces)
    issues += bad
    ok = [i for i, im in enumerate(decoded) if im is not None]
    if not ok:
        raise DataError(f"{root}: none of the {len(entries)} image files could be read; first problem: {bad[0]}")
    images = _stack([decoded[i] for i in ok], root)
    labels = np.array([classes.index(mapping[entries[i][1]]) for i in ok])
    splits = np.array([entries[i][2] for i in ok])
    sources = np.array([_rel(entries[i][0], root) for i in ok])
    ds = FERDataset(images, labels, classes, splits, sources, name=name or root.name, root=str(root),
                    issues=issues)
    if not split_dirs:
        ds = resplit(ds, fractions, seed=seed, groups=groups)
    return ds


# --------------------------------------------------------------------------- OAHEGA
def load_oahega(
    root: str | Path,
    *,
    label_map: Mapping[str, str | None] | None = None,
    extra: str = "keep",
    size: int | tuple[int, int] | None = 48,
    color: str = "rgb",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    on_error: str = "raise",
    progress: Progress | None = None,
    faces: str | None = None,
) -> FERDataset:
    """Load OAHEGA: RGB face crops in folders per class plus ``data.csv`` (``path,label``).

    ``data.csv`` is the source of truth for labels; its paths may be relative to ``root`` or carry
    a leading folder of the original archive (resolved by trying shorter suffixes). Classes: Happy,
    Angry, Sad, Neutral, Surprise map to the canonical names; Ahegao is kept as an extra class or
    dropped (``extra``). Images are split stratified by class with ``fractions`` and ``seed``.
    """
    _check_on_error(on_error)
    root = Path(root)
    table = root / "data.csv"
    if not table.is_file():
        raise DataError(f"{root}: no data.csv; OAHEGA needs folders per class plus data.csv (path,label).")
    frame = _read_table(table)
    frame.columns = [c.strip().lower() for c in frame.columns]
    if not {"path", "label"} <= set(frame.columns):
        raise DataError(f"{table}: needs columns path,label; found {list(frame.columns)}.")
    frame = frame.loc[:, ["path", "label"]]
    classes, mapping = map_class_names(sorted(set(frame["label"])), label_map, extra, where=str(table))
    files: list[Path] = []
    labels: list[int] = []
    issues: list[LoadIssue] = []
    for i, (rel, lab) in enumerate(frame.itertuples(index=False)):
        target = mapping[lab]
        if target is None:
            continue
        found = _resolve(root, rel)
        if found is None:
            msg = f"data.csv row {i} (line {i + 2}): file {rel!r} not found under {root}"
            if on_error == "raise":
                raise DataError(msg)
            issues.append(LoadIssue(rel, "file listed in data.csv not found"))
            continue
        files.append(found)
        labels.append(classes.index(target))
    decoded, bad = _read_many(files, root, color, size, on_error, progress, faces)
    issues += bad
    ok = [i for i, im in enumerate(decoded) if im is not None]
    if not ok:
        raise DataError(f"{root}: no readable images listed in data.csv.")
    ds = FERDataset(
        _stack([decoded[i] for i in ok], root), np.array(labels)[ok], classes,
        np.full(len(ok), "train"), np.array([_rel(files[i], root) for i in ok]),
        name="oahega", root=str(root), issues=issues,
    )
    return resplit(ds, fractions, seed=seed, groups=None)


def _resolve(root: Path, rel: str) -> Path | None:
    """The file ``rel`` names inside ``root`` (trying shorter suffixes of it), never a file outside."""
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    if ".." in parts:
        return None
    parts = tuple(p for p in parts if p not in (".", "", "/"))
    if parts and parts[0].endswith(":"):  # a Windows drive, e.g. "C:"
        parts = parts[1:]
    inside = root.resolve()
    for k in range(len(parts)):
        cand = root.joinpath(*parts[k:])
        if cand.is_file() and cand.resolve().is_relative_to(inside):
            return cand
    return None


# --------------------------------------------------------------------------- FER+
def load_ferplus(path: str | Path) -> pd.DataFrame:
    """Read FER+ votes: ``fer2013new.csv`` (row-aligned with fer2013.csv) or a per-file map.

    Returns one row per image with columns ``key`` (``"row=<i>"`` for fer2013new.csv, the image
    path for a map with a ``file`` column), the ten vote columns (neutral, happiness, surprise,
    sadness, anger, disgust, fear, contempt, unknown, NF; missing votes are 0), ``n_votes``,
    ``majority`` (canonical class name, ``"contempt"``, ``"unknown"`` or ``"not_face"``) and
    ``not_face`` (True when NF has the most votes or the image has no FER+ entry).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected FER+ votes (fer2013new.csv or ferplus_map.csv).")
    frame = _read_table(path)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [v for v in FERPLUS_VOTES if v not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing FER+ vote column(s) {missing}; found {list(frame.columns)}.")
    if "file" in frame.columns:
        keys = frame["file"].str.replace("\\", "/", regex=False)
        image_col = "ferplus_image" if "ferplus_image" in frame.columns else None
    else:
        keys = pd.Series([f"row={i}" for i in range(len(frame))])
        image_col = "Image name" if "Image name" in frame.columns else None
    votes = frame.loc[:, list(FERPLUS_VOTES)].replace("", "0")
    try:
        votes = votes.astype(float).astype(np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: vote columns must be integers ({exc}).") from None
    out = pd.DataFrame({"key": keys.to_numpy()})
    out[list(FERPLUS_VOTES)] = votes.to_numpy()
    out["n_votes"] = votes.sum(axis=1).to_numpy()
    names = np.array(["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear",
                      "contempt", "unknown", "not_face"])
    majority = names[np.argmax(votes.to_numpy(), axis=1)]
    missing_image = (frame[image_col].str.strip() == "").to_numpy() if image_col else np.zeros(len(frame), bool)
    not_face = (majority == "not_face") | missing_image | (out["n_votes"].to_numpy() == 0)
    majority = np.where(not_face, "not_face", majority)
    out["majority"] = majority
    out["not_face"] = not_face
    return out


def attach_ferplus(ds: FERDataset, votes: pd.DataFrame | str | Path) -> FERDataset:
    """Return ``ds`` with ``soft_labels`` (FER+ vote distribution over ``ds.classes``) and ``not_face``.

    Votes are matched to images by source id: ``"<csv>#row=<i>"`` to ``row=<i>`` (fer2013new.csv),
    or a path relative to the dataset root to the map's ``file`` column. Images without a FER+ entry
    get an all-zero soft label and ``not_face=False``; votes for classes ``ds`` lacks (contempt in a
    seven-class set, unknown, not-a-face) are left out of the distribution.
    """
    if not isinstance(votes, pd.DataFrame):
        votes = load_ferplus(votes)
    keys = [s.split("#", 1)[1] if "#row=" in s else s for s in ds.sources]
    table = votes.set_index("key")
    table = table[~table.index.duplicated()]
    idx = table.index.get_indexer(keys)
    found = idx >= 0
    if not found.any():
        raise DataError(
            f"none of the {len(ds)} images of {ds.name} match an entry of the FER+ votes "
            f"(e.g. source {ds.sources[0]!r} vs key {votes['key'].iloc[0]!r}); check that the votes "
            "belong to this dataset."
        )
    column_of = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                 "sad": "sadness", "surprise": "surprise", "neutral": "neutral", "contempt": "contempt"}
    soft = np.zeros((len(ds), len(ds.classes)), np.float32)
    for j, c in enumerate(ds.classes):
        if c in column_of:
            soft[found, j] = table[column_of[c]].to_numpy()[idx[found]]
    total = soft.sum(1, keepdims=True)
    soft = np.divide(soft, total, out=np.zeros_like(soft), where=total > 0)
    not_face = np.zeros(len(ds), bool)
    not_face[found] = table["not_face"].to_numpy()[idx[found]]
    out = ds.select(np.arange(len(ds)))
    out.soft_labels, out.not_face = soft, not_face
    return out

