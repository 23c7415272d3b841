"""Registering datasets from a path or an uploaded ``.zip``: load once to check, then remember."""
from __future__ import annotations

from pathlib import Path

from ..paths import data_dir
from .registry import DatasetEntry, register_dataset
from ..io import atomic_write_bytes
from ..names import slug
from .dataset import FERDataset
from .sources import extract_zip, load_dataset


def register_path(path: str | Path, name: str | None = None, *,
                  skip_bad: bool = False) -> tuple[DatasetEntry, FERDataset]:
    """Load ``path`` once (to check it reads), then register it; ``skip_bad`` skips unreadable files."""
    options = {"on_error": "skip"} if skip_bad else {}
    ds = load_dataset(str(path), **options)
    return register_dataset(str(path), name or None, options=options), ds


def register_zip(data: bytes, filename: str, name: str | None = None) -> tuple[DatasetEntry, FERDataset]:
    """Save an uploaded ``.zip`` under ``<data_dir>/uploads``, unpack it, register its root.

    The name defaults to the file name without its extension; the saved archive is removed once
    unpacked (the unpacked folder stays under ``<data_dir>/datasets``).
    """
    target = data_dir() / "uploads" / slug(filename, "upload.zip")
    atomic_write_bytes(target, data)
    try:
        root = extract_zip(target)
    finally:
        target.unlink(missing_ok=True)
    return register_path(root, name or slug(filename.rsplit(".", 1)[0], "upload"))
