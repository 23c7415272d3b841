"""Robustness: image corruptions at five severities, what-if edits, sweeps and augmentation.

- :mod:`.corruptions` - the registry (:data:`CORRUPTIONS`, :data:`SUBSETS`), :func:`corrupt`,
  :func:`corrupt_batch`
- :mod:`.whatif` - :class:`WhatIf` slider values, :func:`apply_whatif`, :func:`whatif_predict`
- :mod:`.sweep` - :func:`sweep` over models x corruptions x severities -> :class:`SweepResult`
- :mod:`.augment` - :func:`augment_batch` / :func:`make_augmenter` for training
- :mod:`.occluders`, :mod:`.ops` - the drawing and image operations they share

Pure numpy/OpenCV: nothing here imports TensorFlow; models come in as ``predict_fn`` callables.
"""
from __future__ import annotations

from .augment import augment_batch, make_augmenter
from .corruptions import (CORRUPTIONS, MAX_SEVERITY, SUBSETS, corrupt, corrupt_batch, describe,
                          resolve_names, subset_of)
from .sweep import SweepResult, stratified_sample, sweep
from .whatif import OCCLUSIONS, WhatIf, apply_whatif, whatif_predict

__all__ = [
    "CORRUPTIONS", "MAX_SEVERITY", "OCCLUSIONS", "SUBSETS", "SweepResult", "WhatIf", "apply_whatif",
    "augment_batch", "corrupt", "corrupt_batch", "describe", "make_augmenter", "resolve_names",
    "stratified_sample", "subset_of", "sweep", "whatif_predict",
]
