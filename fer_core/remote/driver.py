"""The local side of a Ray job: connect, send the data, follow the remote trainer, write the files back."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ClusterError, ConfigError
from .connect import GIB, check_fits, connect, release
from .files import pack, write_back

#: Seconds between polls of the remote trainer.
POLL_EVERY = 0.25
#: Seconds a job may wait for a free node before its progress says so.
WAIT_NOTICE = 5.0


def actor_options(resources: Any) -> dict[str, Any]:
    """Ray actor options for a :class:`~fer_core.training.config.ResourceSpec`."""
    opts: dict[str, Any] = {"num_cpus": float(resources.cpus), "num_gpus": float(resources.gpus),
                            "max_concurrency": 2, "max_restarts": 0}
    if resources.memory_gb:
        opts["memory"] = float(resources.memory_gb) * GIB
    return opts


def check_portable(cfg: Any) -> None:
    """Refuse what a cluster node could not reach: a model weights file on this machine."""
    if cfg.model.weights not in (None, "imagenet"):
        raise ConfigError(f"model.weights = {cfg.model.weights!r} is a file on this machine, which Ray nodes cannot "
                          "read; train this configuration locally (no Ray address).")


def lost_worker_error(exc: BaseException, address: str) -> ClusterError:
    """The error of a job whose remote worker died (killed, out of memory, node lost)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    reason = next((ln for ln in lines if "died" in ln.lower() or "exit" in ln.lower()), lines[0] if lines else "")
    return ClusterError(f"The Ray worker training this job on {address} was lost ({type(exc).__name__}: "
                        f"{reason[:300]}); every finished epoch came back, resume the job to continue.")


def _remote_error(exc: BaseException) -> BaseException:
    """The exception the remote code raised (its traceback printed here, for the job's log)."""
    print(str(exc), flush=True)
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def train_on_ray(cfg: Any, run_dir: str | Path, address: str, *, progress: Callable[[dict], None] | None = None,
                 resume: bool = False, should_stop: Callable[[], bool] | None = None) -> dict | None:
    """:func:`fer_core.training.engine.train` on the Ray cluster at ``address``, files landing in ``run_dir``.

    Same arguments and run folder as the engine; ``cfg.resources`` says what the remote actor
    reserves. Returns the metrics (None when cancelled before the cluster started the job).

    Raises
    ------
    ClusterError : unreachable cluster, other Ray/Python version, a request no node can meet, or
        the remote worker lost mid-job (the epochs that came back stay, resumable)
    """
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError, WorkerCrashedError

    from ..training.config import config_to_dict, load_config
    from ..training.prepare import load_for_config
    from .trainer import RemoteTrainer

    cfg = load_config(cfg)
    check_portable(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    emit = progress or (lambda ev: None)
    should_stop = should_stop or (lambda: False)
    base = {"phase": "loading", "epoch": 0, "epochs": cfg.train.epochs, "ray_address": address}
    started_here = not ray.is_initialized()
    emit({**base, "message": f"connecting to the Ray cluster at {address}"})
    connect(address)
    actor = None
    try:
        check_fits(cfg.resources, ray.nodes(), address)
        emit({**base, "message": f"loading {cfg.data.path} here, to send it to the cluster"})
        data_ref = ray.put(load_for_config(cfg))
        files = pack(run_dir) if resume else {}
        actor = ray.remote(RemoteTrainer).options(**actor_options(cfg.resources)).remote()
        ref = actor.run.remote(config_to_dict(cfg), data_ref, files, resume)
        emit({**base, "message": "waiting for the cluster to start the job"})

        def handle(msgs: list) -> None:
            events = []
            for kind, payload in msgs:
                if kind == "files":
                    write_back(run_dir, payload)
                else:
                    events.append({**payload, "ray_address": address})
            # every epoch, loading and final event, and the latest batch event (progress.json keeps the latest)
            keep = [e for i, e in enumerate(events) if e.get("event") != "batch" or i == len(events) - 1]
            for e in keep:
                emit(e)

        t0, started, stop_sent, noticed, poll_ref = time.monotonic(), False, False, False, None
        while True:
            if not stop_sent and should_stop():
                if not started:  # never placed on a node: nothing to evaluate
                    return None
                actor.stop.remote()
                stop_sent = True
            if poll_ref is None:
                poll_ref = actor.poll.remote()
            ready, _ = ray.wait([poll_ref], timeout=POLL_EVERY)
            if not ready:
                if not started and not noticed and time.monotonic() - t0 > WAIT_NOTICE:
                    r = cfg.resources
                    emit({**base, "message": f"waiting for a free Ray node with {r.cpus:g} CPU / {r.gpus:g} GPU"})
                    noticed = True
                continue
            try:
                msgs = ray.get(poll_ref)
            except (RayActorError, WorkerCrashedError) as exc:
                raise lost_worker_error(exc, address) from None
            poll_ref, started = None, True
            handle(msgs)
            if ray.wait([ref], timeout=0)[0]:
                break
        try:
            metrics = ray.get(ref)
            handle(ray.get(actor.poll.remote(), timeout=60))
        except RayTaskError as exc:
            raise _remote_error(exc) from None
        except (RayActorError, WorkerCrashedError, GetTimeoutError) as exc:
            raise lost_worker_error(exc, address) from None
        return metrics
    finally:
        release(actor, started_here)


def params_address(params: Mapping[str, Any]) -> str | None:
    """The Ray address a job's params name (None: a local job)."""
    address = params.get("ray_address") if isinstance(params, Mapping) else None
    return str(address) if address else None
