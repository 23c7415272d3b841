"""Dataset ``.zip`` archives: unpack once per content, safely, and list or remove what was unpacked.

Every way an archive can fail (not a zip, truncated, corrupt deflate stream, password, unknown
compression, unsafe member names, too many entries, too large, disk full) is one
:class:`~fer_core.errors.DataError` naming the archive and what to do; a failed unpack leaves nothing
behind. Unpacked folders live under ``<data_dir>/datasets/<name>-<content hash>`` and are reused by
content hash.
"""
from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DataError
from ..io import fsync_dir
from ..names import slug
from ..paths import data_dir

#: Largest total size an archive may unpack to (zip bombs).
MAX_UNZIPPED_BYTES = 8 * 1024**3
#: Most entries an archive may hold (FER2013 as image folders has about 36,000).
MAX_ENTRIES = 200_000
#: Compression methods Python's zipfile can unpack: stored, deflate, bzip2, LZMA.
SUPPORTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                     zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
#: Entries dropped while unpacking (macOS resource forks and folder metadata).
JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db")
_CHUNK = 1 << 20
_REZIP = "re-create it with a standard zip tool (deflate, no password)"


def file_digest(path: str | Path, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of a file, read in 1 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:length]


def datasets_dir() -> Path:
    """Where unpacked archives live: ``<data_dir>/datasets``."""
    path = data_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def extract_zip(path: str | Path, *, name: str | None = None, max_bytes: int = MAX_UNZIPPED_BYTES,
                max_entries: int = MAX_ENTRIES) -> Path:
    """Unpack a dataset ``.zip`` (once per content) and return the dataset root inside it.

    The folder is named ``<name>-<content hash>`` (``name`` defaults to the archive's stem). When
    everything sits in one top folder (or is one CSV), that folder (or file) is returned.

    Raises
    ------
    DataError
        For any unreadable, unsafe or oversized archive; nothing is left half-unpacked.
    """
    path = Path(path)
    try:
        digest = file_digest(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the archive ({exc.strerror or exc}).") from None
    target = _unpacked_with(digest) or datasets_dir() / f"{slug(name or path.stem, 'archive')}-{digest}"
    if not target.is_dir():
        _unpack(path, target, max_bytes=max_bytes, max_entries=max_entries)
    return _dataset_root(target)


def _unpacked_with(digest: str) -> Path | None:
    return next((p for p in sorted(datasets_dir().glob(f"*-{digest}")) if p.is_dir()), None)


def _unpack(path: Path, target: Path, *, max_bytes: int, max_entries: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        with zipfile.ZipFile(path) as zf:
            members = _checked_members(zf, path, max_bytes=max_bytes, max_entries=max_entries)
            written = 0
            for m in members:
                written += _extract(zf, m, tmp, path, budget=max_bytes - written)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # another session unpacking the same content won the race: fine
                raise
        fsync_dir(target.parent)
    except DataError:
        raise
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a valid .zip archive ({exc}); {_REZIP}.") from None
    except (zlib.error, EOFError) as exc:
        raise DataError(f"{path}: the archive is truncated or corrupt ({exc}); download it again or {_REZIP}.") from None
    except NotImplementedError as exc:
        raise DataError(f"{path}: uses a feature Python cannot unpack ({exc}); {_REZIP}.") from None
    except (RuntimeError, ValueError, zipfile.LargeZipFile) as exc:
        raise DataError(f"{path}: cannot be unpacked ({exc}); {_REZIP}.") from None
    except OSError as exc:
        raise DataError(f"{path}: unpacking failed ({exc.strerror or exc}); check the free space in "
                        f"{target.parent}.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _checked_members(zf: zipfile.ZipFile, path: Path, *, max_bytes: int, max_entries: int) -> list[zipfile.ZipInfo]:
    """The archive's entries to unpack, after every check that can be made from the directory."""
    members = zf.infolist()
    if len(members) > max_entries:
        raise DataError(f"{path}: holds {len(members):,} entries, more than the limit of {max_entries:,}; "
                        "split it into several archives.")
    if not members:
        raise DataError(f"{path}: the archive is empty; it should hold a dataset folder or a FER2013 CSV.")
    keep = []
    for m in members:
        parts = PurePosixPath(m.filename.replace("\\", "/")).parts
        if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or "\x00" in m.filename:
            raise DataError(f"{path}: unsafe entry name {m.filename!r} (absolute or leaving the folder); {_REZIP}.")
        if m.flag_bits & 0x1:
            raise DataError(f"{path}: {m.filename!r} is encrypted; FER Studio cannot read password-protected "
                            f"archives, {_REZIP}.")
        if m.compress_type not in SUPPORTED_METHODS:
            raise DataError(f"{path}: {m.filename!r} uses compression method {m.compress_type}, which Python "
                            f"cannot unpack (supported: {', '.join(SUPPORTED_METHODS.values())}); {_REZIP}.")
        if not any(p in JUNK for p in parts):
            keep.append(m)
    total = sum(m.file_size for m in keep)
    if total > max_bytes:
        raise DataError(f"{path}: unpacks to {total:,} bytes, more than the limit of {max_bytes:,}.")
    return keep


def _extract(zf: zipfile.ZipFile, m: zipfile.ZipInfo, root: Path, path: Path, budget: int) -> int:
    """Write one entry under ``root`` in chunks; returns the bytes written (never more than ``budget``)."""
    dest = root.joinpath(*PurePosixPath(m.filename.replace("\\", "/")).parts)
    if m.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return 0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dst = open(dest, "wb")
    except (IsADirectoryError, NotADirectoryError, FileExistsError):
        raise DataError(f"{path}: {m.filename!r} is both a file and a folder in the archive; {_REZIP}.") from None
    written = 0
    with zf.open(m) as src, dst:
        while True:
            try:
                chunk = src.read(_CHUNK)
            except (zlib.error, lzma.LZMAError, EOFError, OSError, zipfile.BadZipFile) as exc:
                # the decompressor's errors (bzip2 raises OSError): the data is bad, not the disk
                raise DataError(f"{path}: {m.filename!r} is corrupt ({exc}); download the archive again or "
                                f"{_REZIP}.") from None
            if not chunk:
                break
            written += len(chunk)
            if written > budget:
                raise DataError(f"{path}: unpacks to more than its declared size limit (a zip bomb?).")
            dst.write(chunk)
    return written


def _dataset_root(target: Path) -> Path:
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and (entries[0].is_dir() or entries[0].suffix.lower() == ".csv"):
        return entries[0]
    return target


@dataclass(frozen=True)
class Unpacked:
    """One unpacked archive: its folder, size on disk and the registered datasets that use it."""

    name: str
    path: Path
    bytes: int
    used_by: tuple[str, ...]


def unpacked_archives() -> list[Unpacked]:
    """Every unpacked archive under :func:`datasets_dir`, with the registered names that point inside it."""
    from .registry import list_datasets

    entries = list_datasets()
    return [_unpacked(folder, entries)
            for folder in sorted(p for p in datasets_dir().iterdir() if p.is_dir() and not p.name.startswith("."))]


def _unpacked(folder: Path, entries: list) -> Unpacked:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return Unpacked(folder.name, folder, size, tuple(e.name for e in entries if _inside(Path(e.path), folder)))


def remove_unpacked(name: str) -> list[str]:
    """Delete an unpacked archive's folder and unregister the datasets inside it; returns their names."""
    from .registry import list_datasets, unregister_dataset

    folder = datasets_dir() / str(name)
    if "/" in str(name) or str(name).startswith(".") or not folder.is_dir():  # only what unpacked_archives lists
        from ..errors import did_you_mean

        names = [p.name for p in datasets_dir().iterdir() if p.is_dir() and not p.name.startswith(".")]
        raise DataError(f"No unpacked archive named {name!r}{did_you_mean(name, names)}; "
                        f"the Data page lists them.")
    u = _unpacked(folder, list_datasets())
    for dataset in u.used_by:
        unregister_dataset(dataset)
    trash = u.path.with_name(f".{u.name}.removing")
    os.replace(u.path, trash)  # one rename: a crash mid-delete leaves no half folder under its name
    shutil.rmtree(trash, ignore_errors=True)
    return list(u.used_by)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False
