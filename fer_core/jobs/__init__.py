"""Background jobs: training (and later evaluation, robustness) in separate OS processes.

A job is a record ``root/jobs/<job_id>/job.json`` (mirrored in ``index.sqlite``) plus a worker
process ``python -m fer_core.jobs worker JOB_ID`` started in its own session, never a thread of the
dashboard, so the dashboard can restart and lose nothing. Files of one job::

    jobs/<job_id>/job.json       status, pid (+ its start time and the boot id), error, ...
    jobs/<job_id>/progress.json  the latest progress event, rewritten atomically at every event
    jobs/<job_id>/heartbeat      touched every few seconds by a live worker
    jobs/<job_id>/log.txt        the worker's stdout and stderr
    jobs/<job_id>/cancel         flag file: the worker's ``should_stop()`` returns True once it exists

There is no daemon: :meth:`JobManager.schedule` starts queued jobs while fewer than
``max_running`` run, and is called by ``submit``, ``list``, ``get``/``wait`` and by every worker
when it finishes, so the queue drains by itself. The same readers detect dead workers (pid gone,
or the pid reused by another process after a restart) and mark their jobs failed.

Job kinds are functions in :data:`KINDS`: ``"train"`` (here, or on a Ray cluster when the job's
params name a ``ray_address``: see :mod:`fer_core.remote`) and ``"sweep"`` (Ray Tune trials, each
a run of its own; the job itself has no run); :func:`register_kind` adds more, and modules named
in ``$FER_STUDIO_JOB_KINDS`` are imported to register theirs.

Modules: :mod:`.records` (the Job dataclass), :mod:`.liveness` (/proc, boot id), :mod:`.kinds`
(the registry and the train kind), :mod:`.manager` (JobManager), :mod:`.worker` (the worker process).
"""
from __future__ import annotations

from .kinds import KINDS, KINDS_ENV, JobContext, JobKind, register_kind
from .manager import CANCEL_GRACE, JobManager, QueueFullError, default_max_queued, default_max_running
from .records import DIED_REASON, JOB_STATUSES, TERMINAL, Job
from .worker import run_worker

__all__ = [
    "CANCEL_GRACE", "DIED_REASON", "JOB_STATUSES", "KINDS", "KINDS_ENV", "TERMINAL", "Job", "JobContext",
    "JobKind", "JobManager", "QueueFullError", "default_max_queued", "default_max_running", "register_kind",
    "run_worker",
]
