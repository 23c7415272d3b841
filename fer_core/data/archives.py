"""Registering datasets from the dashboard: a path inside the allowed folders, or an uploaded ``.zip``."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError
from ..paths import DATA_ROOTS_ENV, allowed_data_roots, data_dir
from ..names import slug
from .dataset import FERDataset
from .registry import DatasetEntry, register_dataset
from .sources import load_dataset
from .unzip import extract_zip

#: Largest dataset ``.zip`` accepted from an upload (the dashboard's uploader says the same).
MAX_ARCHIVE_MB = 1024
#: Largest photo accepted from an upload: a photo is not a dataset.
MAX_PHOTO_MB = 25


def check_allowed(path: str | Path) -> Path:
    """``path`` resolved, if it lies inside :func:`~fer_core.paths.allowed_data_roots`, else DataError."""
    raw = str(path).strip()
    if not raw:
        raise DataError("Give the path of a dataset folder, FER2013 CSV or .zip.")
    resolved = Path(raw).expanduser().resolve()
    roots = allowed_data_roots()
    if not any(resolved.is_relative_to(r) for r in roots):
        raise DataError(
            f"{raw} is outside the folders the dashboard may read ({', '.join(str(r) for r in roots)}). "
            f"Add its folder to {DATA_ROOTS_ENV} (separated by '{os.pathsep}') and restart the dashboard, "
            "or upload it as a .zip.")
    return resolved


def register_path(path: str | Path, name: str | None = None, *, skip_bad: bool = False,
                  allowed_only: bool = True, replace: bool = False) -> tuple[DatasetEntry, FERDataset]:
    """Load ``path`` once (to check it reads), then register it; ``skip_bad`` skips unreadable files.

    ``allowed_only`` (the dashboard's case) refuses paths outside the allowed folders; ``replace``
    replaces an entry of the same name (only once the new path has loaded).
    """
    if allowed_only:
        check_allowed(path)
    options = {"on_error": "skip"} if skip_bad else {}
    ds = load_dataset(str(path), **options)
    return register_dataset(str(path), name or None, options=options, replace=replace), ds


def check_upload_size(size: int, name: str, limit_mb: int) -> None:
    """DataError when an upload of ``size`` bytes is over ``limit_mb`` megabytes."""
    if size > limit_mb * 1024 * 1024:
        raise DataError(f"{name}: {size / 1024**2:,.1f} MB is more than the {limit_mb} MB limit for this upload.")


def register_zip(data: bytes | BinaryIO, filename: str, name: str | None = None, *,
                 limit_mb: int = MAX_ARCHIVE_MB) -> tuple[DatasetEntry, FERDataset]:
    """Unpack an uploaded ``.zip`` (bytes or a file object) and register its dataset root.

    The upload goes to a unique temporary file under ``<data_dir>/uploads``, removed afterwards;
    the unpacked folder stays under ``<data_dir>/datasets`` (reused when the same content comes
    again; removable from the Data page). The name defaults to the file name without its extension.
    """
    uploads = data_dir() / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".zip", dir=uploads)
    try:
        with os.fdopen(fd, "wb") as fh:
            size = _copy(data, fh)
        check_upload_size(size, filename, limit_mb)
        root = extract_zip(tmp, name=filename.rsplit(".", 1)[0])
    finally:
        Path(tmp).unlink(missing_ok=True)
    return register_path(root, name or slug(filename.rsplit(".", 1)[0], "upload"), allowed_only=False)


def _copy(data: bytes | BinaryIO, fh: BinaryIO) -> int:
    if isinstance(data, (bytes, bytearray, memoryview)):
        fh.write(data)
        return len(data)
    data.seek(0)
    size = 0
    while chunk := data.read(1 << 20):
        fh.write(chunk)
        size += len(chunk)
    return size
