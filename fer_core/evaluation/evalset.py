"""The images a run was scored on: its ``predictions.npz`` matched back to its dataset's pixels."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np

from ..data import FERDataset
from ..errors import ConfigError, FERError
from ..runs import Run, RunStore


def save_predictions(path, probs: np.ndarray, labels: np.ndarray, sources, classes, split: str) -> None:
    """Write a run's ``predictions.npz`` atomically: probs (n, C), labels, sources, classes, split."""
    from ..io import atomic_write_npz

    atomic_write_npz(path, probs=np.asarray(probs, np.float32), labels=np.asarray(labels).astype(np.int64),
                     sources=np.asarray(sources).astype(str), classes=np.asarray(classes, dtype=str),
                     split=np.asarray(split))


@dataclass
class EvalSet:
    """The images a run was scored on (its ``predictions.npz``), with their pixels.

    images : uint8 (n, h, w[, 3]); labels : int (n,); sources : str (n,); classes; split;
    dataset : display name; synthetic : bool
    """

    images: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    classes: tuple[str, ...]
    split: str
    dataset: str
    synthetic: bool

    def describe(self, index: int | None = None) -> str:
        """``"synthetic (generated faces), test split, image #3 (src), true class sad"``."""
        kind = "generated faces" if self.synthetic else "real images"
        where = f"{self.dataset} ({kind}), {self.split} split"
        if index is None:
            return where
        return f"{where}, image #{index} ({self.sources[index]}), true class {self.classes[self.labels[index]]}"


def load_config_data(data: Mapping[str, Any]) -> FERDataset:
    """The dataset a run's ``[data]`` configuration table describes (unknown keys ignored)."""
    from ..training.config import DataSpec, TrainConfig
    from ..training.prepare import load_for_config

    spec = DataSpec(**{f.name: data[f.name] for f in fields(DataSpec) if f.name in data})
    return load_for_config(TrainConfig(name="evalset", data=spec))


def eval_set(predictions: Mapping[str, Any], ds: FERDataset) -> EvalSet:
    """The images of ``predictions`` (a run's ``predictions.npz``) taken from ``ds`` by source id.

    Raises FERError when an image is no longer in the dataset (the data changed since training).
    """
    sources = np.asarray(predictions["sources"]).astype(str)
    pos = {s: i for i, s in enumerate(ds.sources)}
    idx = np.array([pos.get(s, -1) for s in sources], dtype=np.int64)
    if len(idx) == 0 or (idx < 0).any():
        raise FERError(f"{int((idx < 0).sum())} of the run's {len(idx)} test images are no longer in its dataset "
                       f"{ds.display_name}; the data changed since training.")
    return EvalSet(images=ds.images[idx], labels=np.asarray(predictions["labels"]).astype(np.int64), sources=sources,
                   classes=tuple(str(c) for c in predictions["classes"]),
                   split=str(predictions.get("split", "test")), dataset=ds.display_name, synthetic=bool(ds.synthetic))


def run_eval_set(run: Run) -> EvalSet:
    """The test images of a run, in the order of its predictions (dataset reloaded from its config)."""
    return eval_set(run.predictions(), load_config_data(run.config().get("data") or {}))


def run_report(run: Run) -> Any:
    """EvalReport of a run's saved test predictions (95% bootstrap CIs recomputed)."""
    from . import evaluate_predictions

    return evaluate_predictions(run.predictions(), meta={"name": run.name, "model": run.model, "dataset": run.dataset})


def check_ensemble_members(refs: list[str], store: Any = None) -> tuple[list[Run], tuple[str, ...]]:
    """The runs (or bundled models) *refs* name and the classes they share, ready for
    :func:`~fer_core.evaluation.save_ensemble`; ConfigError unless they are two or more different
    single models that recorded the same classes with their test predictions."""
    from ..inference import run_classes

    if len(refs) < 2 or len(set(refs)) < len(refs):
        raise ConfigError("an ensemble needs two or more different members (run ids or bundled ids).")
    store = store or RunStore()
    runs = [store.get(r) for r in refs]
    if nested := [r.id for r in runs if r.model == "ensemble"]:
        raise ConfigError(f"{', '.join(nested)} {'is an ensemble' if len(nested) == 1 else 'are ensembles'}; "
                          "an ensemble's members are single models: give its members instead.")
    classes = {run_classes(r.path) for r in runs}
    if len(classes) > 1 or None in classes:
        raise ConfigError("the members do not all record the same classes with their test predictions (an unfinished "
                          "run, or runs on different classes); an ensemble needs members with the same classes.")
    return runs, classes.pop()


def score_ensemble(ensemble: Any, es: EvalSet, dataset: str | None = None) -> Any:
    """EvalReport of an ensemble on an evaluation set (with the ensemble's own TTA), e.g. its first
    member's test images (:func:`run_eval_set`)."""
    from . import evaluate_probs, predict_probs

    probs = predict_probs(ensemble, es.images)
    return evaluate_probs(es.labels, probs, es.classes, sources=es.sources,
                          meta={"name": ensemble.name, "dataset": dataset or es.dataset, "split": es.split,
                                "tta": ensemble.tta})


def confident_mistakes(report: Any, es: EvalSet, k: int = 8) -> list[tuple[int, str, int]]:
    """The ``k`` most confident wrong predictions of ``report`` on ``es``: (image index, caption,
    index of the predicted class in ``report.classes``)."""
    from . import most_confident_mistakes

    pos = {s: i for i, s in enumerate(es.sources)}
    classes = list(report.classes)
    out = []
    for _, row in most_confident_mistakes(report.per_image(), k=k).iterrows():
        if (i := pos.get(row["source"])) is not None:
            out.append((i, f"#{i} true {row['true']} → {row['pred']} ({row['confidence']:.0%})",
                        classes.index(row["pred"])))
    return out
