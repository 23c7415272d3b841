"""Model cards: the figures that describe a trained model or ensemble, computed, stored and shown.

A card is ``card.json`` (figures and facts, machine-readable) and ``card.md`` (the same rendered
for people) beside the model. Its figures come from :func:`card_figures`, which predicts a test
split with the model and scores it; a test recomputes them from the shipped weights so the card
cannot drift from the model.

>>> figures = card_figures(model, dataset, tta="flip")                    # doctest: +SKIP
>>> write_card(folder, {"id": "fer2013-fernet", "recipe": "..."}, figures)  # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .io import atomic_write_json, atomic_write_text

CARD_JSON, CARD_MD = "card.json", "card.md"

#: What every FER2013-trained card says about its limits.
FER2013_LIMITS: tuple[str, ...] = (
    "Trained on FER2013: 48x48 greyscale web-image faces, mostly frontal, cropped by a detector; "
    "photos are converted to that (detected, cropped, greyscale, 48x48) before classification, so "
    "framing, head pose, resolution and colour cues beyond it are lost.",
    "Label noise: FER2013's labels agree with the FER+ crowd majority on only about 65% of images "
    "(fear and disgust worst), which caps what any model can score against them.",
    "Who is represented: faces gathered by Google image search for emotion keywords in 2013; the "
    "dataset records no age, gender or ethnicity, so accuracy on any group is unknown. Posed and "
    "exaggerated expressions are over-represented; subtle, spontaneous and non-Western expressions "
    "of emotion, children, and faces with glasses, masks or heavy occlusion are under-represented.",
    "Seven basic-emotion categories only; an expression is not a felt emotion, and this model must "
    "not be used to make decisions about people.",
    "Licence: FER2013 (Goodfellow et al., ICML 2013 challenge) is distributed for research use; "
    "these weights inherit that restriction. FER+ votes: MIT licence (Microsoft).",
)


def card_figures(model: Any, ds: Any, split: str = "test", tta: str | Sequence[str] | None = None, *,
                 n_bootstrap: int = 1000, seed: int = 0, progress=None) -> dict[str, Any]:
    """Score ``model`` (Keras model or Ensemble) on ``ds.split(split)`` for a card.

    Returns
    -------
    dict with ``n``, ``accuracy``, ``accuracy_ci``, ``macro_f1``, ``macro_f1_ci`` (95% percentile
    bootstrap), ``per_class_f1``, ``confusion`` ({"classes", "counts"}), ``ece``,
    ``ferplus_agreement`` (share of images with FER+ votes whose predicted class is the FER+
    majority; None without votes), ``train_twins`` (accuracy with and without the images that have
    a pixel-identical twin in the train split, :func:`~fer_core.evaluation.leakage.leakage_figures`;
    None without a train split), ``tta``, ``split`` and ``dataset``.
    """
    from .evaluation import evaluate_model
    from .evaluation.leakage import train_twins

    report = evaluate_model(model, ds, split, tta=tta, n_bootstrap=n_bootstrap, seed=seed, progress=progress)
    return report_figures(report, ds.split(split), train_twins(ds, split))


def report_figures(report: Any, part: Any, twins: np.ndarray | None = None) -> dict[str, Any]:
    """The card figures of an :class:`~fer_core.evaluation.EvalReport` of ``part`` (the split it scored),
    for a caller that also keeps the report's probabilities (see :func:`card_figures`); ``twins``:
    which images of ``part`` have a pixel-identical twin in the train split
    (:func:`~fer_core.evaluation.leakage.train_twins`)."""
    from .evaluation.leakage import leakage_figures

    split = report.meta.get("split")
    agreement = None
    if part.soft_labels is not None and report.n == len(part):
        has = part.soft_labels.sum(axis=1) > 0
        if part.not_face is not None:
            has &= ~part.not_face
        if has.any():
            agreement = float((report.y_pred[has] == part.soft_labels[has].argmax(axis=1)).mean())
    return {
        "dataset": report.meta.get("dataset"), "split": split, "tta": report.meta.get("tta"), "n": int(report.n),
        "accuracy": float(report.accuracy), "accuracy_ci": [float(v) for v in report.ci["accuracy"]],
        "macro_f1": float(report.macro_f1), "macro_f1_ci": [float(v) for v in report.ci["macro_f1"]],
        "per_class_f1": {str(c): float(v) for c, v in report.per_class["f1"].items()},
        "confusion": {"classes": [str(c) for c in report.confusion.columns],
                      "counts": report.confusion.to_numpy().astype(int).tolist()},
        "ece": float(report.ece), "ferplus_agreement": agreement,
        "train_twins": (leakage_figures(report.y_true, report.y_pred, twins)
                        if twins is not None and report.n == len(part) else None),
        "n_bootstrap": int(report.n_bootstrap), "seed": int(report.seed),
    }


def latency_per_face(model: Any, runtimes: Sequence[str] = ("keras", "onnx", "tflite"), *, repeats: int = 50,
                     workdir: str | Path | None = None) -> dict[str, float | str]:
    """Median milliseconds to classify one 48x48 face, per runtime (warm; no detection).

    A runtime that cannot run here (export failure, missing package) maps to the reason as a
    string instead of a number. Timings are for the machine this runs on. An :class:`~fer_core.evaluation.Ensemble`
    is timed whole, every member and TTA view, in Keras only.
    """
    import tempfile

    from .evaluation import is_ensemble, model_input_shape, to_model_input

    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (1, 48, 48), dtype=np.uint8)
    ensemble = is_ensemble(model)
    x = face if ensemble else to_model_input(face, model_input_shape(model))
    out: dict[str, float | str] = {}
    for rt in runtimes:
        try:
            if ensemble:
                if rt != "keras":
                    raise ValueError("an ensemble is timed in Keras only (its members export one by one)")
                fn = model.predict_probs
            elif rt == "keras":
                fn = model.predict_on_batch
            else:
                from .export import ExportedModel, export_model

                folder = Path(workdir or tempfile.mkdtemp(prefix="fer_latency_"))
                path = export_model(model, rt, folder / f"model.{'onnx' if rt == 'onnx' else 'tflite'}")
                fn = ExportedModel(path).predict_on_batch
            fn(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(x)
                times.append(time.perf_counter() - t0)
            out[rt] = round(1000.0 * float(np.median(times)), 3)
        except Exception as exc:  # a runtime that cannot run here is reported, not fatal
            out[rt] = f"unavailable: {exc}"
    return out


def render_card(card: Mapping[str, Any]) -> str:
    """``card.md`` text for a card dict (as written by :func:`write_card`)."""
    from .evaluation.leakage import format_leakage

    f = card.get("figures") or {}
    lines = [f"# {card.get('title') or card.get('id')}", ""]
    if card.get("summary"):
        lines += [str(card["summary"]), ""]
    facts = [("id", card.get("id")), ("kind", card.get("kind")), ("architecture", card.get("architecture")),
             ("members", ", ".join(card.get("members") or []) or None), ("parameters", card.get("parameters")),
             ("weights file", card.get("weights_file")),
             ("weights storage", card.get("weights_storage")), ("training data", card.get("training_data")),
             ("recipe", card.get("recipe")), ("config", card.get("config")), ("epochs", card.get("epochs")),
             ("training time", card.get("training_time")), ("machine", card.get("machine"))]
    lines += ["| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in facts if v not in (None, "")] + [""]
    if f:
        pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
        lines += [f"## {f.get('dataset')}, split {f.get('split')!r} ({f.get('n')} faces, TTA {f.get('tta')})", "",
                  f"- accuracy **{pct(f['accuracy'])}** (95% CI {pct(f['accuracy_ci'][0])}–{pct(f['accuracy_ci'][1])})",
                  f"- macro-F1 **{f['macro_f1']:.3f}** (95% CI {f['macro_f1_ci'][0]:.3f}–{f['macro_f1_ci'][1]:.3f})",
                  f"- expected calibration error {f['ece']:.3f}"]
        if f.get("ferplus_agreement") is not None:
            lines.append(f"- agreement with the FER+ majority vote {pct(f['ferplus_agreement'])}")
        if f.get("train_twins"):
            lines.append(f"- train twins: {format_leakage(f['train_twins'])}")
        lines += ["", "| class | F1 |", "| --- | ---: |"]
        lines += [f"| {c} | {v:.3f} |" for c, v in f["per_class_f1"].items()]
        cls = f["confusion"]["classes"]
        lines += ["", "Confusion matrix (rows: true class, columns: predicted):", "",
                  "| | " + " | ".join(cls) + " |", "| --- |" + " ---: |" * len(cls)]
        lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |"
                  for c, row in zip(cls, f["confusion"]["counts"])]
        lines.append("")
    lat = card.get("latency_ms")
    if lat:
        lines += ["## Latency per face (ms, median, warm, classification only)", ""]
        lines += [f"- {k}: {v}" for k, v in lat.items()]
        if card.get("latency_machine"):
            lines.append(f"- measured on: {card['latency_machine']}")
        lines.append("")
    if card.get("limits"):
        lines += ["## Limits", ""] + [f"- {x}" for x in card["limits"]] + [""]
    return "\n".join(lines)


def write_card(folder: str | Path, card: Mapping[str, Any]) -> Path:
    """Write ``card.json`` and ``card.md`` into ``folder`` (atomically); returns the JSON path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / CARD_JSON, dict(card))
    atomic_write_text(folder / CARD_MD, render_card(card))
    return folder / CARD_JSON
