"""Ensembles: soft voting over models, usable wherever a single model is.

>>> ens = Ensemble([(model_a, 2.0), model_b], name="a+b", tta="flip")   # doctest: +SKIP
>>> probs = ens.predict_probs(images)                                     # doctest: +SKIP
>>> save_ensemble("a_b.json", ["20261122-031500-fer_net-1a2b", "fer2013-fernet-a"], [2, 1])  # doctest: +SKIP
>>> ens = load_ensemble("a_b.json")                                       # doctest: +SKIP

Each member sees the images converted to its own input size and channels and the ensemble's TTA,
so members may differ in both. The ensemble's probabilities are the weighted mean of its members'
(TTA-averaged) probabilities, weights normalised to sum to 1, optionally sharpened or softened by
a temperature fitted on validation faces (:func:`~fer_core.evaluation.calibration.fit_temperature`).

A photo's few faces go through all the members in one compiled call (``fuse=True``, when the members
are Keras models with one input size): each separate ``predict_on_batch`` costs about 2 ms of
overhead on a 2-core CPU, a fifth to a half of a small ensemble's time per photo. Large batches
(evaluation) keep one call per member, whose overhead is then negligible; both give the same
probabilities.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_write_json
from ..run_files import MODEL_FILE
from .calibration import apply_temperature
from .predict import (Progress, check_images, mean_over_views, member_views, model_input_shape, num_classes,
                      parse_tta, predict_probs, predict_views, to_model_input, view_batch)

__all__ = ["ENSEMBLE_KIND", "Ensemble", "is_ensemble", "load_ensemble", "resolve_member", "save_ensemble"]

#: ``kind`` field of a saved ensemble file.
ENSEMBLE_KIND = "fer_studio.ensemble"
ENSEMBLE_VERSION = 1


def _check_weights(weights: Sequence[float] | None, n: int, caller: str) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{caller}: weights must be numbers, got {weights!r}.") from None
    if w.shape != (n,):
        raise ConfigError(f"{caller}: got {w.size} weight(s) for {n} member(s); give one weight per member "
                          "or none for equal weights.")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"{caller}: weights must be finite, >= 0 and not all 0, got {w.tolist()}.")
    return w / w.sum()


def _check_temperature(t: Any, caller: str) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not (
            np.isfinite(t) and t > 0):
        raise ConfigError(f"{caller}: temperature must be a finite number > 0 (1 = off), got {t!r}.")
    return float(t)


def _check_tta(tta: Any, caller: str) -> str | list[str]:
    modes = parse_tta(tta)
    if not modes:
        return "none"
    return modes[0] if len(modes) == 1 else list(modes)


class Ensemble:
    """Soft voting over models (optionally weighted), with the interface of one model.

    Parameters
    ----------
    members : list of models, or of ``(model, weight)`` pairs. A model is a Keras model (float32
        0..255 input, softmax output), anything with ``predict_probs`` (another Ensemble: it applies
        the TTA to its own members), or anything with ``predict_views(images, views, *, batch_size,
        progress)`` (a wrapper that computes a member's views itself, e.g. to cache them)
    name : shown in reports and the dashboard
    tta : test-time augmentation applied to every member by default (see
        :mod:`fer_core.evaluation.predict`); ``"spread"`` gives member k the k-th view pair
        (:func:`~fer_core.evaluation.predict.member_views`), so the members' order matters
    classes : the output class names, optional (all members must share the class order)
    refs : where each member came from (run ids or paths), kept for :meth:`save`
    temperature : applied to the mean probabilities (:func:`~fer_core.evaluation.calibration.apply_temperature`); 1 = off
    fuse : run all members in one compiled call when the images and their TTA views fit in one batch
        (see the module docstring); False keeps one ``predict_on_batch`` per member

    Attributes
    ----------
    members : list of the member models
    weights : float64 array of shape (n_members,), summing to 1
    """

    def __init__(self, members: Sequence[Any], name: str = "ensemble", tta: str | Sequence[str] = "none",
                 classes: Sequence[str] | None = None, refs: Sequence[str] | None = None,
                 temperature: float = 1.0, fuse: bool = True):
        if isinstance(members, (str, bytes)) or not isinstance(members, Sequence) or not len(members):
            raise ConfigError(f"Ensemble needs a non-empty list of models or (model, weight) pairs, got "
                              f"{type(members).__name__}.")
        models, raw = [], []
        for i, m in enumerate(members):
            if isinstance(m, tuple):
                if len(m) != 2:
                    raise ConfigError(f"Ensemble member {i} is a tuple of {len(m)}; expected (model, weight).")
                m, w = m
            else:
                w = 1.0
            if not any(hasattr(m, a) for a in ("predict_views", "predict_probs", "predict_on_batch")):
                raise ConfigError(f"Ensemble member {i} is a {type(m).__name__}, not a model: expected a Keras "
                                  "model (predict_on_batch) or an object with predict_views or predict_probs.")
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
                raise ConfigError(f"Ensemble member {i} has weight {w!r}; weights must be numbers.")
            models.append(m)
            raw.append(float(w))
        self.members: list[Any] = models
        self.weights: np.ndarray = _check_weights(raw, len(models), "Ensemble")
        self.name = str(name)
        self.tta = _check_tta(tta, "Ensemble")
        self.temperature = _check_temperature(temperature, "Ensemble")
        counts = {i: num_classes(m) for i, m in enumerate(models)}
        known = {c for c in counts.values() if c is not None}
        if len(known) > 1:
            raise ConfigError(f"Ensemble members disagree on the number of classes: {counts}; every member must "
                              "predict the same classes in the same order.")
        self._num_classes = known.pop() if known else None
        if classes is not None:
            classes = tuple(str(c) for c in classes)
            if self._num_classes is not None and len(classes) != self._num_classes:
                raise ConfigError(f"Ensemble got {len(classes)} class names for members with "
                                  f"{self._num_classes} outputs.")
        self.classes: tuple[str, ...] | None = classes
        if refs is not None and len(refs) != len(models):
            raise ConfigError(f"Ensemble got {len(refs)} refs for {len(models)} members.")
        self.refs: list[str] | None = None if refs is None else [str(r) for r in refs]
        self.fuse = bool(fuse)
        self._fused: Any = None

    @property
    def num_classes(self) -> int | None:
        """Number of output classes (None when no member says)."""
        return self._num_classes

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        w = ", ".join(f"{x:.3g}" for x in self.weights)
        t = "" if self.temperature == 1.0 else f", temperature={self.temperature:.3g}"
        return f"Ensemble(name={self.name!r}, members={len(self)}, weights=[{w}], tta={self.tta!r}{t})"

    def member_probs(self, images: Any, *, batch_size: int = 256, tta: str | Sequence[str] | None = None,
                     progress: Progress | None = None) -> list[np.ndarray]:
        """Each member's probabilities, a list of float32 arrays of shape (n, n_classes)."""
        tta = self.tta if tta is None else _check_tta(tta, "Ensemble.predict_probs")
        x = check_images(images, caller=f"Ensemble {self.name!r}")
        n, k = len(x), len(self.members)
        views = [member_views(tta, i) for i in range(k)]
        shape = self._fusable_shape()
        if shape is not None and 0 < n * max(map(len, views)) <= batch_size:
            ready = to_model_input(x, shape)
            batches = {tuple(v): view_batch(ready, v) for v in views}
            outs = self._fused_call([batches[tuple(v)] for v in views])
            out = [mean_over_views(o, len(v), n) for o, v in zip(outs, views)]
            if progress is not None:
                progress(k * n, k * n)
            return out
        out = []
        for i, m in enumerate(self.members):
            step = None if progress is None else (lambda done, total, i=i: progress(i * n + done, k * n))
            if hasattr(m, "predict_views"):  # a wrapper that computes the member's views itself
                p = np.asarray(m.predict_views(x, views[i], batch_size=batch_size, progress=step), np.float32)
            elif hasattr(m, "predict_probs"):  # a nested ensemble applies the TTA to its own members
                p = predict_probs(m, x, batch_size=batch_size, tta=tta, progress=step)
            else:
                p = predict_views(m, x, views[i], batch_size=batch_size, progress=step)
            if out and p.shape != out[0].shape:
                raise DataError(f"Ensemble {self.name!r}: member {i} returned probabilities of shape {p.shape}, "
                                f"member 0 {out[0].shape}; members must predict the same classes.")
            out.append(p)
        return out

    def _fusable_shape(self) -> tuple[int | None, int | None, int | None] | None:
        """The members' common input shape when they can run fused, else None."""
        if not self.fuse or len(self.members) < 2:
            return None
        if any(hasattr(m, "predict_probs") or hasattr(m, "predict_views") or not hasattr(m, "predict_on_batch")
               or not callable(m) for m in self.members):  # e.g. exported members: one call each
            return None
        try:
            shapes = {model_input_shape(m) for m in self.members}
        except ConfigError:
            return None
        return shapes.pop() if len(shapes) == 1 else None

    def _fused_call(self, batches: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Member i's output on ``batches[i]``, all from one compiled call (built on first use)."""
        import tensorflow as tf

        if self._fused is None:
            members = list(self.members)
            self._fused = tf.function(lambda ts: [m(t, training=False) for m, t in zip(members, ts)],
                                      reduce_retracing=True)
        tensors = {id(b): tf.constant(b, dtype=tf.float32) for b in batches}  # a batch shared by members is sent once
        return [np.asarray(o) for o in self._fused([tensors[id(b)] for b in batches])]

    def predict_probs(self, images: Any, *, batch_size: int = 256, tta: str | Sequence[str] | None = None,
                      progress: Progress | None = None) -> np.ndarray:
        """Weighted mean of the members' probabilities (then the temperature), float32 (n, n_classes).

        ``tta=None`` uses the ensemble's own ``tta``; progress is ``progress(done, total)`` counted in
        member-images.
        """
        probs = self.member_probs(images, batch_size=batch_size, tta=tta, progress=progress)
        total = np.zeros(probs[0].shape, np.float64)
        for w, p in zip(self.weights, probs):
            total += w * p.astype(np.float64)
        return apply_temperature(total.astype(np.float32), self.temperature)

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry :func:`save_ensemble` writes (needs ``refs``)."""
        if self.refs is None:
            raise ConfigError(f"Ensemble {self.name!r} was built from models in memory; save it with "
                              "save_ensemble(path, member_run_ids_or_paths, weights, tta, name).")
        return _entry(self.refs, self.weights, self.tta, self.name, self.classes, self.temperature)

    def save(self, path: str | Path) -> Path:
        """Write the ensemble's JSON entry (members by ``refs``) atomically to ``path``."""
        path = Path(path)
        atomic_write_json(path, self.to_dict())
        return path


def is_ensemble(model: Any) -> bool:
    """True for an :class:`Ensemble` (timed, exported and explained member by member)."""
    return isinstance(model, Ensemble)


def _entry(refs: Sequence[str], weights: np.ndarray, tta: Any, name: str, classes: Sequence[str] | None,
           temperature: float = 1.0) -> dict:
    entry = {"kind": ENSEMBLE_KIND, "version": ENSEMBLE_VERSION, "name": str(name),
             "members": [{"ref": str(r), "weight": float(w)} for r, w in zip(refs, weights)],
             "tta": tta, "classes": None if classes is None else [str(c) for c in classes]}
    if temperature != 1.0:  # optional key: files without it (temperature 1) stay as they were
        entry["temperature"] = float(temperature)
    return entry


def save_ensemble(path: str | Path, members: Sequence[str | Path], weights: Sequence[float] | None = None,
                  tta: str | Sequence[str] = "none", name: str = "ensemble",
                  classes: Sequence[str] | None = None, temperature: float = 1.0) -> Path:
    """Save an ensemble as a named JSON entry (atomic write); the models are referenced, not copied.

    Parameters
    ----------
    path : the ``.json`` file to write
    members : run ids (of the :class:`~fer_core.runs.RunStore`) or bundled ids (never file paths)
    weights : one non-negative weight per member (normalised on save), or None for equal weights
    tta : the ensemble's test-time augmentation
    name : the ensemble's name
    classes : output class names, optional
    temperature : applied to the mean probabilities (fit it on validation faces with
        :func:`~fer_core.evaluation.calibration.fit_temperature`); 1 = off

    Returns
    -------
    The path written.
    """
    if isinstance(members, (str, Path)) or not len(members):
        raise ConfigError(f"save_ensemble: members must be a non-empty list of run ids or bundled ids, got {members!r}.")
    refs = [check_member_ref(str(getattr(m, "id", m))) for m in members]
    w = _check_weights(weights, len(refs), "save_ensemble")
    if not str(name).strip():
        raise ConfigError("save_ensemble: name must not be empty.")
    entry = _entry(refs, w, _check_tta(tta, "save_ensemble"), str(name).strip(), classes,
                   _check_temperature(temperature, "save_ensemble"))
    path = Path(path)
    atomic_write_json(path, entry)
    return path


def check_member_ref(ref: Any) -> str:
    """``ref`` if it can name an ensemble member (a run id or a bundled id), else DataError.

    Ensemble files are shared and edited by hand: a member given as a file path could make the
    studio load any file on disk, so paths are refused (import the model as a run first).
    """
    text = str(ref).strip() if isinstance(ref, (str, Path)) else ""
    if not text or "/" in text or "\\" in text or text.startswith(".") or text.lower().endswith((".keras", ".h5")):
        raise DataError(f"Ensemble member {str(ref)!r} is not a run id or bundled id; ensembles name runs, not "
                        "files. Import a model file as a run first: python -m fer_core runs import PATH.")
    return text


def resolve_member(ref: str, base: str | Path | None = None) -> Any:
    """Load a member model from a bundled id or a run id of the RunStore (``safe_mode=True``).

    ``base`` is accepted for compatibility and ignored: members are never file paths.
    """
    from ..bundled import is_bundled, load_bundled
    from ..models.files import load_model_file

    ref = check_member_ref(ref)
    if is_bundled(ref):
        return load_bundled(ref)
    from ..runs import RunStore

    run = RunStore().get(ref)  # unknown ids raise UnknownRunError listing close matches
    if not run.model_path.is_file():
        raise DataError(f"Run {run.id} has no {MODEL_FILE} (status {run.status!r}); finish or resume its training "
                        "before using it in an ensemble.")
    return load_model_file(run.model_path)


def load_ensemble(path: str | Path, resolve: Callable[[str], Any] | None = None) -> Ensemble:
    """Load a saved ensemble; each member ref is turned into a model by ``resolve(ref)``.

    ``resolve`` defaults to :func:`resolve_member` (run ids and bundled ids only); a member that is
    not such an id is refused whatever the resolver.
    """
    path = Path(path)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"Cannot read ensemble file {str(path)!r}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}).") from None
    if not isinstance(entry, dict) or entry.get("kind") != ENSEMBLE_KIND:
        raise DataError(f"{path}: not an ensemble file (expected kind {ENSEMBLE_KIND!r}); write one with "
                        "save_ensemble().")
    if entry.get("version") != ENSEMBLE_VERSION:
        raise DataError(f"{path}: ensemble file version {entry.get('version')!r} is not supported "
                        f"(expected {ENSEMBLE_VERSION}).")
    members = entry.get("members")
    if not isinstance(members, list) or not members or not all(
            isinstance(m, dict) and isinstance(m.get("ref"), str) for m in members):
        raise DataError(f"{path}: 'members' must be a non-empty list of {{'ref': str, 'weight': float}}.")
    try:
        refs = [check_member_ref(m["ref"]) for m in members]
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    weights = [m.get("weight", 1.0) for m in members]
    try:
        temperature = _check_temperature(entry.get("temperature", 1.0), "load_ensemble")
    except ConfigError as exc:
        raise DataError(f"{path}: {exc}") from None
    if resolve is None:
        resolve = resolve_member
    models = [resolve(r) for r in refs]
    return Ensemble(list(zip(models, _check_weights(weights, len(refs), f"load_ensemble({path.name})"))),
                    name=entry.get("name") or path.stem, tta=entry.get("tta") or "none",
                    classes=entry.get("classes"), refs=refs, temperature=temperature)
