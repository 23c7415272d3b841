"""Running a sweep with Ray Tune: trials train with the same engine, their files come back per epoch.

The sweep job's worker is the Tune driver: on the Ray cluster of the sweep's ``ray_address``, or
on a private local Ray it starts (all cores, no dashboard) when there is none. It makes one run
per trial (tagged with the sweep), loads each distinct dataset once and sends it through the
object store, and collects the trials' files from a small sink actor into the local run folders,
exactly like a Ray training job. Every trial reports ``val_accuracy`` and ``epoch`` to Tune after
each epoch; with ``scheduler = "asha"`` an :class:`~ray.tune.schedulers.ASHAScheduler`
(``time_attr="epoch"``, ``max_t`` = epochs, ``grace_period=1``, ``reduction_factor=2``) stops the
weak ones. A trial's last epoch is reported only after its test evaluation, so a trial that
reaches the end always keeps its metrics.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ClusterError
from ..runs import now_iso
from ..sweeps import METRIC, read_sweep, trial_configs, update_sweep
from .files import FolderWatch, scratch_folder, write_back


class FileSink:
    """Actor collecting ``(run_id, files, info)`` from the trials until the driver drains them."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict, dict]] = []

    def put(self, run_id: str, files: Mapping[str, bytes], info: Mapping[str, Any]) -> bool:
        self.items.append((run_id, dict(files), dict(info)))
        return True

    def drain(self) -> list[tuple[str, dict, dict]]:
        out, self.items = self.items, []
        return out


def trial_trainable(config: Mapping[str, Any], *, trials: list[dict], datasets: Mapping[str, Any], sink: Any) -> None:
    """The Tune function of one trial (runs on a Ray worker): train, ship files, report each epoch."""
    import ray
    from ray import tune

    from ..training.config import load_config
    from ..training.engine import train
    from .trainer import node_info, progress_delay, set_tf_threads

    t = trials[int(config["trial"])]
    cfg = load_config(t["config"])
    set_tf_threads(cfg.resources.cpus)
    info, delay, last = node_info(), progress_delay(), {METRIC: 0.0, "epoch": 0}
    folder = scratch_folder("fer_ray_trial_")
    watch = FolderWatch(folder)

    def progress(ev: dict) -> None:
        if ev.get("event") == "epoch_end":
            last.update({METRIC: float(ev["val_accuracy"]), "epoch": int(ev["epoch"]), "accuracy": ev.get("accuracy"),
                         "loss": ev.get("loss")})
            if ev["epoch"] < cfg.train.epochs:  # the last epoch is reported after the evaluation
                ray.get(sink.put.remote(t["run_id"], watch.changed(), {**last, "node": info}))
                tune.report(dict(last))
        if delay > 0:
            time.sleep(delay)

    try:
        metrics = train(cfg, folder, progress=progress, dataset=datasets[t["data_key"]])
        ray.get(sink.put.remote(t["run_id"], watch.changed(), {**last, "node": info, "final": True}))
        tune.report({**last, "test_accuracy": float(metrics["accuracy"]), "finished": 1})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tune_callback(follow: "_Follow"):
    from ray import tune

    class Callback(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            follow.started(int(trial.config["trial"]))

        def on_trial_result(self, iteration, trials, trial, result, **info):
            follow.result(int(trial.config["trial"]), result)

        def on_trial_complete(self, iteration, trials, trial, **info):
            follow.drain()

        def on_trial_error(self, iteration, trials, trial, **info):
            follow.drain()

    return Callback()


def _stopper(should_stop: Callable[[], bool]):
    from ray import tune

    class Cancel(tune.Stopper):
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return bool(should_stop())

    return Cancel()


class _Follow:
    """Driver-side bookkeeping: files into run folders, trial entries, the sweep job's progress."""

    def __init__(self, sweep_id: str, store: Any, sink: Any, progress: Callable[[dict], None]):
        self.sweep_id, self.store, self.sink, self.emit = sweep_id, store, sink, progress
        self.rec = read_sweep(sweep_id, store.root)
        self.t0 = time.monotonic()
        self.total = sum(int(t["epochs"]) for t in self.rec["trials"])

    def _update(self, index: int, **fields: Any) -> None:
        def change(rec: dict) -> None:
            rec["trials"][index].update(fields)

        self.rec = update_sweep(self.sweep_id, change, self.store.root)

    def started(self, index: int) -> None:
        run_id = self.rec["trials"][index]["run_id"]
        with contextlib.suppress(Exception):
            self.store.update(run_id, status="running")
        self._update(index, status="running")
        self.report()

    def drain(self) -> None:
        import ray

        for run_id, files, _info in ray.get(self.sink.drain.remote(), timeout=120):
            if files:
                write_back(self.store.runs_dir / run_id, files)

    def result(self, index: int, result: Mapping[str, Any]) -> None:
        self.drain()
        t = self.rec["trials"][index]
        best = max(float(result.get(METRIC) or 0.0), float(t.get("best_val_accuracy") or 0.0))
        self._update(index, epochs_done=int(result.get("epoch") or 0), best_val_accuracy=best)
        self.report()

    def report(self, phase: str = "training") -> None:
        trials = self.rec["trials"]
        done = sum(int(t.get("epochs_done") or 0) for t in trials)
        counts: dict[str, int] = {}
        for t in trials:
            key = "stopped early" if t.get("stopped") == "asha" else t.get("status", "created")
            counts[key] = counts.get(key, 0) + 1
        best = max(trials, key=lambda t: t.get("best_val_accuracy") or -1.0)
        elapsed = time.monotonic() - self.t0
        eta = elapsed / done * (self.total - done) if done and phase == "training" else None
        text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        if best.get("best_val_accuracy") is not None:
            text += f"; best val_accuracy {best['best_val_accuracy']:.3f} (trial {best['index']})"
        self.emit({"phase": phase, "unit": "trial-epoch", "epoch": done, "epochs": self.total, "batch": 0,
                   "batches": 0, "eta_s": eta, "sweep_id": self.sweep_id, "message": f"{len(trials)} trials: {text}"})


def _make_runs(sweep_id: str, store: Any, trials: list[tuple[dict, Any]]) -> list[str]:
    from ..training.config import config_to_dict

    rec = read_sweep(sweep_id, store.root)
    if any(t.get("run_id") for t in rec["trials"]):
        raise ClusterError(f"Sweep {sweep_id} already ran (its trials have runs); start a new sweep instead.")
    ids = [store.create(config_to_dict(cfg), sweep=sweep_id, sweep_settings=settings).id for settings, cfg in trials]

    def change(r: dict) -> None:
        for t, run_id in zip(r["trials"], ids):
            t["run_id"] = run_id
        r["status"] = "running"

    update_sweep(sweep_id, change, store.root)
    return ids


def run_sweep(sweep_id: str, *, progress: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None, job_id: str | None = None,
              root: str | Path | None = None) -> dict:
    """Run the trials of sweep ``sweep_id`` with Ray Tune; returns the final sweep record."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TensorBoard files
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from ..runs import RunStore
    from ..training.config import config_to_dict, load_config
    from ..training.prepare import load_for_config
    from .connect import check_fits, connect, release, resource_request, start_local
    from .driver import check_portable

    store = RunStore(root)
    emit = progress or (lambda ev: None)
    should_stop = should_stop or (lambda: False)
    sw = read_sweep(sweep_id, store.root)
    trials = trial_configs(load_config(sw["config"]), sw["grid"], int(sw.get("samples") or 1))
    for _, cfg in trials:
        check_portable(cfg)
    address = sw.get("ray_address")
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    emit({"phase": "loading", "epoch": 0, "epochs": 0, "message": f"starting {len(trials)} trials on {where}"})
    started_here, temp, storage, sink = not ray.is_initialized(), None, None, None
    if address:
        connect(address)
    elif started_here:
        temp = start_local()
    try:
        for _, cfg in trials:
            check_fits(cfg.resources, ray.nodes(), address or "(local)")
        run_ids = _make_runs(sweep_id, store, trials)
        update_sweep(sweep_id, lambda r: r.update(job_id=job_id or r.get("job_id"), started=now_iso()), store.root)
        datasets, payload = {}, []
        for (settings, cfg), run_id in zip(trials, run_ids):
            key = json.dumps(config_to_dict(cfg)["data"], sort_keys=True)
            if key not in datasets:
                emit({"phase": "loading", "epoch": 0, "epochs": 0, "message": f"loading {cfg.data.path} here"})
                datasets[key] = load_for_config(cfg)
            payload.append({"index": len(payload), "run_id": run_id, "config": config_to_dict(cfg), "data_key": key})
        sink = ray.remote(num_cpus=0)(FileSink).remote()
        follow = _Follow(sweep_id, store, sink, emit)
        follow.report()
        need = resource_request(trials[0][1].resources)
        tune_resources = {"cpu": need.get("CPU", 1.0), "gpu": need.get("GPU", 0.0), "memory": need.get("memory", 0)}
        trainable = tune.with_resources(
            tune.with_parameters(trial_trainable, trials=payload, datasets=datasets, sink=sink),
            {k: v for k, v in tune_resources.items() if v})
        scheduler = None
        if sw.get("scheduler") == "asha":
            scheduler = ASHAScheduler(time_attr="epoch", max_t=int(sw["epochs"]), grace_period=1, reduction_factor=2)
        storage = tempfile.mkdtemp(prefix="fer_tune_")
        tuner = tune.Tuner(
            trainable, param_space={"trial": tune.grid_search(list(range(len(payload))))},
            tune_config=tune.TuneConfig(metric=METRIC, mode="max", scheduler=scheduler),
            run_config=tune.RunConfig(name=sweep_id, storage_path=storage, verbose=1, stop=_stopper(should_stop),
                                      callbacks=[_tune_callback(follow)]))
        results = tuner.fit()
        follow.drain()
        errors = {int(r.config["trial"]): r.error for r in results if r.config and r.error is not None}
        rec = _finish(sweep_id, store, sw, errors, cancelled=bool(should_stop()))
        follow.rec = rec
        follow.report(phase="done")
        return rec
    except BaseException:
        with contextlib.suppress(Exception):
            _finish(sweep_id, store, sw, {}, cancelled=bool(should_stop()), failed=True)
        raise
    finally:
        release(sink, started_here)
        for d in (storage, temp):
            if d:
                shutil.rmtree(d, ignore_errors=True)


def _finish(sweep_id: str, store: Any, sw: Mapping[str, Any], errors: Mapping[int, BaseException], *,
            cancelled: bool, failed: bool = False) -> dict:
    """Give every trial and its run a final status (see :mod:`fer_core.sweeps`)."""
    from ..run_files import METRICS_FILE, STATE_FILE
    from ..runs import read_json

    def change(rec: dict) -> None:
        for t in rec["trials"]:
            run_id = t.get("run_id")
            if not run_id:
                t.update(status="cancelled" if cancelled else "failed", error=t.get("error") or "never started")
                continue
            folder = store.runs_dir / run_id
            state = read_json(folder / STATE_FILE, {}) or {}
            t["epochs_done"] = int(state.get("epoch") or t.get("epochs_done") or 0)
            if (folder / METRICS_FILE).is_file():
                t.update(status="done", stopped=None)
            elif t["index"] in errors:
                err = errors[t["index"]]
                line = next((ln for ln in str(err).splitlines() if ln.strip()), type(err).__name__)
                t.update(status="failed", error=line.strip()[:300])
            elif cancelled or failed:
                t.update(status="cancelled" if cancelled else "failed", stopped="cancelled" if cancelled else None,
                         error=t.get("error") or ("cancelled by the user" if cancelled else "the sweep job failed"))
            elif sw.get("scheduler") == "asha":
                t.update(status="cancelled", stopped="asha",
                         error=f"stopped early by ASHA after {t['epochs_done']} epoch(s)")
            else:
                t.update(status="failed", error=t.get("error") or "the trial ended without results")
            with contextlib.suppress(Exception):
                store.update(run_id, status=t["status"])
                if t["status"] == "done":
                    store.refresh(run_id)
        rec["status"] = "cancelled" if cancelled else ("failed" if failed else "done")
        rec["finished"] = now_iso()

    return update_sweep(sweep_id, change, store.root)
