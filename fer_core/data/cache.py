"""A dataset cache: ``.npz`` files keyed by the source's content and the loader's options.

A 35k-image folder takes tens of seconds to decode; from the cache it loads in well under a
second. The key covers every file's relative path, size and modification time (folders) or the
full bytes (single files), plus the loader options, so any change to the data makes a new entry.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..paths import cache_dir
from ..errors import DataError
from ..io import atomic_write_npz
from .dataset import FERDataset, LoadIssue

CACHE_VERSION = 3


def fingerprint(path: str | Path) -> str:
    """A hex digest of a file's bytes, or of a folder's file names, sizes and mtimes."""
    path = Path(path)
    h = hashlib.sha1()
    if path.is_file():
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder.")
    rows = []
    stack = [path]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir(follow_symlinks=True):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=True):
                st = entry.stat()
                rows.append(f"{os.path.relpath(entry.path, path)}\t{st.st_size}\t{st.st_mtime_ns}")
    for row in sorted(rows):
        h.update(row.encode())
        h.update(b"\n")
    return h.hexdigest()


def cache_key(kind: str, path: str | Path, options: dict[str, Any]) -> str:
    """The cache entry name for a loader ``kind`` on ``path`` with ``options``."""
    payload = json.dumps(
        {"v": CACHE_VERSION, "kind": kind, "path": str(Path(path).resolve()),
         "content": fingerprint(path), "options": options},
        sort_keys=True, default=str,
    )
    return f"{kind}-{hashlib.sha1(payload.encode()).hexdigest()[:20]}"


def save_npz(ds: FERDataset, path: str | Path) -> None:
    """Write a dataset to ``path`` (uncompressed ``.npz``, atomically)."""
    meta = {
        "classes": list(ds.classes), "name": ds.name, "root": ds.root, "synthetic": ds.synthetic,
        "issues": [[i.source, i.reason] for i in ds.issues], "split_note": ds.split_note,
    }
    arrays = {"images": ds.images, "labels": ds.labels, "splits": ds.splits, "sources": ds.sources,
              "meta": np.array(json.dumps(meta))}
    if ds.soft_labels is not None:
        arrays["soft_labels"] = ds.soft_labels
    if ds.not_face is not None:
        arrays["not_face"] = ds.not_face
    atomic_write_npz(path, **arrays)


def load_npz(path: str | Path) -> FERDataset:
    """Read a dataset written by :func:`save_npz`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            _check_meta(meta)
            return FERDataset(
                z["images"], z["labels"], tuple(meta["classes"]), z["splits"], z["sources"],
                name=meta["name"], root=meta["root"], synthetic=meta["synthetic"],
                soft_labels=z["soft_labels"] if "soft_labels" in z.files else None,
                not_face=z["not_face"] if "not_face" in z.files else None,
                issues=[LoadIssue(s, r) for s, r in meta["issues"]], split_note=str(meta.get("split_note", "")),
            )
    except Exception as exc:  # noqa: BLE001 - a damaged entry fails in zipfile, zlib, numpy, json or here alike
        raise DataError(f"{path}: unreadable dataset cache ({type(exc).__name__}: {exc}); "
                        "delete it to rebuild.") from None


def _check_meta(meta: Any) -> None:
    """Raise ValueError unless ``meta`` has the fields and types :func:`save_npz` writes."""
    ok = (isinstance(meta, dict) and isinstance(meta.get("name"), str) and isinstance(meta.get("root"), str)
          and isinstance(meta.get("synthetic"), bool) and isinstance(meta.get("classes"), list)
          and all(isinstance(c, str) for c in meta["classes"]) and isinstance(meta.get("issues"), list)
          and all(isinstance(i, list) and len(i) == 2 and all(isinstance(x, str) for x in i) for i in meta["issues"]))
    if not ok:
        raise ValueError("metadata is not the one save_npz writes")


def cached(
    kind: str,
    path: str | Path,
    options: dict[str, Any],
    build: Callable[[], FERDataset],
    *,
    enabled: bool = True,
) -> FERDataset:
    """Return the cached dataset for (kind, path content, options), building and storing it if absent.

    A corrupt cache entry is rebuilt, never trusted.
    """
    if not enabled:
        return build()
    entry = cache_dir() / f"{cache_key(kind, path, options)}.npz"
    if entry.is_file():
        try:
            return load_npz(entry)
        except DataError:
            entry.unlink(missing_ok=True)
    ds = build()
    save_npz(ds, entry)
    return ds
