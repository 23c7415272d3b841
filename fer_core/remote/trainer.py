"""The side of a Ray job that runs on the cluster: the engine in a temporary folder, files sent back.

:class:`RemoteTrainer` becomes a threaded Ray actor (``max_concurrency=2``): ``run`` trains in
one thread while the driver calls ``poll`` (events and changed files since the last poll) and
``stop`` from another.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from typing import Any, Mapping

from .files import FolderWatch, scratch_folder


def node_info() -> dict[str, Any]:
    """Where this code runs: host name, Ray node address, pid, GPUs Ray assigned."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        import ray

        ctx = ray.get_runtime_context()
        info["node_ip"] = ray.util.get_node_ip_address()
        info["node_id"] = ctx.get_node_id()
        info["gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    except Exception:  # noqa: BLE001 - informational only
        pass
    return info


def set_tf_threads(cpus: float) -> list[str]:
    """Limit TensorFlow to the CPUs Ray reserved; returns the GPUs TensorFlow sees (names)."""
    import tensorflow as tf

    n = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TensorFlow already initialised in this process
        pass
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def progress_delay() -> float:
    """The test/demo slow-down (``FER_STUDIO_PROGRESS_DELAY``) applied after each progress event."""
    from ..jobs.worker import DELAY_ENV

    return float(os.environ.get(DELAY_ENV) or 0)


class RemoteTrainer:
    """Trains one run on a Ray node and queues its events and changed files for the driver."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outbox: list[tuple[str, Any]] = []
        self._stop = threading.Event()

    def _send(self, kind: str, payload: Any) -> None:
        with self._lock:
            self._outbox.append((kind, payload))

    def poll(self) -> list[tuple[str, Any]]:
        """``[("event", dict) | ("files", {name: bytes}), ...]`` since the last poll, in order."""
        with self._lock:
            out, self._outbox = self._outbox, []
        return out

    def stop(self) -> bool:
        """Ask the training to stop after the current batch (the engine then evaluates the best model)."""
        self._stop.set()
        return True

    def run(self, cfg_dict: Mapping[str, Any], dataset: Any, files: Mapping[str, bytes], resume: bool) -> dict:
        """Train ``cfg_dict`` on ``dataset`` (resuming from ``files`` when ``resume``); returns the metrics."""
        from ..training.config import load_config
        from ..training.engine import train
        from .files import write_back

        cfg = load_config(dict(cfg_dict))
        gpus = set_tf_threads(cfg.resources.cpus)
        info = node_info()
        self._send("event", {"phase": "loading", "epoch": 0, "epochs": cfg.train.epochs, "node": info,
                             "message": f"on Ray node {info.get('node_ip', info['host'])} (pid {info['pid']}, "
                                        f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}"
                                        f"{': ' + ', '.join(gpus) if gpus else ''})"})
        folder = scratch_folder("fer_ray_run_")
        try:
            write_back(folder, files)
            watch = FolderWatch(folder)
            watch.mark()
            delay = progress_delay()

            def progress(ev: dict) -> None:
                ev = {**ev, "node": info}
                if ev.get("event") in ("epoch_end", "done"):  # every file of this epoch (or run) is written
                    self._send("files", watch.changed())
                self._send("event", ev)
                if delay > 0:
                    time.sleep(delay)

            metrics = train(cfg, folder, progress=progress, resume=resume, should_stop=self._stop.is_set,
                            dataset=dataset)
            self._send("files", watch.changed())
            return metrics
        finally:
            shutil.rmtree(folder, ignore_errors=True)
