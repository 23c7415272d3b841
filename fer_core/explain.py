"""Where a model looks: Grad-CAM, Grad-CAM++ and occlusion sensitivity, overlaid on the face.

Grad-CAM (Selvaraju et al., 2017) weights the channels of a spatial feature map by the mean
gradient of the class logit; Grad-CAM++ (Chattopadhay et al., 2018) weights them by positive
gradients with pixel-wise coefficients. Both are written on ``tf.GradientTape`` (the
``tf-keras-vis`` package agrees with this but adds a dependency and runs about 10x slower).
The layer defaults to the model's ``cam_features`` marker (every registered model has one, right
after its last spatial conv block, GRU/LSTM hybrids included) and falls back to the last layer
with a spatial 4-D output for other models (:func:`fer_core.models.registry.find_cam_layer`).
Occlusion sensitivity slides a grey patch and records the drop of the class probability: a
model-agnostic check of the CAMs.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from .errors import ConfigError
from .evaluation.ensemble import is_ensemble
from .evaluation.predict import check_images, model_input_shape, predict_probs, to_model_input
from .models.registry import LOGITS_LAYER, find_cam_layer, spatial_layers  # noqa: F401  (re-exported)

METHODS = ("gradcam", "gradcam++", "occlusion")
_EPS = 1e-7


_GRAD_MODELS: dict[tuple[int, str], Any] = {}


def _grad_fn(model: Any, layer: str):
    """A tf.function returning (feature map, class score, d score / d feature map), cached."""
    key = (id(model), layer)
    if key in _GRAD_MODELS:
        return _GRAD_MODELS[key]
    import keras
    import tensorflow as tf

    names = [lay.name for lay in model.layers]
    if layer not in names:
        raise ConfigError(f"Layer {layer!r} is not in model {model.name!r}; choose one of "
                          f"{spatial_layers(model)[-8:]} (spatial layers, last ones shown).")
    use_logits = LOGITS_LAYER in names
    head = model.get_layer(LOGITS_LAYER).output if use_logits else model.outputs[0]
    sub = keras.Model(model.inputs, [model.get_layer(layer).output, head])

    @tf.function(reduce_retracing=True)
    def fn(x, class_idx):
        with tf.GradientTape() as tape:
            fmap, out = sub(x, training=False)
            if not use_logits:  # probabilities only: explain the log-probability
                out = tf.math.log(out + _EPS)
            score = tf.gather(out, class_idx, axis=1, batch_dims=1)
        grads = tape.gradient(score, fmap)
        return fmap, score, grads

    _GRAD_MODELS[key] = fn
    return fn


def gradcam(
    model: Any,
    images: np.ndarray,
    class_index: int | Sequence[int] | None = None,
    *,
    layer: str | None = None,
    plus: bool = False,
) -> np.ndarray:
    """Grad-CAM (or Grad-CAM++ with ``plus=True``) heatmaps at the images' own resolution.

    Parameters
    ----------
    model : a Keras model (FER Studio models take raw pixels 0..255)
    images : uint8 array (n, h, w) or (n, h, w, 3); one image (h, w[, 3]) is accepted too
    class_index : the class to explain, per image or one for all; ``None`` = the predicted class
    layer : the feature-map layer (default :func:`find_cam_layer`)

    Returns
    -------
    heatmaps : float32 array (n, h, w) in [0, 1] (each map divided by its max; all-zero maps stay 0)
    """
    import tensorflow as tf

    images, single = _batch(images)
    h, w = images.shape[1:3]
    x = to_model_input(images, model_input_shape(model)).astype(np.float32)
    if class_index is None:
        class_index = np.argmax(predict_probs(model, images), axis=1)
    idx = np.broadcast_to(np.asarray(class_index, dtype=np.int32), (len(images),)).copy()
    n_out = int(model.outputs[0].shape[-1])
    if idx.min() < 0 or idx.max() >= n_out:
        raise ConfigError(f"class_index must lie in 0..{n_out - 1}, got {sorted(set(idx.tolist()))}.")
    fmap, score, grads = _grad_fn(model, layer or find_cam_layer(model))(tf.constant(x), tf.constant(idx))
    A, g = fmap.numpy().astype(np.float64), grads.numpy().astype(np.float64)
    if plus:
        # Grad-CAM++ with the exponential trick: higher derivatives of exp(score) are powers of g.
        g2, g3 = g**2, g**3
        denom = 2 * g2 + A.sum(axis=(1, 2), keepdims=True) * g3
        alpha = g2 / np.where(np.abs(denom) > _EPS, denom, _EPS)
        weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    else:
        weights = g.mean(axis=(1, 2))
    cams = np.maximum(np.einsum("nhwk,nk->nhw", A, weights), 0)
    out = np.stack([_upsample(c, (h, w)) for c in cams]).astype(np.float32)
    return out[0] if single else out


def gradcam_plus_plus(model: Any, images: np.ndarray, class_index=None, *, layer: str | None = None) -> np.ndarray:
    """Grad-CAM++ heatmaps (see :func:`gradcam`)."""
    return gradcam(model, images, class_index, layer=layer, plus=True)


def occlusion_map(
    model: Any,
    image: np.ndarray,
    class_index: int | None = None,
    *,
    patch: float = 0.2,
    stride: float = 0.1,
    fill: int = 128,
    batch_size: int = 256,
) -> np.ndarray:
    """Occlusion sensitivity of one image: how much the class probability drops under a grey patch.

    ``patch`` and ``stride`` are fractions of the image side. Works for any model or ensemble
    that :func:`~fer_core.evaluation.predict.predict_probs` accepts. Returns float32 (h, w) in
    [0, 1] (the drop, clipped at 0 and divided by its max).
    """
    images, _ = _batch(image)
    img = images[0]
    h, w = img.shape[:2]
    ph, pw = max(2, int(round(patch * h))), max(2, int(round(patch * w)))
    sy, sx = max(1, int(round(stride * h))), max(1, int(round(stride * w)))
    base = predict_probs(model, images)[0]
    c = int(np.argmax(base)) if class_index is None else int(class_index)
    ys = list(range(0, max(h - ph, 0) + 1, sy))
    xs = list(range(0, max(w - pw, 0) + 1, sx))
    boxes = [(y, x) for y in ys for x in xs]
    batch = np.repeat(img[None], len(boxes), axis=0)
    for k, (y, x) in enumerate(boxes):
        batch[k, y:y + ph, x:x + pw] = fill
    probs = predict_probs(model, batch, batch_size=batch_size)[:, c]
    drop = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    for (y, x), p in zip(boxes, probs):
        drop[y:y + ph, x:x + pw] += base[c] - p
        count[y:y + ph, x:x + pw] += 1
    drop = np.maximum(drop / np.maximum(count, 1), 0)
    return (drop / drop.max() if drop.max() > 0 else drop).astype(np.float32)


def explain(model: Any, image: np.ndarray, method: str = "gradcam", class_index: int | None = None,
            layer: str | None = None) -> np.ndarray:
    """One heatmap (h, w) for one image with ``method`` in :data:`METHODS`.

    For an :class:`~fer_core.evaluation.Ensemble`, Grad-CAM maps are the weighted
    mean of its members' maps; occlusion uses the ensemble's own probabilities.
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}.")
    if method == "occlusion":
        return occlusion_map(model, image, class_index)
    if is_ensemble(model):
        if class_index is None:
            class_index = int(np.argmax(predict_probs(model, _batch(image)[0])[0]))
        maps = [wt * gradcam(m, image, class_index, plus=method == "gradcam++") for m, wt in
                zip(model.members, model.weights)]
        total = np.sum(maps, axis=0)
        return (total / total.max() if total.max() > 0 else total).astype(np.float32)
    return gradcam(model, image, class_index, layer=layer, plus=method == "gradcam++")


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45,
            colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a [0, 1] heatmap (any size) onto a grey or RGB uint8 face; returns RGB uint8."""
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    heat = _upsample(np.asarray(heatmap, np.float64), rgb.shape[:2])
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), colormap)[..., ::-1]
    return np.clip((1 - alpha) * rgb + alpha * colour, 0, 255).astype(np.uint8)


def side_by_side(*images: np.ndarray, side: int = 192) -> np.ndarray:
    """Faces (grey or RGB uint8 of one size) in a row, each enlarged to about ``side`` pixels, with
    white gaps (RGB uint8): one picture of what a page shows side by side."""
    from .data.images import enlarge

    tiles = [enlarge(i if i.ndim == 3 else np.repeat(i[..., None], 3, axis=2), side) for i in images]
    gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([x for t in tiles for x in (gap, t)][1:], axis=1)


def explain_panel(image: np.ndarray, heatmap: np.ndarray, side: int = 192) -> np.ndarray:
    """The face and its map side by side (RGB uint8): what the Explain page shows, as one picture
    for ``python -m fer_core explain``."""
    return side_by_side(image, overlay(image, heatmap), side=side)


def _upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if cam.shape != (h, w):
        cam = cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    top = cam.max()
    return cam / top if top > _EPS else np.zeros_like(cam)


def _batch(images: np.ndarray) -> tuple[np.ndarray, bool]:
    arr = np.asarray(images)
    single = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)  # (h, w) or (h, w, 3)
    if single:
        arr = arr[None]
    return check_images(arr, "explain"), single

