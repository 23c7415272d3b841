"""The training loop: ``train(cfg, run_dir)`` writes a complete, resumable run folder.

Files written into ``run_dir`` (each atomically, so a killed process never leaves half a file):

=================  ===========================================================================
config.toml        the configuration as run (``load_config`` reads it back)
model.keras        the best model so far (highest val accuracy), rewritten when it improves
checkpoint.keras   the model and optimizer after the last completed epoch (for ``resume=True``)
state.json         epoch, best val accuracy, learning rate, schedule counters, history, status
history.json       per epoch: loss, accuracy, val_loss, val_accuracy, lr, seconds, images_per_s
metrics.json       accuracy, macro F1, per-class precision/recall/F1, confusion matrix, timings,
                   from the best model's predictions on the test split (val without one)
predictions.npz    probs float32 (n, C), labels, sources, classes, split
=================  ===========================================================================
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..paths import machine_name, native_bfloat16
from ..errors import ConfigError
from ..io import atomic_path, atomic_write_json, atomic_write_npz
from ..models.files import dtype_policy, float32_copy, load_model_file
from ..run_files import (CHECKPOINT_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE,
                         MODEL_FILE, PREDICTIONS_FILE, STATE_FILE, SWA_FILE, SWA_MODEL_FILE, TEACHER_FILE)
from .config import TrainConfig, config_to_dict, dump_config, load_config, resolve_path
from .pipeline import ArrayPipeline, train_pipeline
from .prepare import TrainingData, prepare_data

Progress = Callable[[dict], None]

#: Fields that may differ between a run's saved config and the config it is resumed with.
RESUMABLE_CHANGES = {("train", "epochs"), ("train", "time_limit_min"), ("train", "early_stopping"), ("eval", "tta"),
                     ("train", "swa_epochs"), ("train", "swa_lr"),
                     ("resources", "cpus"), ("resources", "gpus"), ("resources", "memory_gb")}
#: Emit a batch progress event at least every this many batches (and at least every 2 s).
PROGRESS_EVERY = 5
EVAL_BATCH = 256


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    progress: Progress | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
    stop_at_epoch_end: Callable[[], bool] | None = None,
    dataset=None,
    model_fn: Callable[..., Any] | None = None,
) -> dict:
    """Train the model ``cfg`` describes and write the run folder.

    Parameters
    ----------
    cfg : a TrainConfig (from :func:`~fer_core.training.config.load_config`); it is re-validated
    run_dir : folder for the artefacts (created if missing)
    progress : called with an event dict at start, every few batches, every epoch end,
        before evaluation and at the end; keys ``phase`` ("loading" | "training" |
        "evaluating" | "done"), ``epoch``, ``epochs``, ``batch``, ``batches``, ``loss``,
        ``accuracy``, ``eta_s``, ``images_per_s``, ``history`` (per-epoch dicts so far),
        ``message``, and ``event`` ("loading" | "batch" | "epoch_end" | "evaluating" | "done");
        the "done" event also carries ``metrics``
    resume : continue from ``checkpoint.keras`` + ``state.json`` in ``run_dir`` (model, optimizer
        state, schedule counters and history), at the epoch after the last completed one;
        starts afresh when there is no checkpoint
    should_stop : polled every batch; when it returns True training stops cleanly (the unfinished
        epoch is discarded, the best model so far is evaluated and kept)
    stop_at_epoch_end : polled between epochs; when it returns True training pauses, once this
        call has finished at least one epoch (so nothing is lost and the run can be resumed from a
        checkpoint of its own). A paused run is not finished, so the test split is not evaluated
        (it is, once, when the run finishes); a stale ``metrics.json`` is removed
    dataset : an already loaded FERDataset to use instead of loading ``cfg.data``
    model_fn : builds the model instead of ``fer_core.models.create_model``, same signature
        ``(name, input_shape=, num_classes=, weights=, **kwargs) -> keras.Model``

    Returns
    -------
    dict : the content of ``metrics.json``; after a pause, ``{"stopped": "cancelled", "paused":
        True, "epochs_completed", "best_epoch", "best_val_accuracy"}``
    """
    cfg = load_config(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    total = cfg.train.total_epochs
    emit = _Emitter(progress, total)
    state = _start_state(cfg, run_dir, resume)
    emit(phase="loading", message=f"loading {cfg.data.path}")

    data = prepare_data(cfg, dataset, progress=lambda frac, msg: emit(phase="loading", message=msg,
                                                                        fraction=round(float(frac), 3)),
                        teacher_cache=run_dir / TEACHER_FILE)
    emit(phase="loading", message=f"{len(data.x_train)} train / {len(data.x_val)} val / "
                                  f"{len(data.x_eval)} {data.eval_split} images")
    if cfg.train.precision == "mixed_bfloat16" and native_bfloat16() is False:
        emit(phase="loading", message="train.precision = 'mixed_bfloat16' on a CPU without native bfloat16 "
                                      "(no avx512_bf16 or amx_bf16 flag): expect it slower than float32")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(cfg.train.seed)
    ckpt = run_dir / CHECKPOINT_FILE
    if state["epoch"] > 0:
        model = load_model_file(ckpt, compile=True)
        _check_resumed_model(model, cfg, data)
    else:
        model = _build(cfg, data, model_fn)
        compile_model(model, cfg)
    model.jit_compile = False  # no XLA: it does not speed these models up on CPU
    dump_config(cfg, run_dir / CONFIG_FILE)

    t = cfg.train
    train_pipe = train_pipeline(cfg, data.x_train, data.y_train, data.w_train)
    val_pipe = ArrayPipeline(data.x_val, np.eye(len(data.classes), dtype=np.float32)[data.labels_val],
                             batch_size=max(t.batch_size, EVAL_BATCH))
    emit.batches = train_pipe.batches
    emit.history = state["history"]

    session_start = time.monotonic()
    clock_before = float(state.get("clock_seconds", 0.0))  # training time of earlier sessions
    budget = None if t.time_limit_min is None else 60.0 * t.time_limit_min
    deadline = None if budget is None else session_start + budget - clock_before
    lr_at = None
    if t.schedule == "cosine_time":
        def lr_at(now: float) -> float:
            done = min(max((clock_before + now - session_start) / budget, 0.0), 1.0)
            return 0.5 * t.lr * (1.0 + math.cos(math.pi * done))
    monitor = _BatchMonitor(emit, should_stop, deadline, train_pipe.n, t.batch_size, lr_at)
    raw_weights = _RawWeights()
    reason = state.get("status") if state.get("status") in ("completed", "early_stopping") else None
    swa = _SwaAverage(run_dir, state) if t.swa_epochs else None
    first_epoch = state["epoch"]
    paused = False
    for epoch in range(first_epoch, total):
        if reason is not None:
            break
        if should_stop is not None and should_stop():
            reason = "cancelled"
            break
        if epoch > first_epoch and stop_at_epoch_end is not None and stop_at_epoch_end():
            reason, paused = "cancelled", True
            break
        if deadline is not None and time.monotonic() >= deadline:
            reason = "time_limit"
            break
        in_swa = epoch >= t.epochs
        lr = t.swa_lr if in_swa else lr_at(time.monotonic()) if lr_at is not None else _lr_for_epoch(cfg, state, epoch)
        model.optimizer.learning_rate.assign(lr)
        monitor.start_epoch(epoch, lr)
        t0 = time.monotonic()
        hist = model.fit(train_pipe.dataset(epoch), epochs=epoch + 1, initial_epoch=epoch,
                         shuffle=False, verbose=0, callbacks=[monitor, raw_weights])
        t_fit = time.monotonic() - t0
        if monitor.stop_reason is not None:
            reason = monitor.stop_reason
            break
        # with train.ema the model now holds the averaged weights: validate and keep those
        val = model.evaluate(val_pipe.dataset(), verbose=0, return_dict=True)
        improved = float(val["accuracy"]) > state["best_val_accuracy"] and not in_swa  # SWA: the average competes
        if improved:
            _save_model(model, run_dir / MODEL_FILE, for_use=True)
        if in_swa:
            swa.add(model.get_weights())
        raw_weights.restore(model)  # ... and train on from the raw ones
        seconds = time.monotonic() - t0
        row = {
            "epoch": epoch + 1,
            "loss": float(hist.history["loss"][-1]),
            "accuracy": float(hist.history["accuracy"][-1]),
            "val_loss": float(val["loss"]),
            "val_accuracy": float(val["accuracy"]),
            "lr": float(lr),
            "seconds": round(seconds, 3),
            "images_per_s": round(train_pipe.n / max(t_fit, 1e-9), 1),
        }
        state["history"].append(row)
        state["epoch"] = epoch + 1
        state["images_seen"] += train_pipe.n
        state["fit_seconds"] += t_fit
        state["clock_seconds"] = clock_before + time.monotonic() - session_start
        if improved:
            state.update(best_val_accuracy=row["val_accuracy"], best_epoch=epoch + 1, wait=0, lr_wait=0)
        else:
            state["wait"] += 1
            state["lr_wait"] += 1
        if t.schedule == "plateau_halve" and state["lr_wait"] >= t.patience_lr and not in_swa:
            state["lr"] = lr / 2.0
            state["lr_wait"] = 0
        if t.early_stopping and state["wait"] >= t.early_stopping and not in_swa:
            reason = "early_stopping"
        state["status"] = reason or ("completed" if epoch + 1 == total else "running")
        _save_model(model, ckpt)
        atomic_write_json(run_dir / STATE_FILE, state)
        atomic_write_json(run_dir / HISTORY_FILE, state["history"])
        monitor.end_epoch(seconds, total - epoch - 1)
        emit(phase="training", epoch=epoch + 1, batch=train_pipe.batches, loss=row["loss"],
             accuracy=row["accuracy"], images_per_s=row["images_per_s"], eta_s=monitor.eta(epoch + 1, 0),
             val_accuracy=row["val_accuracy"], event="epoch_end", message=f"epoch {epoch + 1}/{total} done")
    reason = reason or "completed"
    if swa is not None and reason == "completed" and "swa_val_accuracy" not in state:
        emit(phase="evaluating", epoch=state["epoch"], message="SWA: batch-norm statistics of the averaged weights")
        _finish_swa(model, swa, state, train_pipe.dataset(state["epoch"]), val_pipe, run_dir)
    state["status"] = reason
    atomic_write_json(run_dir / STATE_FILE, state)
    atomic_write_json(run_dir / HISTORY_FILE, state["history"])
    if paused:
        return _pause(state, run_dir, emit, total)

    best_path = run_dir / MODEL_FILE
    if best_path.is_file():
        model.load_weights(best_path)
    else:  # stopped before the first epoch ended: keep what there is, clearly marked
        _save_model(model, best_path, for_use=True)
    model = float32_copy(model)  # the test split is scored as the saved model computes: in float32
    emit(phase="evaluating", epoch=state["epoch"], message=f"evaluating on the {data.eval_split} split")
    metrics = _evaluate(model, cfg, data, state, run_dir, reason,
                        session_seconds=time.monotonic() - session_start)
    emit(phase="done", epoch=state["epoch"], eta_s=0.0,
         message=f"{reason}: {data.eval_split} accuracy {metrics['accuracy']:.4f}", metrics=metrics)
    return metrics


# -- state ---------------------------------------------------------------------------------
def _fresh_state(cfg: TrainConfig) -> dict:
    return {"epoch": 0, "epochs": cfg.train.total_epochs, "best_val_accuracy": -1.0, "best_epoch": 0,
            "lr": cfg.train.lr, "wait": 0, "lr_wait": 0, "history": [], "status": "running",
            "images_seen": 0, "fit_seconds": 0.0, "clock_seconds": 0.0}


def _start_state(cfg: TrainConfig, run_dir: Path, resume: bool) -> dict:
    state_path, ckpt = run_dir / STATE_FILE, run_dir / CHECKPOINT_FILE
    if not resume:
        busy = [p.name for p in (state_path, run_dir / METRICS_FILE) if p.exists()]
        if busy:
            raise ConfigError(f"run folder {run_dir} already holds a run ({', '.join(busy)}); pass "
                              "resume=True (--resume) to continue it, or give a new run folder.")
        return _fresh_state(cfg)
    if not (state_path.is_file() and ckpt.is_file()):
        for stale in (MODEL_FILE, METRICS_FILE, PREDICTIONS_FILE):  # from a run killed in epoch 1
            (run_dir / stale).unlink(missing_ok=True)
        return _fresh_state(cfg)
    old_cfg_path = run_dir / CONFIG_FILE
    if old_cfg_path.is_file():
        diffs = _config_diff(load_config(old_cfg_path), cfg)
        if diffs:
            raise ConfigError(
                f"cannot resume {run_dir} with a different configuration: {', '.join(diffs)} changed. "
                f"Only {', '.join('.'.join(k) for k in sorted(RESUMABLE_CHANGES))} may change on resume."
            )
    state = json.loads(state_path.read_text())
    total = cfg.train.total_epochs
    state["epochs"] = total
    status = state.get("status")
    es = cfg.train.early_stopping
    if status == "early_stopping" and es and state["wait"] >= es:
        pass  # still stopped under the (possibly new) patience
    elif not (status == "completed" and state["epoch"] >= total):
        state["status"] = "running"
        for done in ("swa_val_accuracy", "swa_kept"):  # more SWA epochs: the average is finished again
            state.pop(done, None)
    return state


def _config_diff(old: TrainConfig, new: TrainConfig) -> list[str]:
    a, b = config_to_dict(old, keep_none=True), config_to_dict(new, keep_none=True)
    out = []
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            for sub in sorted(set(a[key]) | set(b[key])):
                if (key, sub) not in RESUMABLE_CHANGES and a[key].get(sub) != b[key].get(sub):
                    out.append(f"{key}.{sub} ({a[key].get(sub)!r} -> {b[key].get(sub)!r})")
        elif key != "name" and a.get(key) != b.get(key):
            out.append(f"{key} ({a.get(key)!r} -> {b.get(key)!r})")
    return out


def _lr_for_epoch(cfg: TrainConfig, state: dict, epoch: int) -> float:
    t = cfg.train
    if t.schedule == "cosine":
        return 0.5 * t.lr * (1.0 + math.cos(math.pi * epoch / t.epochs))
    if t.schedule == "constant":
        return t.lr
    return float(state["lr"])


# -- stochastic weight averaging -----------------------------------------------------------
class _SwaAverage:
    """The running mean of the weights at the ends of the SWA epochs, kept in ``swa.npz`` beside
    the checkpoint (written atomically each epoch, so a resumed run averages on)."""

    def __init__(self, run_dir: Path, state: dict):
        self.path, self.state = run_dir / SWA_FILE, state
        self.mean: list[np.ndarray] | None = None
        if state.get("swa_count") and self.path.is_file():
            with np.load(self.path) as npz:
                self.mean = [npz[f"w{i}"] for i in range(len(npz.files))]
        elif state.get("swa_count"):
            raise ConfigError(f"{run_dir} has {state['swa_count']} SWA epochs in its state but no {SWA_FILE}; "
                              "it cannot average on. Resume from a run folder that holds it, or start afresh.")

    def add(self, weights: list[np.ndarray]) -> None:
        n = int(self.state.get("swa_count", 0)) + 1
        w = [np.asarray(v, dtype=np.float64) for v in weights]
        self.mean = w if self.mean is None else [m + (v - m) / n for m, v in zip(self.mean, w)]
        atomic_write_npz(self.path, **{f"w{i}": m for i, m in enumerate(self.mean)})
        self.state["swa_count"] = n


def _finish_swa(model, swa: _SwaAverage, state: dict, train_batches, val_pipe, run_dir: Path) -> None:
    """Load the average, recompute batch-norm statistics on an epoch of training batches (augmented
    as in training: measured on member I, statistics of the clean images cost 2.2 points of
    validation accuracy), validate; keep it if it beats the best epoch."""
    model.set_weights([m.astype(v.dtype) for m, v in zip(swa.mean, model.get_weights())])
    recompute_batchnorm(model, train_batches)
    acc = float(model.evaluate(val_pipe.dataset(), verbose=0, return_dict=True)["accuracy"])
    state["swa_val_accuracy"] = acc
    state["swa_kept"] = acc > state["best_val_accuracy"]
    _save_model(model, run_dir / SWA_MODEL_FILE, for_use=True)
    if state["swa_kept"]:
        _save_model(model, run_dir / MODEL_FILE, for_use=True)
        state.update(best_val_accuracy=acc, best_epoch=state["epoch"])
    atomic_write_json(run_dir / STATE_FILE, state)


def recompute_batchnorm(model, batches) -> int:
    """Set every trainable BatchNormalization layer's moving statistics to their exact mean over
    ``batches`` (images, or ``(images, targets[, weights])`` tuples as a training dataset yields;
    one pass in training mode, momentum i/(i+1) at batch i), as SWA needs: the averaged weights
    have statistics of their own. Returns the number of layers updated."""
    import keras

    bns = [l for l in model._flatten_layers(include_self=False)
           if isinstance(l, keras.layers.BatchNormalization) and l.trainable]
    if not bns:
        return 0
    saved = [l.momentum for l in bns]
    try:
        for i, batch in enumerate(batches):
            for l in bns:
                l.momentum = i / (i + 1.0)
            model(batch[0] if isinstance(batch, tuple) else batch, training=True)
    finally:
        for l, m in zip(bns, saved):
            l.momentum = m
    return len(bns)


# -- model ---------------------------------------------------------------------------------
def _build(cfg: TrainConfig, data: TrainingData, model_fn):
    if model_fn is None:
        from ..models import create_model as model_fn
    weights = cfg.model.weights
    if weights is not None and weights != "imagenet":
        weights = resolve_path(weights)
    shape = (cfg.model.input_size, cfg.model.input_size, cfg.model.channels)
    with dtype_policy(cfg.train.precision):
        return model_fn(cfg.model.name, input_shape=shape, num_classes=len(data.classes),
                        weights=weights, **cfg.model.kwargs)


def compile_model(model, cfg: TrainConfig) -> None:
    """Compile ``model`` for training as ``cfg`` says: optimizer, weight decay, EMA, label smoothing."""
    import keras

    t = cfg.train
    common = dict(learning_rate=t.lr, weight_decay=t.weight_decay or None, use_ema=t.ema > 0,
                  ema_momentum=t.ema or 0.99)
    if t.optimizer == "sgd":
        opt = keras.optimizers.SGD(momentum=t.momentum, nesterov=t.nesterov, **common)
    else:
        opt = keras.optimizers.Adam(**common)
    model.compile(optimizer=opt,
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=t.label_smoothing),
                  metrics=["accuracy"], jit_compile=False, steps_per_execution=t.steps_per_execution)


def _check_resumed_model(model, cfg: TrainConfig, data: TrainingData) -> None:
    want = (None, cfg.model.input_size, cfg.model.input_size, cfg.model.channels)
    if tuple(model.input_shape) != want or model.output_shape[-1] != len(data.classes):
        raise ConfigError(f"checkpoint model has input {model.input_shape} and {model.output_shape[-1]} "
                          f"outputs; the configuration needs {want} and {len(data.classes)} classes.")


def _save_model(model, path: Path, *, for_use: bool = False) -> None:
    """Save atomically; ``for_use`` (the models runs are used through) saves a float32 copy of a
    mixed-precision model, while the checkpoint keeps its policy and optimizer to resume."""
    if for_use:
        model = float32_copy(model)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


# -- evaluation ----------------------------------------------------------------------------
def _pause(state: dict, run_dir: Path, emit: "_Emitter", total: int) -> dict:
    """End a paused session: the run is not finished, so the test split stays unseen (figures of an
    earlier finish are removed: they no longer describe the run)."""
    for stale in (METRICS_FILE, PREDICTIONS_FILE):
        (run_dir / stale).unlink(missing_ok=True)
    best = float(state["best_val_accuracy"]) if state["best_epoch"] else None
    out = {"stopped": "cancelled", "paused": True, "epochs_completed": int(state["epoch"]),
           "best_epoch": int(state["best_epoch"]), "best_val_accuracy": best}
    where = f"; best validation {best:.4f} at epoch {state['best_epoch']}" if best is not None else ""
    emit(phase="done", epoch=state["epoch"], eta_s=0.0, metrics=out,
         message=f"paused after epoch {state['epoch']}/{total}{where}; resume it to finish "
                 "(the test split is evaluated then)")
    return out


def _evaluate(model, cfg: TrainConfig, data: TrainingData, state: dict, run_dir: Path, reason: str,
              session_seconds: float) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    C = len(data.classes)
    pipe = ArrayPipeline(data.x_eval, batch_size=EVAL_BATCH)
    t0 = time.monotonic()
    probs = np.asarray(model.predict(pipe.dataset(), verbose=0), dtype=np.float32)
    labels = data.labels_eval
    extra: dict[str, Any] = {"tta": cfg.eval.tta}
    if cfg.eval.tta != "none":
        from ..evaluation.predict import predict_probs

        extra["accuracy_no_tta"] = float(np.mean(probs.argmax(axis=1) == labels)) if len(labels) else 0.0
        x = data.x_eval[..., 0] if data.x_eval.shape[-1] == 1 else data.x_eval
        probs = predict_probs(model, x, tta=cfg.eval.tta, batch_size=EVAL_BATCH)
    eval_seconds = time.monotonic() - t0
    pred = probs.argmax(axis=1)
    ids = list(range(C))
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=ids, zero_division=0)
    metrics: dict[str, Any] = {
        "run": cfg.name,
        "model": cfg.model.name,
        "dataset": data.dataset_name,
        "synthetic": data.synthetic,
        "eval_split": data.eval_split,
        "classes": list(data.classes),
        "n_test": int(len(labels)),
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, labels=ids, average="macro", zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, c in enumerate(data.classes)},
        "confusion_matrix": confusion_matrix(labels, pred, labels=ids).tolist(),
        "best_epoch": int(state["best_epoch"]),
        "best_val_accuracy": float(state["best_val_accuracy"]) if state["best_epoch"] else None,
        "epochs_completed": int(state["epoch"]),
        "epochs": int(cfg.train.epochs),
        **({"swa_epochs": int(cfg.train.swa_epochs), "swa_val_accuracy": state.get("swa_val_accuracy"),
            "swa_kept": bool(state.get("swa_kept"))} if cfg.train.swa_epochs else {}),
        "stopped": reason,
        "n_train": int(len(data.x_train)),
        "n_val": int(len(data.x_val)),
        "train_seconds": round(float(state["fit_seconds"]), 3),
        "images_per_s": round(state["images_seen"] / state["fit_seconds"], 1) if state["fit_seconds"] else None,
        "session_seconds": round(session_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        "params": int(model.count_params()),
        "machine": machine_name(),
        "data": data.summary,
        **extra,
    }
    if data.soft_eval is not None:  # agreement with the FER+ majority vote, where there are votes
        has = data.soft_eval.sum(axis=1) > 0
        if has.any():
            metrics["ferplus_majority_accuracy"] = float((pred[has] == data.soft_eval[has].argmax(1)).mean())
            metrics["n_ferplus"] = int(has.sum())
    from ..evaluation.evalset import save_predictions
    from ..evaluation.leakage import leakage_figures, twin_mask

    # how much of the score is faces the model trained on a pixel-identical copy of
    metrics["train_twins"] = leakage_figures(labels, pred, twin_mask(data.x_eval, data.x_train))
    save_predictions(run_dir / PREDICTIONS_FILE, probs, labels, data.sources_eval, data.classes, data.eval_split)
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    return metrics


# -- progress ------------------------------------------------------------------------------
class _Emitter:
    """Calls ``progress`` with complete event dicts (every key present)."""

    def __init__(self, progress: Progress | None, epochs: int):
        self.progress, self.epochs = progress, epochs
        self.batches = 0
        self.history: list[dict] = []

    def __call__(self, **event) -> None:
        if self.progress is None:
            return
        base = {"phase": "training", "epoch": 0, "epochs": self.epochs, "batch": 0, "batches": self.batches,
                "loss": None, "accuracy": None, "eta_s": None, "images_per_s": None,
                "history": list(self.history), "message": ""}
        base.update(event)
        base.setdefault("event", base["phase"])
        self.progress(base)


def _monitor_base():
    import keras

    return keras.callbacks.Callback


class _RawWeights(_monitor_base()):  # type: ignore[misc]
    """Keras callback for ``train.ema``: keeps the raw weights that ``fit`` replaces at its end.

    With ``use_ema`` Keras ends every ``fit`` call by writing the optimizer's moving average into
    the model (``finalize_variable_values``). The engine fits one epoch per call, so the raw
    weights are kept at the epoch's end and put back after validation, and training goes on from
    them (the average keeps averaging) rather than restarting each epoch from the average.
    """

    values: list | None = None

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model.optimizer, "use_ema", False):
            self.values = [v.numpy() for v in self.model.trainable_weights]

    def restore(self, model) -> None:
        if self.values is not None:
            for var, value in zip(model.trainable_weights, self.values, strict=True):
                var.assign(value)
            self.values = None


class _BatchMonitor(_monitor_base()):  # type: ignore[misc]
    """Keras callback: batch progress events, cancellation and the time limit."""

    def __init__(self, emit: _Emitter, should_stop, deadline: float | None, n_train: int, batch_size: int,
                 lr_at=None):
        super().__init__()
        self.emit, self.should_stop, self.deadline, self.lr_at = emit, should_stop, deadline, lr_at
        self.n_train, self.batch_size = n_train, batch_size
        self.epoch_seconds: list[float] = []
        self.stop_reason: str | None = None

    def start_epoch(self, epoch: int, lr: float) -> None:
        self.epoch, self.lr = epoch, lr
        self.t0 = self.last = time.monotonic()
        self.stop_reason = None
        self.done = 0  # batches of this epoch finished at the last callback

    def end_epoch(self, seconds: float, remaining: int) -> None:
        self.epoch_seconds.append(seconds)

    def eta(self, epoch_done: int, batches_left: int, per_batch: float | None = None) -> float | None:
        """Seconds left: the batches left of this epoch plus the epochs left, each epoch timed as the
        median of the last five (one epoch slowed by other work beside it does not move the estimate)."""
        remaining_epochs = self.emit.epochs - epoch_done
        if self.epoch_seconds:
            per_epoch = float(np.median(self.epoch_seconds[-5:]))
        elif per_batch is not None:
            per_epoch = per_batch * self.emit.batches
        else:
            return None
        if per_batch is None:
            per_batch = per_epoch / max(self.emit.batches, 1)
        return round(batches_left * per_batch + remaining_epochs * per_epoch, 1)

    def on_train_batch_begin(self, batch, logs=None):
        if self.lr_at is not None:  # schedule "cosine_time": the learning rate follows the clock
            self.lr = self.lr_at(time.monotonic())
            self.model.optimizer.learning_rate.assign(self.lr)

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        # with steps_per_execution = k Keras calls back once per k batches, with the last one's
        # index (past the end for a short final group)
        prev, done = self.done, min(batch + 1, self.emit.batches)
        self.done = done
        last = done >= self.emit.batches
        if prev == 0 or done // PROGRESS_EVERY > prev // PROGRESS_EVERY or last or now - self.last >= 2.0:
            self.last = now
            elapsed = max(now - self.t0, 1e-9)
            images = min(done * self.batch_size, self.n_train)
            logs = logs or {}
            self.emit(phase="training", event="batch", epoch=self.epoch + 1, batch=done,
                      loss=_num(logs.get("loss")), accuracy=_num(logs.get("accuracy")),
                      images_per_s=round(images / elapsed, 1), lr=self.lr,
                      eta_s=self.eta(self.epoch + 1, self.emit.batches - done, elapsed / done))
        if self.should_stop is not None and self.should_stop():
            self.stop_reason = "cancelled"
        elif self.deadline is not None and now >= self.deadline:
            self.stop_reason = "time_limit"
        if self.stop_reason is not None:
            self.model.stop_training = True


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
