"""Job kinds: the functions a worker runs, registered by name (``"train"`` here)."""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError
from ..runs import Run

#: Comma-separated modules imported before a kind is looked up, so kinds defined outside
#: fer_core (e.g. by the tests) reach the worker processes, which inherit the environment.
KINDS_ENV = "FER_STUDIO_JOB_KINDS"


@dataclass
class JobContext:
    """What a job kind receives.

    Attributes
    ----------
    job_id, run : the job and the run it works on (``run.path`` is where artefacts go; None for
        kinds that make no run of their own, such as ``sweep``)
    resume : continue from the run's last checkpoint instead of starting over
    params : kind-specific options given at submit time
    progress : call with a dict at every step (written to progress.json and the index)
    should_stop : returns True once the job was cancelled; poll it often and return early
    stop_at_epoch_end : returns True once a stop at the end of the current epoch was asked for
        (training jobs: :meth:`~fer_core.jobs.JobManager.cancel` with ``at_epoch_end``)
    """

    job_id: str
    run: Run | None
    resume: bool
    params: dict[str, Any]
    progress: Callable[[dict[str, Any]], None]
    should_stop: Callable[[], bool]
    stop_at_epoch_end: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class JobKind:
    """A registered job kind: the function run by the worker, whether a run can be resumed, and
    whether a job of this kind gets a run of its own (``makes_run``)."""

    name: str
    fn: Callable[[JobContext], Any]
    can_resume: Callable[[Run], bool]
    hidden: bool = False
    makes_run: bool = True


#: Job kinds by name; the worker dispatches on ``job.kind`` through this table.
KINDS: dict[str, JobKind] = {}
#: Kinds registered by other modules: kind -> module whose import registers it (imported on demand).
KIND_MODULES: dict[str, str] = {}


def register_kind(name: str, *, can_resume: Callable[[Run], bool] | None = None, hidden: bool = False,
                  makes_run: bool = True):
    """Decorator registering ``fn(ctx: JobContext)`` as the job kind ``name``.

    ``can_resume(run)`` says whether a failed/cancelled job of this kind can continue (default:
    the run has ``checkpoint.keras`` and ``state.json``). Hidden kinds are left out of listings.
    ``makes_run=False``: submitting creates no run (``ctx.run`` is None, the job's ``run_id`` too).
    """
    def deco(fn: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
        KINDS[name] = JobKind(name, fn, can_resume or (lambda run: run.has_checkpoint), hidden, makes_run)
        return fn

    return deco


@register_kind("train")
def _train_kind(ctx: JobContext) -> Any:
    """Train ``ctx.run``'s configuration with :func:`fer_core.training.engine.train`, here or, when
    ``params["ray_address"]`` names a Ray cluster, there (:func:`fer_core.remote.driver.train_on_ray`)."""
    from ..training.config import load_config

    cfg = load_config(ctx.run.config())
    address = ctx.params.get("ray_address")
    if address:
        from ..remote.driver import train_on_ray

        return train_on_ray(cfg, ctx.run.path, address, progress=ctx.progress, resume=ctx.resume,
                            should_stop=ctx.should_stop)
    from ..training.engine import train

    return train(cfg, ctx.run.path, progress=ctx.progress, resume=ctx.resume, should_stop=ctx.should_stop,
                 stop_at_epoch_end=ctx.stop_at_epoch_end)


@register_kind("sweep", can_resume=lambda run: False, makes_run=False)
def _sweep_kind(ctx: JobContext) -> Any:
    """Run the sweep ``params["sweep_id"]`` with Ray Tune (:func:`fer_core.remote.sweep.run_sweep`)."""
    from ..remote.sweep import run_sweep

    return run_sweep(ctx.params["sweep_id"], progress=ctx.progress, should_stop=ctx.should_stop,
                     job_id=ctx.job_id)


def _import_kind_modules() -> None:
    """Import the modules named in ``$FER_STUDIO_JOB_KINDS`` (they register their kinds)."""
    for name in filter(None, (m.strip() for m in os.environ.get(KINDS_ENV, "").split(","))):
        importlib.import_module(name)


def _check_kind(kind: str) -> JobKind:
    if kind not in KINDS and kind in KIND_MODULES:
        importlib.import_module(KIND_MODULES[kind])
    if kind not in KINDS:
        _import_kind_modules()
    if kind not in KINDS:
        names = [k for k, v in KINDS.items() if not v.hidden]
        raise ConfigError(f"Unknown job kind {kind!r}; expected one of {names}.")
    return KINDS[kind]

