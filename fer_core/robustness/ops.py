"""Image operations shared by the corruptions and the what-if sliders.

Every function takes and returns a float32 batch of shape (n, h, w, c) with values in 0..255
(intermediate values may leave that range; callers clip and round at the end). Nothing here
validates its input: the public entry points in :mod:`.corruptions` and :mod:`.whatif` do.
Operations with the same parameters for the whole batch run as one OpenCV call on the images
stacked along the channel axis (OpenCV handles up to 512 channels per call).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..data.images import LUMA_WEIGHTS

_MAX_CHANNELS = 512  # CV_CN_MAX
_BORDER = cv2.BORDER_REFLECT_101
_LUMA = np.array(LUMA_WEIGHTS, np.float32)


def side(x: np.ndarray) -> float:
    """Mean image side in pixels, the length unit the corruptions scale with (48 for FER2013)."""
    return (x.shape[1] + x.shape[2]) / 2.0


def stack_apply(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], max_channels: int = _MAX_CHANNELS) -> np.ndarray:
    """Apply a per-image OpenCV function ``fn((h, w, k) float32) -> (h', w'[, k])`` to a batch.

    The images are stacked along the channel axis in chunks of at most ``max_channels``
    channels (512 is OpenCV's limit; some functions, such as INTER_AREA resizing, take 4).
    """
    n, h, w, c = x.shape
    flat = np.ascontiguousarray(np.moveaxis(x, 0, 2).reshape(h, w, n * c))
    parts = []
    for start in range(0, n * c, max_channels):
        chunk = np.ascontiguousarray(flat[:, :, start:start + max_channels])
        out = fn(chunk)
        parts.append(out.reshape(out.shape[0], out.shape[1], chunk.shape[2]))
    out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)
    return np.moveaxis(out.reshape(out.shape[0], out.shape[1], n, c), 2, 0)


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (reflected borders)."""
    if sigma <= 0:
        return x
    return stack_apply(x, lambda a: cv2.GaussianBlur(a, (0, 0), float(sigma), borderType=_BORDER))


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line kernel ``length`` pixels long at ``angle`` degrees (0 = horizontal)."""
    half = max(length, 1.0) / 2.0
    size = 2 * int(np.ceil(half)) + 1
    c = size // 2
    t = np.linspace(-half, half, max(int(4 * length), 2) + 1)
    a = np.deg2rad(angle)
    px, py = c + t * np.cos(a), c - t * np.sin(a)
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    fx, fy = px - x0, py - y0
    k = np.zeros((size + 1, size + 1), np.float64)  # one spare row/column for the bilinear splat
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                        (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (y0 + dy, x0 + dx), wgt)
    k = k[:size, :size]
    return (k / k.sum()).astype(np.float32)


def motion_blur(x: np.ndarray, length: float, angles: np.ndarray) -> np.ndarray:
    """Linear motion blur ``length`` pixels long, one direction (degrees) per image."""
    if length <= 1.0:
        return x
    out = np.empty_like(x)
    for i, a in enumerate(angles):
        k = motion_kernel(length, float(a))
        out[i] = cv2.filter2D(x[i], -1, k, borderType=_BORDER).reshape(x.shape[1:])
    return out


def rotate(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate each image about its centre by ``angles[i]`` degrees (positive = counter-clockwise).

    Uncovered corners are filled by reflection, as if the camera had seen more of the scene.
    """
    n, h, w, c = x.shape
    angles = np.broadcast_to(np.asarray(angles, np.float64), (n,))
    out = np.empty_like(x)
    for a in np.unique(angles):
        idx = np.flatnonzero(angles == a)
        if a == 0:
            out[idx] = x[idx]
            continue
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(a), 1.0)
        out[idx] = stack_apply(x[idx], lambda im: cv2.warpAffine(
            im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=_BORDER))
    return out


def downscale(x: np.ndarray, factor: float) -> np.ndarray:
    """Low resolution: shrink by ``factor`` (area averaging), then enlarge back (bilinear)."""
    n, h, w, c = x.shape
    sh, sw = max(int(round(h * factor)), 2), max(int(round(w * factor)), 2)
    if (sh, sw) == (h, w):
        return x
    return stack_apply(x, lambda im: cv2.resize(
        cv2.resize(im, (sw, sh), interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR),
        max_channels=4)  # INTER_AREA with a non-integer factor takes at most 4 channels


def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip at ``quality`` (1..100) through ``cv2.imencode`` (RGB kept as RGB)."""
    n, h, w, c = x.shape
    u8 = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    out = np.empty_like(x)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    for i in range(n):
        im = u8[i, :, :, 0] if c == 1 else np.ascontiguousarray(u8[i, :, :, ::-1])  # RGB -> BGR
        ok, buf = cv2.imencode(".jpg", im, params)
        if not ok:  # pragma: no cover - imencode of a valid uint8 image does not fail
            raise RuntimeError("cv2.imencode failed to encode a JPEG")
        dec = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if c == 1 else cv2.IMREAD_COLOR)
        out[i] = dec.reshape(h, w, 1) if c == 1 else dec[:, :, ::-1]
    return out


def contrast(x: np.ndarray, factor: float) -> np.ndarray:
    """Scale deviations from each image's per-channel mean by ``factor`` (< 1 flattens)."""
    m = x.mean(axis=(1, 2), keepdims=True)
    return (x - m) * np.float32(factor) + m


def gamma(x: np.ndarray, g: float) -> np.ndarray:
    """Tone curve ``255 * (x / 255) ** g`` (g > 1 darkens mid-tones, g < 1 lifts them)."""
    return np.float32(255.0) * (np.clip(x, 0.0, 255.0) / np.float32(255.0)) ** np.float32(g)


def colour(rgb: np.ndarray, channels: int) -> np.ndarray:
    """RGB colours (..., 3) as drawing colours for ``channels`` (their luminance when 1)."""
    rgb = np.asarray(rgb, np.float32)
    return rgb if channels == 3 else (rgb @ _LUMA)[..., None]
