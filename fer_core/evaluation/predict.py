"""Class probabilities of a model (or an ensemble) on a batch of faces, with test-time augmentation.

>>> probs = predict_probs(model, ds.images, tta="flip")     # doctest: +SKIP

Images are converted to what the model's input wants (size, grey/RGB, float32 0..255 with a
channel axis) and fed with ``model.predict_on_batch`` batch by batch: ``model.predict`` costs
about 85 ms per call, far too much for the dashboard's interactive paths.

Test-time augmentation (TTA): the modes and view names are in :mod:`fer_core.tta`; this module
applies the views (:func:`augment`) to model-ready images and averages the probabilities.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..data.images import resize_batch, to_grey, to_rgb
from ..errors import ConfigError, DataError
from ..tta import (CROP_FRACTION, CROPS, SHIFT_PX, SPREAD_PAIRS, TTA_HELP, TTA_MODES, parse_tta,  # noqa: F401
                   tta_views)

__all__ = ["SHIFT_PX", "SPREAD_PAIRS", "TTA_HELP", "TTA_MODES", "augment", "member_views", "model_input_shape",
           "num_classes", "parse_tta", "predict_probs", "predict_views", "to_model_input", "tta_views", "view_batch",
           "mean_over_views"]

Progress = Callable[[int, int], None]


# -- TTA -------------------------------------------------------------------------------------
def member_views(tta: str | Sequence[str] | None, k: int) -> list[str]:
    """The views member ``k`` of an ensemble averages over: pair ``k mod 6`` of :data:`SPREAD_PAIRS`
    for ``"spread"``, else every member sees :func:`tta_views`."""
    if "spread" in parse_tta(tta):
        return list(SPREAD_PAIRS[k % len(SPREAD_PAIRS)])
    return tta_views(tta)


def augment(x: np.ndarray, view: str) -> np.ndarray:
    """One TTA view of a batch ``x`` of shape (n, h, w[, c]) (any dtype); see :func:`tta_views`."""
    if view == "identity":
        return x
    if view == "flip":
        return np.ascontiguousarray(x[:, :, ::-1])
    if view.startswith("shift(") and view.endswith(")"):
        dy, dx = (int(v) for v in view[6:-1].split(","))
        pad = [(0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))] + [(0, 0)] * (x.ndim - 3)
        padded = np.pad(x, pad, mode="edge")
        y0, x0 = max(-dy, 0), max(-dx, 0)
        return np.ascontiguousarray(padded[:, y0:y0 + x.shape[1], x0:x0 + x.shape[2]])
    if view.startswith("crop(") and view.endswith(")"):
        where, _, mirror = view[5:-1].partition(",")
        if where in CROPS and mirror in ("", "flip"):
            return _crop(x[:, :, ::-1] if mirror else x, where)
    raise ConfigError(f"Unknown TTA view {view!r}; expected one of tta_views(...).")


def _crop(x: np.ndarray, where: str) -> np.ndarray:
    """The ``where`` crop of :data:`CROP_FRACTION` of each side, resized back (bilinear)."""
    import cv2

    h, w = x.shape[1:3]
    ch, cw = max(1, round(h * CROP_FRACTION)), max(1, round(w * CROP_FRACTION))
    y0 = {"top": 0, "bottom": h - ch}.get(where.split("-")[0], (h - ch) // 2)
    x0 = {"left": 0, "right": w - cw}.get(where.split("-")[-1], (w - cw) // 2)
    out = np.empty_like(x)
    for i, im in enumerate(x[:, y0:y0 + ch, x0:x0 + cw]):
        out[i] = cv2.resize(np.ascontiguousarray(im), (w, h), interpolation=cv2.INTER_LINEAR).reshape(out.shape[1:])
    return out


# -- model input -----------------------------------------------------------------------------
def model_input_shape(model: Any) -> tuple[int | None, int | None, int | None]:
    """(height, width, channels) a Keras-like model expects (None where it accepts any)."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ConfigError(f"predict_probs needs a model with one image input, got {len(shape)} inputs "
                              f"{shape}.")
        shape = shape[0]
    if shape is None or len(shape) != 4:
        raise ConfigError(f"predict_probs needs a model whose input is (batch, height, width, channels), got "
                          f"input_shape={shape!r}.")
    h, w, c = (None if v is None else int(v) for v in shape[1:])
    if c not in (None, 1, 3):
        raise ConfigError(f"predict_probs supports models with 1 or 3 input channels, got {c}.")
    return h, w, c


def num_classes(model: Any) -> int | None:
    """Output classes of a model or ensemble (``num_classes`` attribute, else ``output_shape[-1]``)."""
    n = getattr(model, "num_classes", None)
    if n is not None:
        return int(n)
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], (int, np.integer)):
        return int(shape[-1])
    return None


def check_images(images: Any, caller: str = "predict_probs") -> np.ndarray:
    """Validate a batch of faces; return uint8 (n, h, w) or (n, h, w, 3).

    A (n, h, w, 1) batch is squeezed; numeric non-uint8 pixels must lie in 0..255 and are
    rounded to uint8.
    """
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3):
        hint = " For one image pass images[None]." if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 3) else ""
        raise DataError(f"{caller}: expected images of shape (n, h, w) greyscale or (n, h, w, 3) RGB, got "
                        f"shape {x.shape}.{hint}")
    if x.dtype == np.uint8:
        return x
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{caller}: images must be uint8 pixels 0..255, got dtype {x.dtype}.")
    if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 255):
        lo, hi = np.nanmin(x), np.nanmax(x)
        raise DataError(f"{caller}: images must hold pixel values 0..255, got {x.dtype} values in "
                        f"[{lo:.4g}, {hi:.4g}]{' (or NaN/inf)' if not np.isfinite(x).all() else ''}. "
                        "If they are scaled to 0..1, multiply by 255 first.")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def to_model_input(images: np.ndarray, input_shape: tuple[int | None, int | None, int | None], *,
                   dtype: Any = np.float32) -> np.ndarray:
    """uint8 faces (n, h, w[, 3]) -> (n, H, W, C) pixels 0..255 for a model input (H, W, C).

    A None in ``input_shape`` keeps that size (or the channels) as they are. ``dtype`` float32
    feeds a model; uint8 keeps training arrays four times smaller.
    """
    h, w, c = input_shape
    x = images
    if c == 1:
        x = to_grey(x)
    if h is not None or w is not None:
        size = (h or x.shape[1], w or x.shape[2])
        x = resize_batch(x, size)
    if c == 3:
        x = to_rgb(x)
    if x.ndim == 3:
        x = x[..., None]
    return x.astype(dtype, copy=False)


def view_batch(x: np.ndarray, views: Sequence[str]) -> np.ndarray:
    """The TTA views of model-ready images ``x`` stacked view by view: shape (len(views) * n, ...)."""
    return np.concatenate([augment(x, v) for v in views]) if len(views) > 1 else augment(x, views[0])


def mean_over_views(out: Any, n_views: int, n: int) -> np.ndarray:
    """Per-image mean of a model's output on :func:`view_batch` images, float32 (n, n_classes)."""
    out = np.asarray(out, dtype=np.float64)
    if out.ndim != 2 or len(out) != n_views * n:
        raise DataError(f"predict_probs: the model returned shape {out.shape} for {n_views * n} images; "
                        "expected (n, n_classes) probabilities.")
    return out.reshape(n_views, n, -1).mean(axis=0).astype(np.float32)


# -- prediction ------------------------------------------------------------------------------
def predict_probs(
    model: Any,
    images: Any,
    *,
    batch_size: int = 256,
    tta: str | Sequence[str] | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Class probabilities of ``model`` on ``images``.

    Parameters
    ----------
    model : a Keras model (``input_shape`` and ``predict_on_batch``; saved FER Studio models take
        float32 pixels 0..255), or anything with a ``predict_probs(images, batch_size=, tta=,
        progress=)`` method such as :class:`~fer_core.evaluation.ensemble.Ensemble`
    images : uint8 array of shape (n, h, w) greyscale or (n, h, w, 3) RGB; converted to the model's
        input size and channels
    batch_size : images per ``predict_on_batch`` call, TTA views included (with 2 views, 128 faces
        in 2 views each make one call of 256)
    tta : ``"none"``, ``"flip"``, ``"shift"``, ``"tencrop"`` or a list of them (see the module docstring). ``None``
        means the model's own default: an ensemble's ``tta``, no TTA for a plain model
    progress : called as ``progress(images_done, images_total)`` after every batch

    Returns
    -------
    probs : float32 array of shape (n, n_classes)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"predict_probs: batch_size must be an int >= 1, got {batch_size!r}.")
    if hasattr(model, "predict_probs"):
        probs = model.predict_probs(images, batch_size=int(batch_size), tta=tta, progress=progress)
        return np.asarray(probs, dtype=np.float32)
    return predict_views(model, images, tta_views(tta), batch_size=batch_size, progress=progress)


def predict_views(model: Any, images: Any, views: Sequence[str], *, batch_size: int = 256,
                  progress: Progress | None = None) -> np.ndarray:
    """A Keras model's probabilities on ``images`` averaged over the named ``views`` (see
    :func:`tta_views` and :func:`member_views`), float32 (n, n_classes); as :func:`predict_probs`."""
    if not hasattr(model, "predict_on_batch"):
        raise ConfigError(f"predict_probs needs a Keras model (with predict_on_batch) or an Ensemble, got "
                          f"{type(model).__name__}.")
    views = list(views)
    if not views:
        raise ConfigError("predict_views needs at least one view, e.g. ['identity'].")
    shape = model_input_shape(model)
    x_all = check_images(images)
    n = len(x_all)
    if n == 0:
        C = num_classes(model)
        if C is None:
            raise DataError("predict_probs: got 0 images and cannot tell the model's number of classes.")
        return np.zeros((0, C), np.float32)
    # every call holds <= batch_size images: step images, each in all its views
    step = max(1, int(batch_size) // len(views))
    chunks = []
    for start in range(0, n, step):
        x = to_model_input(x_all[start:start + step], shape)
        chunks.append(mean_over_views(model.predict_on_batch(view_batch(x, views)), len(views), len(x)))
        if progress is not None:
            progress(min(start + step, n), n)
    return np.concatenate(chunks, axis=0)
