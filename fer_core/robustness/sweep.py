"""Dataset-level robustness sweep: accuracy of several models under every corruption and severity.

Each (corruption, severity) corrupts the whole (sampled) batch once with
``corrupt_batch(images[indices], name, severity, seed)``, and every model predicts on that same
batch, so models are compared on identical images and a sweep is reproducible from its seed.
Summary numbers per model follow ImageNet-C's spirit with accuracies instead of errors: clean
accuracy, mean corruption accuracy (mCA, the mean over all corruption x severity cells),
relative drop ``(clean - mCA) / clean``, and the mean accuracy of each corruption family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io import jsonable
from .corruptions import MAX_SEVERITY, SUBSETS, check_batch, corrupt_batch, resolve_names, subset_of

__all__ = ["SweepResult", "stratified_sample", "summarise", "sweep"]

PredictFn = Callable[[np.ndarray], Any]
_TABLE_COLUMNS = ["model", "corruption", "subset", "severity", "accuracy", "n"]


@dataclass
class SweepResult:
    """What :func:`sweep` measured.

    Attributes
    ----------
    table : long DataFrame, one row per (model, corruption, severity) with columns ``model``,
        ``corruption``, ``subset``, ``severity``, ``accuracy``, ``n``; the clean images are the
        row ``corruption="clean"``, ``subset="clean"``, ``severity=0`` of each model
    summary : DataFrame, one row per model: ``model``, ``clean``, ``mCA``, ``relative_drop``,
        ``worst`` (the corruption with the lowest mean accuracy), then one column of mean
        accuracy per corruption family swept (``lighting``, ``noise``, ...)
    indices : ndarray of int, shape (n,), the evaluated images (indices into the images given)
    corruptions, severities : what was swept
    seed : the seed of the sample and of the corruptions
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    indices: np.ndarray
    corruptions: tuple[str, ...]
    severities: tuple[int, ...]
    seed: int

    def pivot(self, model: str) -> pd.DataFrame:
        """Accuracy of ``model`` as a corruption x severity table (severity 0 = clean, all rows)."""
        if model not in set(self.table["model"]):
            raise ConfigError(f"Unknown model {model!r}; this sweep has {sorted(set(self.table['model']))}.")
        t = self.table[self.table["model"] == model]
        clean = float(t.loc[t["severity"] == 0, "accuracy"].iloc[0])
        p = t[t["severity"] > 0].pivot(index="corruption", columns="severity", values="accuracy")
        p = p.reindex(list(self.corruptions))
        p.insert(0, 0, clean)
        return p

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN as None); :meth:`from_dict` reverses it."""
        return {
            "seed": int(self.seed),
            "corruptions": list(self.corruptions),
            "severities": [int(s) for s in self.severities],
            "indices": [int(i) for i in self.indices],
            "table": jsonable(self.table),
            "summary": jsonable(self.summary),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepResult":
        """Rebuild a result saved with :meth:`to_dict`."""
        try:
            return cls(
                table=pd.DataFrame(d["table"], columns=_TABLE_COLUMNS).astype({"accuracy": float}),
                summary=pd.DataFrame(d["summary"]),
                indices=np.asarray(d["indices"], dtype=np.int64),
                corruptions=tuple(d["corruptions"]),
                severities=tuple(int(s) for s in d["severities"]),
                seed=int(d["seed"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"Not a saved SweepResult (from SweepResult.to_dict): {e!r}.") from None


# -- sampling ------------------------------------------------------------------------------
def stratified_sample(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` images drawn without replacement, stratified by label.

    Each class gets its share of ``size`` (largest remainder), and at least one image when
    ``size`` is at least the number of classes. All indices when ``size >= len(labels)``.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if size >= n:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts / n * size
    alloc = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - alloc), kind="stable")
    alloc[order[: size - int(alloc.sum())]] += 1
    if size >= len(classes):
        for j in np.flatnonzero(alloc == 0):
            alloc[int(np.argmax(alloc))] -= 1
            alloc[j] = 1
    rng = np.random.default_rng([int(seed), 0x5A3B1E])
    picked = [rng.permutation(np.flatnonzero(labels == c))[:a] for c, a in zip(classes, alloc)]
    return np.sort(np.concatenate(picked))


# -- validation ----------------------------------------------------------------------------
def _check_models(predict_fns: Any) -> dict[str, PredictFn]:
    if callable(predict_fns) and not isinstance(predict_fns, Mapping):
        predict_fns = {"model": predict_fns}
    if not isinstance(predict_fns, Mapping) or not predict_fns:
        raise ConfigError(
            "predict_fns must be a non-empty dict {model name: callable(images) -> probabilities}, "
            f"got {predict_fns!r}."
        )
    for k, f in predict_fns.items():
        if not isinstance(k, str) or not callable(f):
            raise ConfigError(f"predict_fns[{k!r}] must map a str name to a callable, got {type(f).__name__}.")
    return dict(predict_fns)


def _check_labels(labels: Any, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n or not (np.issubdtype(y.dtype, np.integer) or n == 0):
        raise DataError(
            f"labels must be an int array of shape ({n},) (one class index per image), "
            f"got dtype {y.dtype} and shape {y.shape}."
        )
    return y.astype(np.int64)


def _check_severities(severities: Any) -> tuple[int, ...]:
    try:
        sev = list(severities)
    except TypeError:
        sev = [severities]
    bad = [s for s in sev if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer))
           or not 0 <= s <= MAX_SEVERITY]
    out = tuple(sorted({int(s) for s in sev} - {0})) if not bad else ()
    if bad or not out:
        raise ConfigError(
            f"severities must be ints in 1..{MAX_SEVERITY} (the clean images, severity 0, are always "
            f"evaluated), e.g. (1, 2, 3, 4, 5); got {severities!r}."
        )
    return out


def _check_sample(sample: Any) -> int | None:
    if sample is None:
        return None
    if isinstance(sample, (int, np.integer)) and not isinstance(sample, (bool, np.bool_)) and sample >= 1:
        return int(sample)
    raise ConfigError(f"sample must be None (all images) or an int >= 1, got {sample!r}.")


def _predict(name: str, fn: PredictFn, x: np.ndarray, batch_size: int | None) -> np.ndarray:
    """Predicted class indices (n,) from ``fn``'s probabilities (n, C) or labels (n,)."""
    step = len(x) if not batch_size else batch_size
    preds = []
    for start in range(0, len(x), max(step, 1)):
        chunk = x[start:start + step]
        out = np.asarray(fn(chunk))
        if out.ndim == 2 and len(out) == len(chunk) and out.shape[1] >= 1:
            preds.append(np.argmax(out, axis=1))
        elif out.ndim == 1 and len(out) == len(chunk) and np.issubdtype(out.dtype, np.integer):
            preds.append(out)
        else:
            raise DataError(
                f"Model {name!r} returned an array of shape {out.shape} (dtype {out.dtype}) for "
                f"{len(chunk)} images; expected probabilities of shape ({len(chunk)}, n_classes) "
                f"or int labels of shape ({len(chunk)},)."
            )
    return np.concatenate(preds) if preds else np.zeros(0, np.int64)


# -- the sweep -----------------------------------------------------------------------------
def sweep(
    predict_fns: Mapping[str, PredictFn],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    corruptions: str | Iterable[str] | None = None,
    severities: Iterable[int] = (1, 2, 3, 4, 5),
    sample: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[dict], None] | None = None,
) -> SweepResult:
    """Accuracy of each model on clean and corrupted images.

    Parameters
    ----------
    predict_fns : {model name: callable}; each callable takes a uint8 batch of the images'
        shape (m, h, w[, c]) and returns probabilities (m, n_classes) (or int labels (m,)).
        Wrap Keras models and ensembles yourself (e.g. ``lambda x: model.predict_on_batch(x)``).
    images : uint8 array (n, h, w), (n, h, w, 1) or (n, h, w, 3)
    labels : int array (n,), the true class of each image
    corruptions : names, subset names or ``"all"`` (None = all, see ``SUBSETS``)
    severities : ints in 1..5; the clean images (severity 0) are always evaluated
    sample : evaluate a fixed stratified random sample of this many images (None = all)
    seed : seed of the sample and of the corruptions (same seed, same images, same numbers)
    batch_size : images per call of a predict function (None = the whole batch at once)
    progress : called after each step with a dict: ``phase`` ("robustness"), ``step``,
        ``steps``, ``corruption``, ``severity``, ``message``

    Returns
    -------
    SweepResult
    """
    fns = _check_models(predict_fns)
    x = check_batch(images, "sweep")
    y = _check_labels(labels, len(x))
    if len(x) == 0:
        raise DataError("sweep got no images; pass at least one labelled image.")
    names = resolve_names(corruptions)
    sev = _check_severities(severities)
    k = _check_sample(sample)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}.")
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool)
                                   or batch_size < 1):
        raise ConfigError(f"batch_size must be None or an int >= 1, got {batch_size!r}.")

    idx = stratified_sample(y, k, seed) if k is not None else np.arange(len(x))
    x, y = x[idx], y[idx]
    steps = [("clean", 0)] + [(c, s) for c in names for s in sev]
    rows = []
    for step, (c, s) in enumerate(steps, 1):
        xc = x if s == 0 else corrupt_batch(x, c, s, seed)
        for m, fn in fns.items():
            acc = float(np.mean(_predict(m, fn, xc, batch_size) == y))
            rows.append((m, c, "clean" if s == 0 else subset_of(c), s, acc, len(y)))
        if progress is not None:
            progress({"phase": "robustness", "step": step, "steps": len(steps), "corruption": c,
                      "severity": s, "message": f"{c} severity {s}" if s else "clean images"})
    table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    return SweepResult(table=table, summary=summarise(table), indices=idx, corruptions=names,
                       severities=sev, seed=int(seed))


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per-model summary of a sweep table (see :class:`SweepResult` ``summary``)."""
    out = []
    subsets = [s for s in SUBSETS if s in set(table["subset"])]
    for m, t in table.groupby("model", sort=False):
        clean = float(t.loc[t["severity"] == 0, "accuracy"].mean())
        cor = t[t["severity"] > 0]
        mca = float(cor["accuracy"].mean())
        by_c = cor.groupby("corruption", sort=False)["accuracy"].mean()
        row = {"model": m, "clean": clean, "mCA": mca,
               "relative_drop": (clean - mca) / clean if clean > 0 else float("nan"),
               "worst": str(by_c.idxmin()) if len(by_c) else None}
        for s in subsets:
            row[s] = float(cor.loc[cor["subset"] == s, "accuracy"].mean())
        out.append(row)
    return pd.DataFrame(out)
