"""Registered datasets: the ones the user pointed FER Studio at, remembered across restarts.

The registry is one JSON file, ``<data_dir>/datasets.json`` (see :func:`fer_core.paths.data_dir`)::

    {"version": 1, "datasets": [{"name": "fer2013", "path": "/data/fer2013", "format": "auto",
                                 "options": {}, "added": "2026-11-22T03:15:00+01:00"}, ...]}

Every change rewrites the file atomically (:func:`fer_core.io.atomic_write_json`) under a file lock,
so two dashboard sessions registering at once cannot lose an entry and a crash never leaves half a
file. The embedded synthetic set is not stored: it is always available as ``"synthetic"``.

>>> entry = register_dataset("../shared/data/fer2013", name="fer2013")   # doctest: +SKIP
>>> [e.name for e in list_datasets()]                                   # doctest: +SKIP
['fer2013']
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, DataError, close_matches
from ..io import atomic_write_json

__all__ = ["DatasetEntry", "REGISTRY_FILE", "get_dataset", "list_datasets", "register_dataset",
           "registry_path", "unregister_dataset"]

#: File name of the registry inside the data directory.
REGISTRY_FILE = "datasets.json"
REGISTRY_VERSION = 1
#: Formats a registered dataset may declare (those of :func:`fer_core.data.load_dataset`).
FORMATS = ("auto", "fer2013-csv", "folders", "oahega")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset.

    Attributes
    ----------
    name : short unique name shown in the dashboard (letters, digits, space, ``_ . + -``)
    path : absolute path of the folder, FER2013 CSV or extracted ``.zip`` folder
    format : one of ``"auto"``, ``"fer2013-csv"``, ``"folders"``, ``"oahega"``
    options : keyword options for :func:`fer_core.data.load_dataset` (``size``, ``color``, ...)
    added : ISO 8601 local time of registration
    """

    name: str
    path: str
    format: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    added: str = ""

    @property
    def exists(self) -> bool:
        """Whether the file or folder is still there."""
        return Path(self.path).exists()

    def load(self, **kwargs: Any):
        """The dataset, via :func:`fer_core.data.load_dataset` (``kwargs`` override ``options``)."""
        from .sources import load_dataset

        return load_dataset(self.path, self.format, **{**self.options, **kwargs})


def registry_path(root: str | Path | None = None) -> Path:
    """``<root>/datasets.json``; ``root`` defaults to :func:`fer_core.paths.data_dir`."""
    if root is None:
        from ..paths import data_dir

        root = data_dir()
    return Path(root) / REGISTRY_FILE


def _read(path: Path) -> list[DatasetEntry]:
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: the dataset registry is unreadable ({exc}); fix or delete the file "
                        "(datasets are re-registered from the Data page).") from None
    items = raw.get("datasets") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected {{'version': 1, 'datasets': [...]}}, got {type(raw).__name__}; "
                        "fix or delete the file.")
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("path"), str):
            out.append(DatasetEntry(name=item["name"], path=item["path"], format=str(item.get("format", "auto")),
                                    options=dict(item.get("options") or {}), added=str(item.get("added", ""))))
    return out


def _write(path: Path, entries: list[DatasetEntry]) -> None:
    atomic_write_json(path, {"version": REGISTRY_VERSION, "datasets": [asdict(e) for e in entries]})


def list_datasets(root: str | Path | None = None) -> list[DatasetEntry]:
    """Registered datasets in registration order ([] when none; the synthetic set is not listed)."""
    return _read(registry_path(root))


def get_dataset(name: str, root: str | Path | None = None) -> DatasetEntry:
    """The registered dataset called ``name``; DataError listing close names when there is none."""
    entries = list_datasets(root)
    for e in entries:
        if e.name == name:
            return e
    names = [e.name for e in entries]
    close = close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else (
        f" Registered: {', '.join(map(repr, names))}." if names else " No dataset is registered yet.")
    raise DataError(f"No registered dataset named {name!r}.{hint}")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise ConfigError(f"Dataset name must be 1-64 characters (letters, digits, space, '_', '.', '+', '-', "
                          f"starting with a letter or digit), got {name!r}.")
    if name.strip().lower().startswith("synthetic"):
        raise ConfigError(f"Dataset name {name!r} is reserved for the embedded synthetic set; choose another name.")
    return name.strip()


def register_dataset(
    path: str | Path,
    name: str | None = None,
    *,
    format: str = "auto",
    options: Mapping[str, Any] | None = None,
    replace: bool = False,
    root: str | Path | None = None,
) -> DatasetEntry:
    """Remember a dataset under a name.

    Parameters
    ----------
    path : an existing folder, FER2013 CSV or ``.zip`` (relative paths are made absolute against
        the current folder). Nothing is loaded here: load it once first (``load_dataset(path)``) to
        check it reads.
    name : unique name (default: the file or folder name)
    format : one of :data:`FORMATS`
    options : keyword options for ``load_dataset`` (JSON-serialisable)
    replace : overwrite an entry of the same name instead of raising
    root : data directory (default :func:`fer_core.paths.data_dir`)

    Returns
    -------
    DatasetEntry, as stored
    """
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ConfigError(f"path must be a folder, a FER2013 CSV or a .zip path, got {path!r}.")
    if str(path).startswith("synthetic"):
        raise ConfigError("The synthetic set is always available and is not registered; pass a folder, "
                          "FER2013 CSV or .zip path.")
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise DataError(f"{p}: no such file or folder; give the path of a dataset folder, a FER2013 CSV or a .zip.")
    if format not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {format!r}.")
    opts = dict(options or {})
    try:
        json.dumps(opts)
    except (TypeError, ValueError):
        raise ConfigError(f"options must be JSON-serialisable keyword options for load_dataset, got {opts!r}.") from None
    name = _check_name(name if name is not None else (p.stem if p.is_file() else p.name))
    from ..runs import file_lock, now_iso

    reg = registry_path(root)
    with file_lock(reg.parent / ".datasets.lock"):
        entries = _read(reg)
        same = [e for e in entries if e.name == name]
        if same and not replace:
            raise ConfigError(f"A dataset named {name!r} is already registered ({same[0].path}); "
                              "choose another name, or replace the entry (`data add --replace`; replace=True in Python).")
        entry = DatasetEntry(name=name, path=str(p), format=format, options=opts, added=now_iso())
        entries = [e for e in entries if e.name != name] + [entry]
        _write(reg, entries)
    return entry


def unregister_dataset(name: str, root: str | Path | None = None) -> None:
    """Forget a registered dataset (its files are left alone); DataError when there is none."""
    from ..runs import file_lock

    reg = registry_path(root)
    with file_lock(reg.parent / ".datasets.lock"):
        entries = _read(reg)
        if not any(e.name == name for e in entries):
            get_dataset(name, root)  # raises, listing close names
        _write(reg, [e for e in entries if e.name != name])
