"""Evaluation: scores from predicted probabilities, prediction with TTA, ensembles, cross-dataset.

>>> from fer_core.evaluation import evaluate_model, evaluate_probs, predict_probs, Ensemble
>>> probs = predict_probs(model, images, tta="flip")                    # doctest: +SKIP
>>> report = evaluate_probs(labels, probs, CLASSES, sources=sources)    # doctest: +SKIP
>>> print(report.format_text())                                         # doctest: +SKIP

Nothing here imports TensorFlow; loading saved models (:func:`load_ensemble`) does, lazily.
"""
from __future__ import annotations

from .ensemble import (ENSEMBLE_KIND, Ensemble, check_member_ref, is_ensemble, load_ensemble,
                       resolve_member, save_ensemble)
from .evaluate import evaluate_model, model_classes
from .alignment import align_classes, align_labels
from .calibration import ECE_BINS, apply_temperature, expected_calibration_error, fit_temperature
from .checks import check_predictions
from .metrics import evaluate_predictions, evaluate_probs
from .mistakes import confused_pairs, most_confident_mistakes, per_image
from .report import MAX_CURVE_POINTS, EvalReport
from .significance import mcnemar, paired_bootstrap
from .predict import (SHIFT_PX, SPREAD_PAIRS, TTA_HELP, TTA_MODES, augment, member_views, model_input_shape,
                      num_classes, parse_tta, predict_probs, predict_views, to_model_input, tta_views)

__all__ = [
    "ECE_BINS", "ENSEMBLE_KIND", "MAX_CURVE_POINTS", "SHIFT_PX", "SPREAD_PAIRS", "TTA_HELP", "TTA_MODES", "Ensemble",
    "EvalReport", "align_classes", "align_labels", "apply_temperature", "augment", "check_member_ref",
    "check_predictions", "confused_pairs", "evaluate_model", "evaluate_predictions", "evaluate_probs",
    "expected_calibration_error", "fit_temperature", "is_ensemble", "load_ensemble", "mcnemar", "member_views",
    "model_classes", "model_input_shape", "most_confident_mistakes", "num_classes", "paired_bootstrap",
    "parse_tta", "per_image", "predict_probs", "predict_views", "resolve_member", "save_ensemble", "to_model_input",
    "tta_views",
]
