"""One entry point for every data source: ``load_dataset(path_or_name, format="auto")``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from .cache import cached
from .dataset import FERDataset
from .loaders import attach_ferplus, load_fer2013_csv, load_folders, load_oahega
from .unzip import extract_zip

FORMATS = ("auto", "synthetic", "fer2013-csv", "folders", "oahega")
SYNTHETIC = "synthetic"


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path``: ``synthetic``, ``fer2013-csv``, ``oahega`` or ``folders``."""
    if str(path) == SYNTHETIC or str(path).startswith(SYNTHETIC + ":"):
        return "synthetic"
    p = Path(path)
    if p.is_file():
        if p.suffix.lower() == ".csv":
            with open(p, encoding="utf-8", errors="replace") as fh:
                header = fh.readline().lower()
            if "pixels" in header and "emotion" in header:
                return "fer2013-csv"
            raise DataError(f"{p}: a CSV without emotion,pixels columns; FER Studio reads the FER2013 "
                            f"CSV layout (emotion,pixels,Usage). Header found: {header.strip()[:120]!r}.")
        raise DataError(f"{p}: unsupported file; give a FER2013 CSV, a .zip, or a folder of images.")
    if p.is_dir():
        return "oahega" if (p / "data.csv").is_file() else "folders"
    raise DataError(f"{p}: no such file or folder (and not 'synthetic').")


def find_ferplus(path: str | Path, fmt: str) -> Path | None:
    """The FER+ votes file that belongs with a dataset, if one sits beside it."""
    p = Path(path)
    if fmt == "folders":
        cands = [p / "ferplus" / "ferplus_map.csv", p / "ferplus_map.csv"]
    elif fmt == "fer2013-csv":
        cands = [p.parent / "fer2013new.csv", p.parent / "ferplus" / "fer2013new.csv"]
    else:
        return None
    return next((c for c in cands if c.is_file()), None)


def load_dataset(
    path: str | Path = SYNTHETIC,
    format: str = "auto",
    *,
    ferplus: str | Path | None = "auto",
    cache: bool = True,
    progress=None,
    **options: Any,
) -> FERDataset:
    """Load any supported dataset into a :class:`FERDataset`.

    Parameters
    ----------
    path : ``"synthetic"`` (the embedded generated set; ``"synthetic:n=2000,seed=1"`` sets
        options), a FER2013 CSV, a folder (Kaggle split folders, folders per class, or OAHEGA with
        ``data.csv``), or a ``.zip`` of any of these.
    format : one of ``auto``, ``synthetic``, ``fer2013-csv``, ``folders``, ``oahega``.
    ferplus : FER+ votes to attach (soft labels and not-a-face flags): ``"auto"`` uses
        ``ferplus/ferplus_map.csv`` or ``fer2013new.csv`` beside the data when present, a path uses
        that file, ``None`` attaches nothing.
    cache : reuse the ``.npz`` cache keyed by the data's content and the options.
    **options : passed to the loader (``size``, ``color``, ``label_map``, ``extra``, ``fractions``,
        ``seed``, ``on_error``, ...).
    """
    if format not in FORMATS:
        raise DataError(f"format must be one of {FORMATS}, got {format!r}.")
    if str(path).lower().endswith(".zip") and Path(path).is_file():
        path = extract_zip(path)
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "synthetic":
        from .synthetic import make_synthetic

        opts = _parse_inline(str(path)) | options
        return make_synthetic(**opts)
    path = Path(path)
    loader = {"fer2013-csv": load_fer2013_csv, "folders": load_folders, "oahega": load_oahega}[fmt]
    ds = cached(fmt, path, options, lambda: loader(path, progress=progress, **options), enabled=cache)
    votes = find_ferplus(path, fmt) if ferplus == "auto" else ferplus
    if votes is not None:
        ds = attach_ferplus(ds, votes)
    return ds


def _parse_inline(spec: str) -> dict[str, Any]:
    """``"synthetic:n=2000,seed=1"`` -> ``{"n": 2000, "seed": 1}``."""
    if ":" not in spec:
        return {}
    out: dict[str, Any] = {}
    for item in spec.split(":", 1)[1].split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise DataError(f"synthetic options look like 'synthetic:n=2000,seed=1'; got {item!r}.")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out
