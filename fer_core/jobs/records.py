"""The record of one background job: its statuses and the :class:`Job` dataclass."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..run_files import PROGRESS_FILE

#: Life cycle of a job: queued -> running -> done | failed | cancelled (queued -> cancelled too).
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
#: Statuses a job never leaves.
TERMINAL: tuple[str, ...] = ("done", "failed", "cancelled")
#: Error of a running job whose worker vanished without recording an outcome.
DIED_REASON = "worker process died (killed or host restarted)"


@dataclass
class Job:
    """One background job as seen by :class:`JobManager`.

    Attributes
    ----------
    id : ``<yyyymmdd-hhmmss>-<kind>-<4 hex>``
    kind : a key of :data:`KINDS`
    run_id : the run it works on (None for a sweep job: its trials are runs of their own)
    status : one of :data:`JOB_STATUSES`
    created, started, finished : ISO 8601 local times (None until reached)
    pid : worker process id while running
    resume : whether it continues the run from its last checkpoint
    error : why it failed (last line of the traceback, or :data:`DIED_REASON`)
    log_tail : last lines of the worker's log, recorded when it failed
    progress : the latest progress event the index holds (refreshed at most every 0.5 s)
    resumable : failed or cancelled with a checkpoint to continue from
    cancel_requested : when cancel was asked for (None if never)
    stop_requested : when a stop at the end of the current epoch was asked for (None if never)
    path : the job's folder
    ray_address : the Ray cluster it runs on (None: a local process)
    sweep_id : the sweep a ``sweep`` job runs (None otherwise)
    """

    id: str
    kind: str
    run_id: str | None
    status: str
    created: str
    started: str | None = None
    finished: str | None = None
    pid: int | None = None
    resume: bool = False
    error: str | None = None
    log_tail: str = ""
    progress: dict[str, Any] = field(default_factory=dict)
    resumable: bool = False
    cancel_requested: str | None = None
    stop_requested: str | None = None
    path: Path = field(default_factory=Path)
    ray_address: str | None = None
    sweep_id: str | None = None

    @property
    def paused(self) -> bool:
        """Stopped at an epoch's end as asked (``jobs cancel --at-epoch-end``), not cancelled outright:
        its status is ``"cancelled"``, and it is meant to be resumed."""
        return self.status == "cancelled" and bool(self.stop_requested) and not self.cancel_requested

    @property
    def status_text(self) -> str:
        """The status as people read it: ``"paused"`` for a paused job, else :attr:`status`."""
        return "paused" if self.paused else self.status

    @property
    def heartbeat_age(self) -> float | None:
        """Seconds since the worker last showed a sign of life (heartbeat or progress), None if never."""
        times = [p.stat().st_mtime for p in (self.path / "heartbeat", self.path / PROGRESS_FILE) if p.exists()]
        return max(0.0, time.time() - max(times)) if times else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (path as str, progress without its history list, ``paused`` added)."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["paused"] = self.paused
        d["progress"] = {k: v for k, v in self.progress.items() if k != "history"}
        return d

