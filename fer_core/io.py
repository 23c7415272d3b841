"""Atomic file writes: a crash never leaves a half-written file behind."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file lives in the same folder (so ``os.replace`` is atomic) and is removed if
    the block raises. ``suffix`` lets writers that insist on an extension (``.npz``, ``.keras``)
    see one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        fsync_dir(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries to disk, so a rename into it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(folder: str | Path) -> list[str]:
    """Delete the temporary files :func:`atomic_path` leaves when its process is killed mid-write.

    Call it only where no other process is writing (e.g. a worker taking over its run folder).
    Returns the names removed.
    """
    removed = []
    for p in Path(folder).glob(".*.tmp*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: str | Path, **arrays: Any) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:  # a file object: numpy would append ".npz" to the temporary name
            np.savez(fh, **arrays)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json_text(obj) + "\n")


def json_text(obj: Any, *, lenient: bool = False) -> str:
    """``obj`` as indented JSON; numpy values and paths become plain ones. ``lenient``: anything else via ``str``."""
    return json.dumps(obj, indent=2, default=_lenient_default if lenient else _json_default)


def _lenient_default(obj: Any) -> Any:
    try:
        return _json_default(obj)
    except TypeError:
        return str(obj)


def jsonable(value: Any, *, finite: bool = True) -> Any:
    """``value`` in plain JSON types: numpy scalars and arrays unboxed, tables as lists of records,
    paths as strings, dict keys as strings; NaN and infinities become None unless ``finite`` is False."""
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return [jsonable(r, finite=finite) for r in value.to_dict(orient="records")]
    if isinstance(value, dict):
        return {str(k): jsonable(v, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, finite=finite) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v, finite=finite) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(obj: Any) -> Any:
    """``json.dumps`` hook: numpy values and paths as plain JSON (NaN kept, as ``json`` writes it)."""
    import numpy as np

    if isinstance(obj, (np.generic, np.ndarray, Path)):
        return jsonable(obj, finite=False)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
