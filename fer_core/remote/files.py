"""Which run files travel between a Ray node and the local run store, and how they are written back."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from ..errors import ClusterError
from ..io import atomic_write_bytes
from ..run_files import (CHECKPOINT_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILE,
                         PREDICTIONS_FILE, STATE_FILE)

#: The files of a run folder that travel, in the order they are written back: the checkpoint
#: before the state that names its epoch, the metrics (which mark a finished run) last.
SHIPPED = (CONFIG_FILE, MODEL_FILE, CHECKPOINT_FILE, HISTORY_FILE, PREDICTIONS_FILE, STATE_FILE, METRICS_FILE)
#: What a resumed run needs on the node.
RESUME_FILES = (CONFIG_FILE, MODEL_FILE, CHECKPOINT_FILE, HISTORY_FILE, STATE_FILE)


class FolderWatch:
    """The shipped files of a folder that changed since the last call (by size and mtime)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.seen: dict[str, tuple[int, int]] = {}

    def _stamp(self, name: str) -> tuple[int, int] | None:
        try:
            st = (self.folder / name).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def mark(self) -> None:
        """Take the files present now as already shipped (e.g. the ones a resume brought)."""
        for name in SHIPPED:
            if (stamp := self._stamp(name)) is not None:
                self.seen[name] = stamp

    def changed(self) -> dict[str, bytes]:
        """``{file name: content}`` of the shipped files new or changed since the last call."""
        out = {}
        for name in SHIPPED:
            stamp = self._stamp(name)
            if stamp is not None and self.seen.get(name) != stamp:
                out[name] = (self.folder / name).read_bytes()
                self.seen[name] = stamp
        return out


def pack(folder: str | Path, names=RESUME_FILES) -> dict[str, bytes]:
    """``{name: content}`` of the files ``names`` present in ``folder``."""
    folder = Path(folder)
    return {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}


def write_back(folder: str | Path, files: Mapping[str, bytes]) -> list[str]:
    """Write ``files`` into ``folder`` atomically, in :data:`SHIPPED` order; returns the names written.

    Only the names of :data:`SHIPPED` are accepted: a node never chooses a path on this machine.
    """
    unknown = sorted(set(files) - set(SHIPPED))
    if unknown:
        raise ClusterError(f"A Ray node sent unexpected files {unknown}; only {list(SHIPPED)} travel back.")
    written = []
    for name in SHIPPED:
        if name in files:
            atomic_write_bytes(Path(folder) / name, files[name])
            written.append(name)
    return written


def scratch_folder(prefix: str) -> Path:
    """A new temporary folder ``<tmp>/<prefix><pid>_...`` for training on a node, after removing
    the ones of processes that no longer exist (a killed trainer cannot clean up after itself)."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{prefix}*"):
        pid = old.name[len(prefix):].split("_", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}_", dir=base))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
