"""Evaluate a model or an ensemble on one split of a dataset, across datasets too.

>>> report = evaluate_model(model, load_dataset("ckplus/"), split="test", tta="flip")  # doctest: +SKIP
>>> report.unpredictable            # {"contempt": 18}: images the 7-class model cannot predict

When the dataset's classes differ from the model's, :func:`~.metrics.align_labels` maps them by
name: images of classes the model has no output for are counted in ``report.unpredictable`` and
left out of the scores (never silently dropped); model classes the dataset lacks simply have
support 0, and predictions into them count as errors.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import CLASSES
from ..errors import ConfigError, DataError
from .alignment import align_labels
from .metrics import evaluate_probs
from .report import EvalReport
from .predict import Progress, num_classes, parse_tta, predict_probs

__all__ = ["evaluate_model", "model_classes"]


def model_classes(model: Any, data_classes: Sequence[str] | None = None,
                  classes: Sequence[str] | None = None) -> tuple[str, ...]:
    """The class names of a model's outputs.

    In order: ``classes`` if given; the model's own ``classes`` attribute (an Ensemble's); the
    dataset's classes when their number matches the outputs; the canonical seven for a 7-output
    model. Otherwise a ConfigError asks for ``classes=``.
    """
    C = num_classes(model)
    for candidate in (classes, getattr(model, "classes", None)):
        if candidate is not None:
            names = tuple(str(c) for c in candidate)
            if C is not None and len(names) != C:
                raise ConfigError(f"Got {len(names)} class names {list(names)} for a model with {C} outputs.")
            return names
    if C is None:
        raise ConfigError("Cannot tell the model's number of outputs; pass classes=[...] (its class names in "
                          "output order).")
    if data_classes is not None and len(data_classes) == C:
        return tuple(data_classes)
    if C == len(CLASSES):
        return CLASSES
    raise ConfigError(f"The model has {C} outputs but the dataset has {len(data_classes or ())} classes; pass "
                      "classes=[...] with the model's class names in output order.")


def evaluate_model(
    model: Any,
    ds: Any,
    split: str = "test",
    tta: str | Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    *,
    batch_size: int = 256,
    n_bootstrap: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    name: str | None = None,
) -> EvalReport:
    """Predict ``ds.split(split)`` with ``model`` and score it.

    Parameters
    ----------
    model : a Keras model or an :class:`~fer_core.evaluation.ensemble.Ensemble`
    ds : a :class:`~fer_core.data.FERDataset`
    split : ``"train"``, ``"val"`` or ``"test"``
    tta : test-time augmentation (None: the model's own; see :func:`predict_probs`)
    classes : the model's class names in output order (see :func:`model_classes` for the default)
    batch_size, progress : passed to :func:`predict_probs`
    n_bootstrap, seed : passed to :func:`evaluate_probs`
    name : the model's name in the report (default: the model's ``name``)

    Returns
    -------
    EvalReport with ``sources``, ``unpredictable`` (images of classes the model cannot predict,
    per data class) and ``meta`` (model, dataset, split, tta, synthetic).
    """
    part = ds.split(split)
    if len(part) == 0:
        raise DataError(f"{ds.display_name} has no images in the {split!r} split; available splits: "
                        f"{ds.available_splits()}.")
    names = model_classes(model, ds.classes, classes)
    y, keep, unpredictable = align_labels(part.labels, part.classes, names)
    if not keep.any():
        raise DataError(f"None of the {len(part)} {split} images of {ds.display_name} has a class the model can "
                        f"predict (model classes {list(names)}, dataset classes {list(part.classes)}).")
    if tta is not None:
        parse_tta(tta)
    probs = predict_probs(model, part.images[keep], batch_size=batch_size, tta=tta, progress=progress)
    if probs.shape[1] != len(names):
        raise DataError(f"The model returned {probs.shape[1]} probabilities per image for {len(names)} classes "
                        f"{list(names)}.")
    used_tta = tta if tta is not None else getattr(model, "tta", "none")
    meta = {"name": name or getattr(model, "name", None) or type(model).__name__, "dataset": ds.display_name,
            "split": split, "tta": used_tta, "synthetic": bool(ds.synthetic)}
    return evaluate_probs(y, probs, names, n_bootstrap=n_bootstrap, seed=seed, sources=part.sources[keep],
                          unpredictable=unpredictable, meta=meta)
