"""JobManager: submit, list, watch, cancel and resume background jobs; start their workers.

(Long because a job's record, its index row and its worker process change state together, here only.)
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import ConfigError, DataError, FERError
from ..io import atomic_write_json, atomic_write_text
from ..paths import PROJECT_ROOT
from ..run_files import JOB_FILE, PROGRESS_FILE, STOP_FLAG
from ..runs import Run, RunStore, UnknownRunError, file_lock, now_iso, read_json, unknown_id_error, upsert_job
from .kinds import _check_kind
from .liveness import _CHILDREN, _alive, _boot_id, _proc_stat
from .records import DIED_REASON, JOB_STATUSES, TERMINAL, Job

#: Default seconds a running job has to stop by itself after ``cancel`` before SIGTERM (then SIGKILL).
CANCEL_GRACE = 30.0


def _env_count(name: str, default: int) -> int:
    """A whole number >= 1 from the environment variable ``name``, else ``default``."""
    env = os.environ.get(name)
    if not env:
        return default
    try:
        k = int(env)
    except ValueError:
        k = 0
    if k < 1:
        raise ConfigError(f"{name} must be a whole number >= 1; got {env!r}.")
    return k


def default_max_running() -> int:
    """``$FER_STUDIO_MAX_JOBS``, else half the CPU cores (at least 1)."""
    return _env_count("FER_STUDIO_MAX_JOBS", max(1, (os.cpu_count() or 1) // 2))


#: Jobs that may wait in the queue at once, unless ``$FER_STUDIO_MAX_QUEUED`` says otherwise.
MAX_QUEUED = 8


def default_max_queued() -> int:
    """``$FER_STUDIO_MAX_QUEUED``, else :data:`MAX_QUEUED`."""
    return _env_count("FER_STUDIO_MAX_QUEUED", MAX_QUEUED)


class QueueFullError(FERError):
    """The studio already has as many waiting jobs as it accepts."""


class JobManager:
    """Submit, list, watch, cancel and resume background jobs under ``root``.

    Parameters
    ----------
    root : the data directory (default :func:`fer_core.paths.data_dir`)
    max_running : at most this many jobs run at once; more wait "queued"
        (default :func:`default_max_running`: ``$FER_STUDIO_MAX_JOBS`` or half the CPU cores)
    max_queued : at most this many jobs wait at once; more are refused with :class:`QueueFullError`
        (default :func:`default_max_queued`: ``$FER_STUDIO_MAX_QUEUED`` or 8)
    cancel_grace : seconds a cancelled running job has to stop by itself before SIGTERM, and
        again before SIGKILL
    """

    def __init__(self, root: str | Path | None = None, max_running: int | None = None, *,
                 cancel_grace: float = CANCEL_GRACE, max_queued: int | None = None):
        self.store = RunStore(root)
        self.root = self.store.root
        self.jobs_dir = self.root / "jobs"
        if max_running is None:
            max_running = default_max_running()
        if isinstance(max_running, bool) or not isinstance(max_running, int) or max_running < 1:
            raise ConfigError(f"max_running must be an int >= 1; got {max_running!r}.")
        if not isinstance(cancel_grace, (int, float)) or cancel_grace < 0:
            raise ConfigError(f"cancel_grace must be a number of seconds >= 0; got {cancel_grace!r}.")
        self.max_running = max_running
        self.max_queued = default_max_queued() if max_queued is None else max_queued
        if isinstance(self.max_queued, bool) or not isinstance(self.max_queued, int) or self.max_queued < 1:
            raise ConfigError(f"max_queued must be an int >= 1; got {max_queued!r}.")
        self.cancel_grace = float(cancel_grace)

    # ------------------------------------------------------------------ records
    def _dir(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not job_id or "/" in job_id or job_id.startswith("."):
            raise unknown_id_error("job", str(job_id), [])
        return self.jobs_dir / job_id

    def _record(self, job_id: str) -> dict[str, Any]:
        rec = read_json(self._dir(job_id) / JOB_FILE)
        if not isinstance(rec, dict):
            with self.store.connect() as con:
                known = [r[0] for r in con.execute("SELECT id FROM jobs ORDER BY submitted DESC")]
            raise unknown_id_error("job", job_id, known)
        return rec

    def _write(self, rec: dict[str, Any]) -> None:
        """job.json then the index row (the caller holds the job's lock)."""
        rec["updated"] = now_iso()
        folder = self.jobs_dir / rec["id"]
        atomic_write_json(folder / JOB_FILE, rec)
        with self.store.connect(write=True) as con:
            upsert_job(con, {**rec, "progress": read_json(folder / PROGRESS_FILE)})

    @contextlib.contextmanager
    def _locked(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's record under its lock; written back if the block changed it."""
        folder = self._dir(job_id)
        if not folder.is_dir():
            self._record(job_id)  # raises the "unknown job" error
        with file_lock(folder / ".lock"):
            rec = self._record(job_id)
            before = json.dumps(rec, sort_keys=True, default=str)
            yield rec
            if json.dumps(rec, sort_keys=True, default=str) != before:
                self._write(rec)

    def _to_job(self, row: Mapping[str, Any], rec: Mapping[str, Any] | None = None) -> Job:
        folder = self.jobs_dir / row["id"]
        try:
            progress = json.loads(row["progress"]) if row["progress"] else {}
        except ValueError:
            progress = {}
        rec = rec if rec is not None else (read_json(folder / JOB_FILE, {}) or {})
        status = row["status"]
        resumable = False
        if status in ("failed", "cancelled"):
            try:
                later = self._later_jobs(row["run_id"], row["submitted"])
                run = self.store.get(row["run_id"])
                resumable = not later and _check_kind(row["kind"]).can_resume(run)
            except FERError:
                resumable = False
        params = rec.get("params") or {}
        return Job(
            id=row["id"], kind=row["kind"], run_id=row["run_id"], status=status, created=row["created"],
            started=row["started"], finished=row["finished"], pid=row["pid"], resume=bool(row["resume"]),
            error=row["error"], log_tail=rec.get("log_tail", ""), progress=progress or {},
            resumable=resumable, cancel_requested=row["cancel_requested"], path=folder,
            stop_requested=rec.get("stop_requested"),
            ray_address=params.get("ray_address") or None, sweep_id=params.get("sweep_id"),
        )

    def _new_job(self, kind: str, run_id: str | None, resume: bool, params: Mapping[str, Any]) -> str:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        import secrets

        for _ in range(100):
            job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(2)}"
            try:
                (self.jobs_dir / job_id).mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise FERError(f"Could not allocate a new job folder under {self.jobs_dir}.")
        rec = {"id": job_id, "kind": kind, "run_id": run_id, "status": "queued", "created": now_iso(),
               "submitted": time.time(), "started": None, "finished": None, "pid": None,
               "pid_start": None, "boot_id": None, "resume": bool(resume), "error": None,
               "cancel_requested": None, "params": dict(params)}
        with file_lock(self.jobs_dir / job_id / ".lock"):
            self._write(rec)
        return job_id

    def _later_jobs(self, run_id: str, submitted: float | None) -> list[str]:
        """Jobs on ``run_id`` submitted after ``submitted`` (they supersede a failed/cancelled one)."""
        with self.store.connect() as con:
            return [r[0] for r in con.execute("SELECT id FROM jobs WHERE run_id=? AND submitted>? ORDER BY submitted",
                                              (run_id, submitted or 0))]

    def _active_jobs_of(self, run_id: str) -> list[str]:
        with self.store.connect() as con:
            return [r[0] for r in con.execute(
                "SELECT id FROM jobs WHERE run_id=? AND status IN ('queued','running')", (run_id,))]

    # ------------------------------------------------------------------ public API
    def submit(self, config: Mapping[str, Any] | str | Path | None, resume_run: str | None = None, *,
               kind: str = "train", params: Mapping[str, Any] | None = None) -> Job:
        """Register a job (and, unless resuming, a new run) and start it or leave it queued.

        Parameters
        ----------
        config : the training configuration: a dict, or a TOML/JSON file path (validated with
            ``fer_core.training.config.load_config`` for ``kind="train"``); ignored when resuming
        resume_run : id of an existing run to continue from its last checkpoint
        kind : a key of :data:`KINDS`
        params : kind-specific options (``{"ray_address": "host:port"}`` runs a training job on that
            Ray cluster, see :mod:`fer_core.remote`)

        Returns
        -------
        Job, ``status`` "running" or "queued"
        """
        spec = _check_kind(kind)
        new_config = _config_dict(kind, config) if resume_run is None and spec.makes_run else None
        self._check_queue_room()
        if resume_run is not None:
            run = self.store.get(resume_run)
            active = self._active_jobs_of(run.id)
            if active:
                raise ConfigError(f"Run {run.id} already has an active job ({active[0]}); wait for it or "
                                  f"cancel it before resuming.")
            if not spec.can_resume(run):
                raise ConfigError(f"Run {run.id} has no checkpoint to resume from (no checkpoint.keras + "
                                  f"state.json in {run.path}); submit its configuration again instead.")
        elif spec.makes_run:
            run = self.store.create(new_config)
        else:
            run = None
        job_id = self._new_job(kind, run.id if run else None, resume_run is not None, params or {})
        self.schedule()
        return self.get(job_id, schedule=False)

    def _check_queue_room(self) -> None:
        self.schedule()  # dead workers and free slots first: only jobs that really wait count
        with self.store.connect() as con:
            waiting = con.execute("SELECT COUNT(*) FROM jobs WHERE status='queued'").fetchone()[0]
        if waiting >= self.max_queued:
            raise QueueFullError(f"{waiting} jobs are already waiting in the queue (the limit is {self.max_queued}); "
                                 "wait for one to start or cancel one (python -m fer_core jobs cancel ID), or raise "
                                 "FER_STUDIO_MAX_QUEUED.")

    def schedule(self) -> list[str]:
        """Check running workers, then start queued jobs (oldest first) while fewer than
        ``max_running`` run. Returns the ids of the jobs started."""
        started: list[str] = []
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.jobs_dir / ".schedule.lock"):
            self._reconcile()
            self._check_running()
            with self.store.connect() as con:
                n_running = con.execute("SELECT COUNT(*) FROM jobs WHERE status='running'").fetchone()[0]
                queued = [r[0] for r in con.execute(
                    "SELECT id FROM jobs WHERE status='queued' ORDER BY submitted, id")]
            for job_id in queued:
                if n_running >= self.max_running:
                    break
                if self._start(job_id):
                    started.append(job_id)
                    n_running += 1
        return started

    def list(self, status: str | None = None, run_id: str | None = None) -> list[Job]:
        """All jobs, newest first (after a :meth:`schedule` pass, so dead workers show as failed)."""
        if status is not None and status not in JOB_STATUSES:
            raise ConfigError(f"status must be one of {JOB_STATUSES} or None; got {status!r}.")
        self.schedule()
        sql, args = "SELECT * FROM jobs", []
        conds = []
        if status is not None:
            conds.append("status=?")
            args.append(status)
        if run_id is not None:
            conds.append("run_id=?")
            args.append(run_id)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        with self.store.connect() as con:
            rows = con.execute(sql + " ORDER BY submitted DESC, id DESC", args).fetchall()
        return [self._to_job(r) for r in rows]

    def get(self, job_id: str, *, schedule: bool = True) -> Job:
        """One job, its status checked against its worker process first."""
        if schedule:
            self.schedule()
        rec = self._record(job_id)
        with self.store.connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:  # folder exists but not indexed (index rebuilt elsewhere): re-index it
            with file_lock(self._dir(job_id) / ".lock"):
                self._write(self._record(job_id))
            with self.store.connect() as con:
                row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._to_job(row, rec)

    def progress(self, job_id: str) -> dict[str, Any]:
        """The latest progress event of a job (from progress.json; {} before the first one).

        Keys as sent by the job kind (training: phase, epoch, epochs, batch, batches, loss,
        accuracy, eta_s, images_per_s, history) plus ``time`` (epoch seconds of the event),
        ``first_epoch`` (first epoch this worker reported: > 1 after a resume) and ``job_id``.
        """
        return read_json(self._dir(job_id) / PROGRESS_FILE, {}) or {}

    def log_tail(self, job_id: str, n: int = 40) -> str:
        """The last ``n`` lines of the worker's log ("" before it starts)."""
        return _tail(self._dir(job_id) / "log.txt", n)

    def cancel(self, job_id: str, *, wait: float | None = None, at_epoch_end: bool = False) -> Job:
        """Cancel a job: a queued one at once; a running one by raising its cancel flag.

        A running worker stops at its next ``should_stop()`` poll; if it is still alive
        ``cancel_grace`` seconds later, the next reader sends SIGTERM (then SIGKILL after another
        grace period). ``wait`` blocks up to that many seconds for the job to end. Cancelling a
        finished job changes nothing.

        ``at_epoch_end`` (running local training jobs): pause when the epoch under way ends and is
        saved, so no training is lost (a cancel drops the unfinished epoch); no signal is sent, and
        a plain cancel can still follow. A paused run is not evaluated on its test split (a cancel
        evaluates the best model so far): that happens once, when a resumed job finishes it.
        """
        if at_epoch_end:
            return self._stop_at_epoch_end(job_id, wait)
        with self._locked(job_id) as rec:
            if rec["status"] == "queued":
                self._cancel_queued(rec)
            elif rec["status"] == "running" and not rec.get("cancel_requested"):
                atomic_write_text(self._dir(job_id) / "cancel", now_iso() + "\n")
                rec["cancel_requested"] = now_iso()
                rec["cancel_requested_ts"] = time.time()
        if wait:
            with contextlib.suppress(TimeoutError):
                return self.wait(job_id, timeout=wait)
        return self.get(job_id)

    def _cancel_queued(self, rec: dict) -> None:
        rec.update(status="cancelled", finished=now_iso(), error="cancelled before it started")
        self._set_run_status(rec["run_id"], "cancelled")

    def _stop_at_epoch_end(self, job_id: str, wait: float | None) -> Job:
        with self._locked(job_id) as rec:
            if rec["status"] == "queued":  # nothing under way: cancelled now
                self._cancel_queued(rec)
            elif rec["status"] == "running":
                if rec["kind"] != "train" or (rec.get("params") or {}).get("ray_address"):
                    raise ConfigError(f"Job {job_id} is a {'Ray ' if rec['kind'] == 'train' else ''}{rec['kind']} "
                                      "job: only local training jobs stop at an epoch's end; cancel it instead.")
                if not rec.get("stop_requested"):
                    atomic_write_text(self._dir(job_id) / STOP_FLAG, now_iso() + "\n")
                    rec["stop_requested"] = now_iso()
        if wait:
            with contextlib.suppress(TimeoutError):
                return self.wait(job_id, timeout=wait)
        return self.get(job_id)

    def resume(self, job_id: str, *, params: Mapping[str, Any] | None = None) -> Job:
        """Continue a failed or cancelled job's run from its last checkpoint, as a new job.

        ``params`` change the job's params for the new job (a None value removes one: e.g.
        ``{"ray_address": None}`` resumes a Ray job locally).
        """
        job = self.get(job_id)
        if job.status not in ("failed", "cancelled"):
            raise ConfigError(f"Only failed or cancelled jobs can be resumed; job {job_id} is {job.status}.")
        if not _check_kind(job.kind).makes_run:
            raise ConfigError(f"Job {job_id} is a {job.kind} job, which cannot be resumed; its finished trials stay "
                              f"in the run store. Start it again instead.")
        if not job.resumable:
            later = self._later_jobs(job.run_id, self._record(job_id).get("submitted"))
            if later:
                raise ConfigError(f"Job {job_id}'s run {job.run_id} was already taken over by job {later[0]}; "
                                  f"resume that one instead.")
            raise ConfigError(f"Job {job_id} cannot be resumed: its run {job.run_id} has no checkpoint yet "
                              f"(it stopped before the first epoch ended). Submit the configuration again.")
        old = (read_json(job.path / JOB_FILE, {}) or {}).get("params", {})
        new = {k: v for k, v in {**old, **(params or {})}.items() if v is not None}
        return self.submit(None, resume_run=job.run_id, kind=job.kind, params=new)

    def resume_run(self, run_id: str, *, params: Mapping[str, Any] | None = None) -> Job:
        """Continue a run from its last checkpoint as a new training job, found by the run's id: a run
        unpacked from another machine (``runs unpack``: no job here) or one whose last job stopped.

        When the run's latest job here can be resumed, this is :meth:`resume` of that job (its params kept).
        """
        run = self.store.get(run_id)
        if run.status == "done":
            raise ConfigError(f"Run {run.id} is finished (done); there is nothing to resume. Submit its "
                              f"configuration again for a new run.")
        with self.store.connect() as con:
            last = con.execute("SELECT id FROM jobs WHERE run_id=? ORDER BY submitted DESC LIMIT 1",
                               (run.id,)).fetchone()
        if last is not None and self.get(last[0]).resumable:
            return self.resume(last[0], params=params)
        return self.submit(None, resume_run=run.id, kind="train",
                           params={k: v for k, v in (params or {}).items() if v is not None})

    def resume_job_or_run(self, ident: str, *, params: Mapping[str, Any] | None = None) -> Job:
        """:meth:`resume` when ``ident`` is a job id here, else :meth:`resume_run` of the run ``ident``
        (a run unpacked from another machine has no job here); an unknown id lists both kinds."""
        with contextlib.suppress(UnknownRunError):  # not a possible job id (e.g. a path): try it as a run
            if isinstance(read_json(self._dir(ident) / JOB_FILE), dict):
                return self.resume(ident, params=params)
        try:
            return self.resume_run(ident, params=params)
        except UnknownRunError:
            known = [j.id for j in self.list()] + [r.id for r in self.store.list(bundled=False)]
            raise unknown_id_error("job or run", ident, known) from None

    def runs_without_job(self) -> list[Run]:
        """Runs that :meth:`resume_run` can continue but no job here knows of: unpacked from another
        machine (``runs unpack``) or a stopped foreground ``train``; newest first."""
        with self.store.connect() as con:
            with_job = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM jobs WHERE run_id IS NOT NULL")}
        return [r for r in self.store.list(bundled=False)
                if r.id not in with_job and r.status in ("created", "cancelled", "failed") and r.has_checkpoint]

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.25) -> Job:
        """Block until the job is done, failed or cancelled; :class:`TimeoutError` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status in TERMINAL:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"Job {job_id} is still {job.status} after {timeout} s.")
            time.sleep(poll)

    # ------------------------------------------------------------------ internals
    def _set_run_status(self, run_id: str | None, status: str) -> None:
        if not run_id:  # a job kind without a run of its own
            return
        with contextlib.suppress(FERError):
            self.store.update(run_id, status=status)

    def _start(self, job_id: str) -> bool:
        """Start the worker of a queued job (under the schedule lock)."""
        with self._locked(job_id) as rec:
            if rec["status"] != "queued":
                return False
            folder = self._dir(job_id)
            env = dict(os.environ)
            env["FER_STUDIO_HOME"] = str(self.root)
            env["FER_STUDIO_MAX_JOBS"] = str(self.max_running)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            env["PYTHONUNBUFFERED"] = "1"
            with open(folder / "log.txt", "ab") as log:
                log.write(f"--- {now_iso()} starting worker for job {job_id} ({rec['kind']}, run "
                          f"{rec['run_id']}{', resume' if rec.get('resume') else ''})\n".encode())
                log.flush()
                try:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "fer_core.jobs", "worker", job_id, "--root", str(self.root)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(PROJECT_ROOT),
                        env=env, start_new_session=True, close_fds=True)
                except OSError as exc:  # e.g. out of memory or processes: record it, keep the queue going
                    rec.update(status="failed", finished=now_iso(), error=f"could not start the worker: {exc}")
                    self._set_run_status(rec["run_id"], "failed")
                    return False
            _CHILDREN[proc.pid] = proc
            st = _proc_stat(proc.pid)
            rec.update(status="running", pid=proc.pid, pid_start=st[1] if st else None, boot_id=_boot_id(),
                       started=now_iso(), cancel_grace=self.cancel_grace)
            self._set_run_status(rec["run_id"], "running")
        return True

    def _reconcile(self) -> None:
        """job.json is the truth: re-index unfinished jobs whose record moved on without the index (a crash
        between the two writes of :meth:`_write`), and fail the rows whose record is gone."""
        with self.store.connect() as con:
            rows = con.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        for row in rows:
            folder = self.jobs_dir / row["id"]
            rec = read_json(folder / JOB_FILE)
            if not isinstance(rec, dict):
                if not folder.is_dir():
                    with self.store.connect(write=True) as con:
                        upsert_job(con, {**dict(row), "status": "failed", "finished": now_iso(),
                                         "error": f"the job's folder {folder} is gone"})
                continue
            if any(rec.get(c) != row[c] for c in ("status", "pid", "updated")):
                with self.store.connect(write=True) as con:
                    upsert_job(con, {**rec, "progress": read_json(folder / PROGRESS_FILE)})

    def _check_running(self) -> None:
        """Mark running jobs whose worker is gone as failed; enforce cancel grace periods."""
        with self.store.connect() as con:
            rows = con.execute("SELECT id, pid, pid_start, boot_id FROM jobs WHERE status='running'").fetchall()
        for row in rows:
            if _alive(row["pid"], row["pid_start"], row["boot_id"]):
                self._enforce_cancel(row["id"])
                continue
            with self._locked(row["id"]) as rec:
                if rec["status"] != "running" or rec.get("pid") != row["pid"]:
                    continue  # the worker recorded its outcome meanwhile
                if _alive(rec.get("pid"), rec.get("pid_start"), rec.get("boot_id")):
                    continue
                tail = self.log_tail(rec["id"], 20)
                if rec.get("cancel_requested"):
                    rec.update(status="cancelled", error="cancelled (the worker was stopped)")
                else:
                    rec.update(status="failed", error=DIED_REASON)
                rec.update(finished=now_iso(), log_tail=tail)
                self._set_run_status(rec["run_id"], rec["status"])

    def _enforce_cancel(self, job_id: str) -> None:
        rec = read_json(self._dir(job_id) / JOB_FILE, {}) or {}
        asked = rec.get("cancel_requested_ts")
        if rec.get("status") != "running" or not asked:
            return
        grace = float(rec.get("cancel_grace", self.cancel_grace))
        now = time.time()
        sig = None
        if rec.get("sigterm_ts") is None and now - asked >= grace:
            sig, key = signal.SIGTERM, "sigterm_ts"
        elif rec.get("sigterm_ts") is not None and now - rec["sigterm_ts"] >= grace:
            sig, key = signal.SIGKILL, "sigkill_ts"
        if sig is None or rec.get(key) is not None:
            return
        with self._locked(job_id) as rec:
            if rec.get("status") != "running" or not _alive(rec.get("pid"), rec.get("pid_start"), rec.get("boot_id")):
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(rec["pid"]), sig)  # the worker leads its own session/process group
            rec[key] = time.time()


def _config_dict(kind: str, config: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """The configuration of a new run as a plain dict (validated for training jobs)."""
    if config is None:
        raise ConfigError("submit() needs a configuration (a dict or a TOML path) unless resume_run is given.")
    if kind == "train":
        from ..training.config import config_to_dict, load_config

        cfg = load_config(config)
        if missing := cfg.data_missing():
            raise DataError(missing)
        return config_to_dict(cfg)
    if isinstance(config, (str, Path)):
        p = Path(config)
        if p.suffix.lower() == ".json":
            return json.loads(p.read_text(encoding="utf-8"))
        import tomllib

        return tomllib.loads(p.read_text(encoding="utf-8"))
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a dict or a file path; got {type(config).__name__}.")
    return dict(config)


def _tail(path: Path, n: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max(4096, 400 * n)))
            data = fh.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-n:]) if n > 0 else ""

