"""Training-time augmentation with the corruptions (pure numpy/OpenCV, no TensorFlow).

Call :func:`augment_batch` from a ``tf.data`` ``numpy_function`` (or any loop) on each training
batch; :func:`make_augmenter` returns such a function holding its own random generator, so each
call corrupts differently while the whole sequence stays reproducible for a seed.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..errors import ConfigError
from .corruptions import MAX_SEVERITY, _run, check_batch, make_rng, resolve_names

__all__ = ["augment_batch", "make_augmenter"]


def _check_p(p: Any) -> float:
    # compared as it is: float(10**400) overflows, and NaN fails the comparison
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
        raise ConfigError(f"p must be a probability in [0, 1] (0.5 corrupts about half the images), got {p!r}.")
    return float(p)


def _check_max_severity(s: Any) -> int:
    if isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and 1 <= s <= MAX_SEVERITY:
        return int(s)
    raise ConfigError(f"max_severity must be an int in 1..{MAX_SEVERITY} (3 is a good default), got {s!r}.")


def augment_batch(
    images: np.ndarray,
    names: str | Iterable[str],
    p: float = 0.5,
    max_severity: int = 3,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Corrupt each image with probability ``p`` by a random corruption from ``names``.

    Each chosen image gets one corruption drawn uniformly from ``names`` at a severity drawn
    uniformly from 1..``max_severity``; images sharing a (corruption, severity) are corrupted in
    one vectorised call.

    Parameters
    ----------
    images : array of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3); uint8, or float holding
        0..255 values (as a training pipeline's float32 batch does)
    names : corruption names, subset names (``"noise"``, ``"occlusion"``, ...) or ``"all"``
    p : probability that an image is corrupted, in [0, 1]
    max_severity : highest severity drawn, 1..5
    seed : int >= 0 for a repeatable result, or a numpy Generator (advanced by the call; pass
        the same Generator on every batch to get fresh corruptions each time)

    Returns
    -------
    array of the input's shape and dtype (float input comes back rounded to whole grey levels)
    """
    x = check_batch(images, "augment_batch", allow_float=True)
    names = resolve_names(names)
    p, top = _check_p(p), _check_max_severity(max_severity)
    rng = make_rng(seed, "augment_batch")
    return _augment(x, names, p, top, rng)


def _augment(x: np.ndarray, names: tuple[str, ...], p: float, top: int, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    hit = rng.random(n) < p
    which = rng.integers(0, len(names), n)
    severity = rng.integers(1, top + 1, n)
    u8 = x if x.dtype == np.uint8 else np.clip(np.rint(x), 0, 255).astype(np.uint8)
    out = u8.copy()
    for k, name in enumerate(names):
        for s in range(1, top + 1):
            idx = np.flatnonzero(hit & (which == k) & (severity == s))
            if len(idx):
                out[idx] = _run(name, u8[idx], s, rng)
    return out if x.dtype == np.uint8 else out.astype(x.dtype)


def make_augmenter(
    names: str | Iterable[str], p: float = 0.5, max_severity: int = 3, seed: int = 0,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``f(images) -> images`` applying :func:`augment_batch` with one Generator.

    Options are checked once, here. Successive calls draw fresh corruptions; the sequence of
    outputs is the same for the same seed and the same sequence of inputs (with a parallel
    ``tf.data`` map the call order, and so the pairing of batches and draws, may vary).
    """
    names = resolve_names(names)
    p, top = _check_p(p), _check_max_severity(max_severity)
    rng = make_rng(seed, "augment_batch")

    def augment(images: np.ndarray) -> np.ndarray:
        return _augment(check_batch(images, "augment", allow_float=True), names, p, top, rng)

    return augment
