"""Continuous "what if" image edits for the dashboard's sliders, and a prediction on the result.

:class:`WhatIf` holds one value per slider; its defaults change nothing. The edits are applied in
the order light meets a camera: the occluder (part of the scene), rotation (camera roll), blur
(optics), brightness, contrast and gamma (exposure and tone), noise (sensor), JPEG (storage).
A 48x48 image takes well under a millisecond with every knob on (see
``experiments/bench/robustness_speed.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError, DataError
from . import occluders, ops
from .corruptions import check_image, make_rng

__all__ = ["OCCLUSIONS", "WhatIf", "apply_whatif", "check_whatif", "whatif_predict"]

#: Occluders a WhatIf can place.
OCCLUSIONS: tuple[str, ...] = ("eye_band", "lower_face", "patch", "hand")


@dataclass
class WhatIf:
    """Slider values of the what-if panel; the defaults leave the image unchanged.

    Attributes
    ----------
    brightness : -1..1, light added (or removed) as a fraction of 255
    gamma : 0.1..10, tone-curve exponent (> 1 darkens mid-tones, < 1 lifts them)
    contrast : 0..3, factor on deviations from the image's mean colour (< 1 flattens)
    noise : 0..255, standard deviation of Gaussian noise in grey levels
    blur : 0..20, Gaussian blur sigma in pixels
    jpeg_quality : 1..100, JPEG quality (100 = no compression)
    rotation : -180..180, degrees, positive = counter-clockwise as displayed
    occlusion : None or one of :data:`OCCLUSIONS`
    occlusion_x, occlusion_y : 0..1, centre of a "patch" or "hand" (fractions of width, height)
    occlusion_size : 0..1, fraction of the image side covered: the patch's side, the hand's
        width, the eye band's height, or how far the face mask reaches up from the chin
    """

    brightness: float = 0.0
    gamma: float = 1.0
    contrast: float = 1.0
    noise: float = 0.0
    blur: float = 0.0
    jpeg_quality: int = 100
    rotation: float = 0.0
    occlusion: str | None = None
    occlusion_x: float = 0.5
    occlusion_y: float = 0.5
    occlusion_size: float = 0.3

    def is_identity(self) -> bool:
        """True when applying these values leaves every image unchanged."""
        return (self.brightness == 0 and self.gamma == 1 and self.contrast == 1 and self.noise == 0
                and self.blur == 0 and self.jpeg_quality >= 100 and self.rotation == 0
                and (self.occlusion is None or self.occlusion_size == 0))


_RANGES: dict[str, tuple[float, float]] = {
    "brightness": (-1.0, 1.0), "gamma": (0.1, 10.0), "contrast": (0.0, 3.0), "noise": (0.0, 255.0),
    "blur": (0.0, 20.0), "jpeg_quality": (1, 100), "rotation": (-180.0, 180.0),
    "occlusion_x": (0.0, 1.0), "occlusion_y": (0.0, 1.0), "occlusion_size": (0.0, 1.0),
}


def check_whatif(params: Any) -> WhatIf:
    """Return ``params`` if every field is in range, else raise ConfigError naming the field."""
    if not isinstance(params, WhatIf):
        raise ConfigError(
            f"params must be a WhatIf, got {type(params).__name__}; build one with WhatIf(brightness=0.2, ...)."
        )
    for f in fields(WhatIf):
        v = getattr(params, f.name)
        if f.name == "occlusion":
            if v is not None and v not in OCCLUSIONS:
                raise ConfigError(f"WhatIf.occlusion must be None or one of {OCCLUSIONS}, got {v!r}.")
            continue
        lo, hi = _RANGES[f.name]
        integral = f.name == "jpeg_quality"
        ok_type = isinstance(v, (int, np.integer)) if integral else isinstance(v, (int, float, np.integer, np.floating))
        # compared as they are: float(10**400) overflows; NaN fails the comparison, infinities the range
        if isinstance(v, (bool, np.bool_)) or not ok_type or not lo <= v <= hi:
            kind = "an int" if integral else "a number"
            raise ConfigError(f"WhatIf.{f.name} must be {kind} in [{lo}, {hi}], got {v!r}.")
    return params


def apply_whatif(image: np.ndarray, params: WhatIf, seed: int = 0) -> np.ndarray:
    """Apply the slider values ``params`` to one image.

    Parameters
    ----------
    image : uint8 array of shape (h, w) or (h, w, 3) (also (h, w, 1))
    params : a :class:`WhatIf`
    seed : int >= 0; fixes the noise field and the hand's skin tone

    Returns
    -------
    uint8 array of the input's shape (a copy, also when nothing changes)
    """
    img = check_image(image, "apply_whatif")
    p = check_whatif(params)
    rng = make_rng(seed, "whatif")
    x = img.astype(np.float32).reshape(1, img.shape[0], img.shape[1], -1)
    tone = rng.random()  # drawn first and always, so the noise field does not depend on the occluder
    if p.occlusion is not None and p.occlusion_size > 0:
        x = _occlude(x, p, tone)
    if p.rotation != 0:
        x = ops.rotate(x, np.array([p.rotation]))
    if p.blur > 0:
        x = ops.gaussian_blur(x, p.blur)
    if p.brightness != 0:
        x = np.clip(x + np.float32(255.0 * p.brightness), 0.0, 255.0)
    if p.contrast != 1:
        x = np.clip(ops.contrast(x, p.contrast), 0.0, 255.0)
    if p.gamma != 1:
        x = ops.gamma(x, p.gamma)
    if p.noise > 0:
        x = x + np.float32(p.noise) * rng.standard_normal(x.shape, dtype=np.float32)
    if p.jpeg_quality < 100:
        x = ops.jpeg(x, int(p.jpeg_quality))
    return np.clip(np.rint(x[0]), 0, 255).astype(np.uint8).reshape(img.shape)


def _occlude(x: np.ndarray, p: WhatIf, tone: float) -> np.ndarray:
    s = p.occlusion_size
    if p.occlusion == "eye_band":
        return occluders.eye_band(x, s, 0.86, 1.0)
    if p.occlusion == "lower_face":
        return occluders.lower_face(x, 0.95 - s)
    if p.occlusion == "patch":
        return occluders.grey_patch(x, p.occlusion_x, p.occlusion_y, s)
    return occluders.hand(x, p.occlusion_x, p.occlusion_y, s, angle=0.0, tone=tone)


def whatif_predict(
    predict_fn: Callable[[np.ndarray], Any], image: np.ndarray, params: WhatIf, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``params`` to ``image`` and predict on the result.

    Parameters
    ----------
    predict_fn : callable taking a uint8 batch (n, h, w[, c]) and returning probabilities (n, C);
        wrap Keras models with ``predict_on_batch`` or a ``tf.function`` (not ``model.predict``,
        which costs ~85 ms per call)
    image, params, seed : as in :func:`apply_whatif`

    Returns
    -------
    (edited image, uint8 of the input's shape; probabilities, float array of shape (C,))
    """
    if not callable(predict_fn):
        raise ConfigError(f"predict_fn must be callable (images -> probabilities), got {type(predict_fn).__name__}.")
    edited = apply_whatif(image, params, seed)
    raw = predict_fn(edited[None])
    try:
        probs = np.asarray(raw)
    except ValueError:  # nested lists of different lengths
        probs = np.empty(0, dtype=object)
    if probs.dtype.kind not in "iuf" or probs.ndim != 2 or probs.shape[0] != 1 or probs.shape[1] < 1:
        raise DataError(
            "predict_fn must return numeric probabilities of shape (1, n_classes) for one image, got "
            f"shape {probs.shape} ({type(raw).__name__} of dtype {probs.dtype})."
        )
    return edited, probs[0].astype(np.float64)
