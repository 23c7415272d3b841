"""Training runs on disk: one folder per run, indexed in SQLite so listing is fast.

(Long because the folder records and their SQLite index must change together, in one place.)

Layout under the data directory (:func:`fer_core.paths.data_dir`)::

    runs/<run_id>/run.json        the run's record (id, name, model, dataset, status, config, ...)
    runs/<run_id>/config.toml     written by the training engine, with model.keras, checkpoint.keras,
                                  state.json, history.json, metrics.json, predictions.npz
    jobs/<job_id>/job.json        a background job's record (see :mod:`fer_core.jobs`)
    index.sqlite                  rows mirroring run.json / job.json (WAL mode)

The folders are the truth: ``index.sqlite`` can always be rebuilt from them
(:meth:`RunStore.rebuild_index`), and a corrupt or outdated index is moved aside and rebuilt on
first use. Every file write is atomic and every index write happens in one transaction.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import ConfigError, DataError, FERError, ModelFileError, close_matches
from .io import atomic_path, atomic_write_json
from .names import slug
from .run_files import (CHECKPOINT_FILE, CONFIG_FILE, HISTORY_FILE, JOB_FILE, METRICS_FILE,
                        MODEL_FILE, PREDICTIONS_FILE, PROGRESS_FILE, STATE_FILE, SWA_FILE, TEACHER_FILE)

__all__ = ["RUN_STATUSES", "Run", "RunStore", "UnknownRunError", "now_iso"]

#: Life cycle of a run.
RUN_STATUSES: tuple[str, ...] = ("created", "running", "done", "failed", "cancelled")
#: Version of the SQLite layout; an index with another version is rebuilt from the folders
#: (2: runs.sweep, the sweep a run is a trial of).
SCHEMA_VERSION = 2
#: What carries an unfinished run to another machine (:meth:`RunStore.pack`): the checkpoint and
#: its state, the best model so far (without optimizer state), the record, config and history, and when present the SWA
#: average and the teacher's probabilities (so the resumed run averages on and trains on the
#: same targets).
PACK_FILES = (CHECKPOINT_FILE, STATE_FILE, MODEL_FILE, "run.json", CONFIG_FILE, HISTORY_FILE, SWA_FILE, TEACHER_FILE)
#: Fields :meth:`RunStore.update` may change.
RUN_FIELDS: tuple[str, ...] = ("name", "model", "dataset", "status", "test_accuracy", "macro_f1")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT, model TEXT, dataset TEXT, status TEXT NOT NULL,
    created TEXT NOT NULL, test_accuracy REAL, macro_f1 REAL, updated TEXT, sweep TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, run_id TEXT, status TEXT NOT NULL, created TEXT NOT NULL,
    started TEXT, finished TEXT, pid INTEGER, pid_start INTEGER, boot_id TEXT, resume INTEGER,
    error TEXT, cancel_requested TEXT, progress TEXT, updated TEXT, submitted REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_run ON jobs(run_id);
"""
#: Columns of the ``jobs`` table, in order (job.json holds these and more).
JOB_COLUMNS: tuple[str, ...] = (
    "id", "kind", "run_id", "status", "created", "started", "finished", "pid", "pid_start", "boot_id",
    "resume", "error", "cancel_requested", "progress", "updated", "submitted",
)
_RUN_COLUMNS: tuple[str, ...] = (
    "id", "name", "model", "dataset", "status", "created", "test_accuracy", "macro_f1", "updated", "sweep",
)


class UnknownRunError(FERError, KeyError):
    """No run (or job) with this id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def now_iso() -> str:
    """The local time with its UTC offset, to the second: ``2026-11-22T03:15:00+01:00``."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def unknown_id_error(kind: str, wanted: str, known: list[str]) -> UnknownRunError:
    """An error for an unknown run/job id that lists the close matches."""
    close = close_matches(wanted, known, n=5, cutoff=0.5)
    close += [k for k in known if str(wanted) and str(wanted) in k and k not in close][:5]
    hint = f" Did you mean: {', '.join(close)}?" if close else (
        f" Known {kind}s: {', '.join(known[:5])}{f' and {len(known) - 5} more' if len(known) > 5 else ''}." if known
        else f" There are no {kind}s yet.")
    return UnknownRunError(f"No {kind} with id {wanted!r}.{hint} List them with `python -m fer_core "
                           f"{kind}s`.")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) on ``path``, held for the block; works across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_json(path: Path, default: Any = None) -> Any:
    """Parsed JSON from ``path``, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _float_or_none(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


@dataclass
class Run:
    """One training run (a folder under ``runs/``) as listed by :class:`RunStore`.

    Attributes
    ----------
    id : ``<yyyymmdd-hhmmss>-<model>-<4 hex>``
    name, model, dataset : human name, model architecture name, dataset spec (path or ``synthetic:...``)
    status : one of :data:`RUN_STATUSES`
    created : ISO 8601 local time
    test_accuracy, macro_f1 : from ``metrics.json`` once the run is done (``None`` before)
    path : the run's folder
    bundled : shipped with FER Studio (``fer_core/pretrained``): read-only, see :mod:`fer_core.bundled`
    sweep : id of the sweep this run is a trial of (:mod:`fer_core.sweeps`), None otherwise
    """

    id: str
    name: str
    model: str
    dataset: str
    status: str
    created: str
    test_accuracy: float | None = None
    macro_f1: float | None = None
    path: Path = field(default_factory=Path)
    bundled: bool = False
    sweep: str | None = None

    @property
    def model_path(self) -> Path:
        """``<run>/model.keras`` (exists once training has finished)."""
        return self.path / MODEL_FILE

    @property
    def checkpoint_path(self) -> Path:
        """``<run>/checkpoint.keras``, written after every epoch (for resuming)."""
        return self.path / CHECKPOINT_FILE

    @property
    def has_checkpoint(self) -> bool:
        """Whether training can resume from a saved epoch (checkpoint.keras and state.json exist)."""
        return self.checkpoint_path.is_file() and (self.path / STATE_FILE).is_file()

    def record(self) -> dict[str, Any]:
        """The contents of ``run.json`` ({} when missing)."""
        return read_json(self.path / "run.json", {}) or {}

    def config(self) -> dict[str, Any]:
        """The training configuration (from run.json, else config.toml; {} when neither exists)."""
        cfg = self.record().get("config")
        if cfg:
            return cfg
        toml = self.path / "config.toml"
        if toml.is_file():
            import tomllib

            return tomllib.loads(toml.read_text(encoding="utf-8"))
        return {}

    def history(self) -> Any:
        """Per-epoch training history from ``history.json`` (``[]`` before the first epoch)."""
        return read_json(self.path / HISTORY_FILE, [])

    def metrics(self) -> dict[str, Any]:
        """Test metrics from ``metrics.json`` ({} before the run is done)."""
        return read_json(self.path / METRICS_FILE, {}) or {}

    def train_twins(self) -> dict[str, Any] | None:
        """Accuracy with and without the test faces that have a pixel-identical twin in train
        (:func:`fer_core.evaluation.leakage.leakage_figures`): from ``metrics.json`` (runs trained
        since 2026-12-07), else from the model card beside it (bundled models); None when neither has it."""
        found = self.metrics().get("train_twins")
        if found is None:
            from .modelcard import CARD_JSON

            found = ((read_json(self.path / CARD_JSON, {}) or {}).get("figures") or {}).get("train_twins")
        return found

    def predictions(self) -> dict[str, Any]:
        """Arrays of ``predictions.npz`` (e.g. ``y_true``, ``y_prob``) as a dict; {} when missing."""
        p = self.path / PREDICTIONS_FILE
        if not p.is_file():
            return {}
        import numpy as np

        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (path as str)."""
        d = asdict(self)
        d["path"] = str(self.path)
        return d


class RunStore:
    """Runs on disk under ``root`` (default :func:`fer_core.paths.data_dir`), indexed in SQLite.

    Parameters
    ----------
    root : the data directory; ``root/runs/<run_id>/`` holds each run, ``root/index.sqlite`` the index.
    """

    def __init__(self, root: str | Path | None = None):
        if root is None:
            from .paths import data_dir

            root = data_dir()
        self.root = Path(root).resolve()
        self.runs_dir = self.root / "runs"
        self.jobs_dir = self.root / "jobs"
        self.db_path = self.root / "index.sqlite"
        self._ready = False

    # ------------------------------------------------------------------ SQLite
    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextlib.contextmanager
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to the index (created or repaired on first use); ``write=True`` wraps the
        block in one ``BEGIN IMMEDIATE`` transaction (committed on success, rolled back on error)."""
        self._ensure()
        con = self._open()
        try:
            if write:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            else:
                yield con
        finally:
            con.close()

    def _ensure(self) -> None:
        if self._ready:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".index.lock"):
            try:
                self._init_db()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                self._move_aside(str(exc))
                self._init_db()
        self._ready = True

    def _init_db(self) -> None:
        con = self._open()
        try:
            if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            con.execute("DROP TABLE IF EXISTS runs")
            con.execute("DROP TABLE IF EXISTS jobs")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            self._fill(con)
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.execute("COMMIT")
        finally:
            con.close()

    def _move_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.db_path) + suffix)
            if p.exists():
                os.replace(p, p.with_name(f"{p.name}.corrupt-{stamp}"))
        with (self.root / "index.log").open("a", encoding="utf-8") as log:
            log.write(f"{now_iso()} index.sqlite unreadable ({reason}); moved aside and rebuilt from the run "
                      f"folders\n")

    def _fill(self, con: sqlite3.Connection) -> None:
        """Insert one row per run folder and per job folder (inside the caller's transaction)."""
        con.execute("DELETE FROM runs")
        con.execute("DELETE FROM jobs")
        if self.runs_dir.is_dir():
            for d in sorted(self.runs_dir.iterdir()):
                if d.is_dir() and not d.name.startswith("."):
                    rec = self._record_from_folder(d)
                    if rec is not None:
                        _upsert_run(con, rec)
        if self.jobs_dir.is_dir():
            for d in sorted(self.jobs_dir.iterdir()):
                rec = read_json(d / JOB_FILE)
                if isinstance(rec, dict) and rec.get("id") == d.name:
                    rec = dict(rec)
                    rec.setdefault("progress", read_json(d / PROGRESS_FILE))
                    upsert_job(con, rec)

    def _record_from_folder(self, d: Path) -> dict[str, Any] | None:
        """run.json of a run folder; for a folder without one (written by the engine alone), a
        record inferred from config.toml / metrics.json / model.keras."""
        rec = read_json(d / "run.json")
        if isinstance(rec, dict) and rec.get("id") == d.name:
            return rec
        if not any((d / f).is_file() for f in (CONFIG_FILE, MODEL_FILE, METRICS_FILE)):
            return None
        cfg = Run(d.name, "", "", "", "created", "", path=d).config()
        metrics = read_json(d / METRICS_FILE, {}) or {}
        return {
            "id": d.name, "name": cfg.get("name") or d.name, "model": (cfg.get("model") or {}).get("name", ""),
            "dataset": str((cfg.get("data") or {}).get("path", "")),
            "status": "done" if (d / MODEL_FILE).is_file() else "failed",
            "created": datetime.fromtimestamp(d.stat().st_mtime).astimezone().isoformat(timespec="seconds"),
            "test_accuracy": _float_or_none(metrics.get("accuracy")),
            "macro_f1": _float_or_none(metrics.get("macro_f1")), "config": cfg,
        }

    def rebuild_index(self) -> int:
        """Rebuild the SQLite rows from the run and job folders; returns the number of runs indexed.

        A missing or corrupt ``index.sqlite`` is handled the same way on first use of a store.
        """
        with self.connect(write=True) as con:
            self._fill(con)
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    # ------------------------------------------------------------------ records
    def _run_dir(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id.startswith("."):
            raise UnknownRunError(f"Run ids look like '20261122-031500-five_layer-ab12'; got {run_id!r}.")
        return self.runs_dir / run_id

    def _to_run(self, row: Mapping[str, Any]) -> Run:
        return Run(
            id=row["id"], name=row["name"] or row["id"], model=row["model"] or "", dataset=row["dataset"] or "",
            status=row["status"], created=row["created"], test_accuracy=_float_or_none(row["test_accuracy"]),
            macro_f1=_float_or_none(row["macro_f1"]), path=self.runs_dir / row["id"], sweep=row["sweep"],
        )

    def _write_record(self, rec: dict[str, Any]) -> None:
        """run.json then the index row (the caller holds the run's lock)."""
        rec["updated"] = now_iso()
        atomic_write_json(self.runs_dir / rec["id"] / "run.json", rec)
        with self.connect(write=True) as con:
            _upsert_run(con, rec)

    def _reconciled(self, rows: list) -> list:
        """``rows`` with unfinished runs re-read from their run.json when it moved on without the index
        (a crash between the two writes of :meth:`_write_record`): run.json is the truth."""
        out = []
        for row in rows:
            if row["status"] in ("created", "running"):
                rec = read_json(self.runs_dir / row["id"] / "run.json")
                if isinstance(rec, dict) and any(rec.get(c) != row[c] for c in ("status", "updated")):
                    with self.connect(write=True) as con:
                        _upsert_run(con, rec)
                        row = con.execute("SELECT * FROM runs WHERE id=?", (row["id"],)).fetchone()
            out.append(row)
        return out

    def _new_id(self, model: str) -> Path:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            rid = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(model, 'run', 24)}-{secrets.token_hex(2)}"
            try:
                (self.runs_dir / rid).mkdir()
                return self.runs_dir / rid
            except FileExistsError:
                continue
        raise FERError(f"Could not allocate a new run folder under {self.runs_dir}.")

    def create(self, config_dict: Mapping[str, Any], name: str | None = None, *, status: str = "created",
               **extra: Any) -> Run:
        """Register a new run for a training configuration and create its folder.

        Parameters
        ----------
        config_dict : the training configuration as a dict (``config_to_dict(cfg)``); its
            ``model.name`` and ``data.path`` give the run's model and dataset.
        name : human name (default ``config_dict["name"]``, else the model name).
        """
        if not isinstance(config_dict, Mapping):
            raise ConfigError(f"RunStore.create expects the training configuration as a dict; got "
                              f"{type(config_dict).__name__}. Pass config_to_dict(load_config(...)).")
        if status not in RUN_STATUSES:
            raise ConfigError(f"status must be one of {RUN_STATUSES}; got {status!r}.")
        cfg = json.loads(json.dumps(dict(config_dict), default=str))  # a JSON-clean deep copy
        model = str((cfg.get("model") or {}).get("name", "") if isinstance(cfg.get("model"), Mapping)
                    else cfg.get("model", ""))
        dataset = str((cfg.get("data") or {}).get("path", "") if isinstance(cfg.get("data"), Mapping)
                      else cfg.get("data", ""))
        folder = self._new_id(model or "model")
        rec = {"id": folder.name, "name": str(name or cfg.get("name") or model or folder.name), "model": model,
               "dataset": dataset, "status": status, "created": now_iso(), "test_accuracy": None,
               "macro_f1": None, **extra, "config": cfg}
        with file_lock(folder / ".lock"):
            self._write_record(rec)
        return self.get(folder.name)

    def get(self, run_id: str, _retry: bool = True) -> Run:
        """The run with this id (or a bundled model's id, or ``default``); :class:`UnknownRunError`
        (listing close ids) when there is none."""
        bundled = _bundled_run(run_id)
        if bundled is not None:
            return bundled
        self._run_dir(run_id)
        with self.connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                known = [r[0] for r in con.execute("SELECT id FROM runs ORDER BY created DESC")]
        if row is None:
            if _retry and (self.runs_dir / run_id / "run.json").is_file():  # folder not indexed yet
                self.rebuild_index()
                return self.get(run_id, _retry=False)
            raise unknown_id_error("run", run_id, known + _bundled_ids())
        return self._to_run(self._reconciled([row])[0])

    def list(self, status: str | None = None, bundled: bool = True, sweep: str | None = None) -> list[Run]:
        """All runs, newest first, then the bundled models (``bundled=False`` leaves them out);
        only those with ``status`` / of the sweep ``sweep`` when given."""
        if status is not None and status not in RUN_STATUSES:
            raise ConfigError(f"status must be one of {RUN_STATUSES} or None; got {status!r}.")
        conds, args = [], []
        for col, value in (("status", status), ("sweep", sweep)):
            if value is not None:
                conds.append(f"{col}=?")
                args.append(value)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        with self.connect() as con:
            rows = con.execute(f"SELECT * FROM runs{where} ORDER BY created DESC, id DESC", args).fetchall()
        runs = [self._to_run(r) for r in self._reconciled(rows)]
        if bundled and status in (None, "done") and sweep is None:
            runs += _bundled_runs()
        return runs

    def update(self, run_id: str, **fields: Any) -> Run:
        """Change fields of a run (any of :data:`RUN_FIELDS`) in run.json and the index."""
        bad = sorted(set(fields) - set(RUN_FIELDS))
        if bad:
            raise ConfigError(f"RunStore.update: unknown field(s) {bad}; expected some of {RUN_FIELDS}.")
        if "status" in fields and fields["status"] not in RUN_STATUSES:
            raise ConfigError(f"status must be one of {RUN_STATUSES}; got {fields['status']!r}.")
        for key in ("test_accuracy", "macro_f1"):
            if key in fields:
                fields[key] = _float_or_none(fields[key])
        _refuse_bundled(run_id, "change")
        run = self.get(run_id)
        with file_lock(run.path / ".lock"):
            rec = run.record() or self._record_from_folder(run.path) or {}
            rec.update(fields)
            self._write_record(rec)
        return self.get(run_id)

    def refresh(self, run_id: str) -> Run:
        """Re-read ``metrics.json`` (``accuracy``, ``macro_f1``) into run.json and the index."""
        run = self.get(run_id)
        m = run.metrics()
        return self.update(run_id, test_accuracy=m.get("accuracy", m.get("test_accuracy")),
                           macro_f1=m.get("macro_f1"))

    def delete(self, run_id: str) -> None:
        """Delete a run: its folder, its row, and its finished jobs. Refuses while a job is active,
        and for bundled models (read-only)."""
        _refuse_bundled(run_id, "delete")
        run = self.get(run_id)
        self._refuse_active(run_id, "cancel them first")
        with self.connect() as con:
            jobs = [r[0] for r in con.execute("SELECT id FROM jobs WHERE run_id=?", (run_id,))]
        trash = self.runs_dir / f".deleting-{run_id}-{secrets.token_hex(2)}"
        os.replace(run.path, trash)
        with self.connect(write=True) as con:
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))
            con.execute("DELETE FROM jobs WHERE run_id=?", (run_id,))
        shutil.rmtree(trash, ignore_errors=True)
        for jid in jobs:
            shutil.rmtree(self.jobs_dir / jid, ignore_errors=True)

    def _refuse_active(self, run_id: str, what: str, how: str = "--wait 60") -> None:
        with self.connect() as con:
            active = [r[0] for r in con.execute(
                "SELECT id FROM jobs WHERE run_id=? AND status IN ('queued','running')", (run_id,))]
        if active:
            raise ConfigError(f"Run {run_id} has active job(s) {active}; {what} "
                              f"(`python -m fer_core jobs cancel {active[0]} {how}`).")

    def pack(self, run_id: str, dest: str | Path) -> Path:
        """Copy what resumes run ``run_id`` (:data:`PACK_FILES`) into the folder ``dest``, e.g.
        ``experiments/checkpoints/<config name>``, to carry it to another machine. Refuses while a
        job of the run is active (the job writes the checkpoint and its state one after the other:
        stop it first, best with ``cancel(..., at_epoch_end=True)``, which saves the epoch under way) and for
        runs without a checkpoint. ``dest`` is replaced as a whole, never left half-written."""
        _refuse_bundled(run_id, "pack")
        run = self.get(run_id)
        self._refuse_active(run_id, "stop them first, best once the epoch under way is saved",
                            "--at-epoch-end --wait 900")
        if not run.has_checkpoint:
            raise ConfigError(f"Run {run_id} has no checkpoint to resume from ({CHECKPOINT_FILE} + {STATE_FILE}); "
                              "there is nothing to pack.")
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            held = read_json(dest / "run.json", {}) or {}
            if held.get("id") != run_id:
                raise ConfigError(f"{dest} is not empty and is not a pack of run {run_id}; give an empty or new folder.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        stage = dest.parent / f".packing-{dest.name}-{secrets.token_hex(2)}"
        stage.mkdir()
        try:
            for name in PACK_FILES:
                if name == MODEL_FILE and (run.path / name).is_file():
                    _save_without_optimizer(run.path / name, stage / name)
                elif (run.path / name).is_file():
                    shutil.copyfile(run.path / name, stage / name)
            old = dest.parent / f".replaced-{dest.name}-{secrets.token_hex(2)}"
            if dest.exists():
                os.replace(dest, old)
            os.replace(stage, dest)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return dest

    def unpack(self, src: str | Path) -> Run:
        """Register a folder written by :meth:`pack` as a run of this store, under its own id, ready
        to resume (``python -m fer_core train RUN/config.toml --resume --run-dir RUN``)."""
        src = Path(src)
        rec = read_json(src / "run.json")
        if not isinstance(rec, dict) or not rec.get("id"):
            raise ConfigError(f"{src} is not a run pack: it has no run.json with a run id (make one with "
                              "`python -m fer_core runs pack RUN_ID DEST`).")
        missing = [n for n in (CHECKPOINT_FILE, STATE_FILE, CONFIG_FILE) if not (src / n).is_file()]
        if missing:
            raise ConfigError(f"{src} is not a complete run pack: {', '.join(missing)} missing.")
        target = self._run_dir(str(rec["id"]))
        if target.exists():
            raise ConfigError(f"Run {rec['id']} is already in {self.runs_dir}; resume it from {target}.")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        stage = self.runs_dir / f".unpacking-{rec['id']}-{secrets.token_hex(2)}"
        try:
            shutil.copytree(src, stage)
            os.replace(stage, target)
        finally:
            shutil.rmtree(stage, ignore_errors=True)  # gone already when it became the run
        with file_lock(target / ".lock"):
            self._write_record(rec)
        return self.get(target.name)

    def import_model(self, path: str | Path, name: str | None = None) -> Run:
        """Register an external ``.keras`` file as a finished run (the file is copied).

        ``metrics.json``, ``history.json``, ``predictions.npz`` and ``config.toml`` lying beside the
        file are copied too, so a run folder from another machine keeps its results.
        """
        from .models.files import code_layers, read_keras_config

        src = Path(path)
        kcfg = read_keras_config(src)
        if lambdas := code_layers(kcfg):
            raise ModelFileError(f"{src}: refused, it contains Python code (Lambda layer {lambdas[0]!r}), which "
                                 "FER Studio never loads; rebuild the model without Lambda layers.")
        model = str((kcfg.get("config") or {}).get("name") or kcfg.get("class_name") or "imported")
        cfg: dict[str, Any] = {}
        if (src.parent / CONFIG_FILE).is_file():
            import tomllib

            try:
                cfg = tomllib.loads((src.parent / CONFIG_FILE).read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                cfg = {}
        cfg.setdefault("name", name or src.stem)
        cfg.setdefault("model", {"name": model})
        cfg.setdefault("data", {"path": "unknown"})
        folder = self._new_id((cfg.get("model") or {}).get("name") or model)
        with atomic_path(folder / MODEL_FILE, suffix=".keras") as tmp:
            shutil.copyfile(src, tmp)
        for extra in (METRICS_FILE, HISTORY_FILE, PREDICTIONS_FILE, CONFIG_FILE):
            if (src.parent / extra).is_file() and src.parent != folder:
                with atomic_path(folder / extra) as tmp:
                    shutil.copyfile(src.parent / extra, tmp)
        metrics = read_json(folder / METRICS_FILE, {}) or {}
        m = cfg["model"] if isinstance(cfg["model"], Mapping) else {"name": str(cfg["model"])}
        d = cfg["data"] if isinstance(cfg["data"], Mapping) else {"path": str(cfg["data"])}
        rec = {"id": folder.name, "name": str(name or cfg["name"]), "model": str(m.get("name", model)),
               "dataset": str(d.get("path", "unknown")), "status": "done", "created": now_iso(),
               "test_accuracy": _float_or_none(metrics.get("accuracy")),
               "macro_f1": _float_or_none(metrics.get("macro_f1")), "imported_from": str(src.resolve()),
               "config": json.loads(json.dumps(cfg, default=str))}
        with file_lock(folder / ".lock"):
            self._write_record(rec)
        return self.get(folder.name)


def _save_without_optimizer(src: Path, dst: Path) -> None:
    """The best model of a run without its optimizer state (a third of the size: only the
    checkpoint resumes training, the best model is only evaluated)."""
    from .models.files import load_model_file

    load_model_file(src).save(dst)


def _bundled_to_run(b: Any) -> Run:
    rec = b.record
    return Run(id=b.id, name=str(rec.get("name") or b.id), model=str(rec.get("model") or b.kind),
               dataset=str(rec.get("dataset") or ""), status="done", created=str(rec.get("created") or ""),
               test_accuracy=_float_or_none(rec.get("test_accuracy")), macro_f1=_float_or_none(rec.get("macro_f1")),
               path=b.path, bundled=True)


def _bundled_runs() -> list[Run]:
    from .bundled import list_bundled

    return [_bundled_to_run(b) for b in list_bundled()]


def _bundled_ids() -> list[str]:
    """The bundled ids and ``default`` (when something is bundled), for "did you mean" hints."""
    from .bundled import DEFAULT_ALIAS, default_id, list_bundled

    return [b.id for b in list_bundled()] + ([DEFAULT_ALIAS] if default_id() else [])


def _bundled_run(run_id: Any) -> Run | None:
    from .bundled import DEFAULT_ALIAS, get_bundled, is_bundled

    if not isinstance(run_id, str) or not (run_id == DEFAULT_ALIAS or is_bundled(run_id)):
        return None
    return _bundled_to_run(get_bundled(run_id))  # 'default' with nothing bundled: a clear error


def _refuse_bundled(run_id: Any, action: str) -> None:
    from .bundled import refuse_change

    if isinstance(run_id, str):
        refuse_change(run_id, action)


def _upsert_run(con: sqlite3.Connection, rec: Mapping[str, Any]) -> None:
    vals = [rec.get(c) for c in _RUN_COLUMNS]
    vals[_RUN_COLUMNS.index("status")] = rec.get("status") or "created"
    vals[_RUN_COLUMNS.index("created")] = rec.get("created") or ""
    con.execute(f"INSERT OR REPLACE INTO runs ({','.join(_RUN_COLUMNS)}) VALUES "
                f"({','.join('?' * len(_RUN_COLUMNS))})", vals)


def upsert_job(con: sqlite3.Connection, rec: Mapping[str, Any]) -> None:
    """Insert or replace the ``jobs`` row mirroring a job record (``progress`` as JSON text)."""
    vals = []
    for c in JOB_COLUMNS:
        v = rec.get(c)
        if c == "progress" and v is not None and not isinstance(v, str):
            v = json.dumps(v, default=str)
        elif c == "resume":
            v = int(bool(v))
        vals.append(v)
    con.execute(f"INSERT OR REPLACE INTO jobs ({','.join(JOB_COLUMNS)}) VALUES "
                f"({','.join('?' * len(JOB_COLUMNS))})", vals)
