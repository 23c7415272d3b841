"""Occluders drawn over aligned face crops: sunglasses band, face mask, grey patch, hand.

Geometry assumes an aligned, FER2013-like crop: eyes at about 35-45% of the height, nose tip at
about 60%, mouth at 70-85%. Positions and sizes are fractions of the image width (x) and height
(y), so any image size works. Every occluder is drawn with an anti-aliased (about one pixel)
soft edge, and its coverage only grows when its size grows, so a larger occluder always hides a
superset of what a smaller one hides.

Functions take a float32 batch (n, h, w, c) in 0..255 and per-image parameters (scalars or
arrays of shape (n,)), and return a new batch.
"""
from __future__ import annotations

import numpy as np

from .ops import colour, side

#: Vertical position of the eye line (fraction of the height).
EYE_Y = 0.43
#: Lower-face outline (jaw) as an ellipse: centre and semi-axes, fractions of (width, height).
JAW_CENTRE, JAW_AXES = (0.5, 0.52), (0.36, 0.46)
#: Sunglasses colour (RGB) and the grey of :func:`grey_patch`.
GLASSES_RGB = (18.0, 18.0, 24.0)
PATCH_GREY = 128.0
#: Surgical-mask colour (RGB, pale blue-white).
MASK_RGB = (208.0, 220.0, 232.0)
#: Skin tones of :func:`hand` (RGB), light to dark; ``tone`` in 0..1 interpolates along them.
SKIN_TONES = np.array([(250, 218, 190), (235, 188, 156), (214, 160, 118), (184, 128, 86),
                       (136, 90, 58), (92, 60, 40)], np.float32)


def _per_image(v, n: int) -> np.ndarray:
    """A scalar, (n,) or (n, 1, 1) parameter as a float32 array of shape (n, 1, 1)."""
    return np.broadcast_to(np.asarray(v, np.float32).reshape(-1, 1, 1), (n, 1, 1))


def _coverage(lo: np.ndarray, hi: np.ndarray, length: int) -> np.ndarray:
    """Fraction of each pixel [j, j+1) inside the interval [lo, hi] (pixel units), shape (n, 1, length)."""
    j = np.arange(length, dtype=np.float32)
    return np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, 1.0)


def box_mask(shape: tuple[int, int, int], x0, y0, x1, y1) -> np.ndarray:
    """Exact area coverage (n, h, w) of the boxes [x0, x1] x [y0, y1] given in pixels."""
    n, h, w = shape
    cx = _coverage(_per_image(x0, n), _per_image(x1, n), w)  # (n, 1, w)
    cy = _coverage(_per_image(y0, n), _per_image(y1, n), h)  # (n, 1, h)
    return cy.transpose(0, 2, 1) * cx


def ellipse_mask(shape: tuple[int, int, int], cx, cy, a, b, angle=0.0):
    """Soft ellipse coverage (n, h, w) plus local coordinates.

    ``(cx, cy)`` centre and ``a`` (across), ``b`` (along) semi-axes in pixels; ``angle`` in
    degrees turns the ``b`` axis clockwise from vertical. Returns ``(mask, u, v)`` where ``u``,
    ``v`` are the coordinates in units of the semi-axes (``v < 0`` towards the top at angle 0).
    """
    n, h, w = shape
    ys = (np.arange(h, dtype=np.float32) + 0.5).reshape(1, h, 1)
    xs = (np.arange(w, dtype=np.float32) + 0.5).reshape(1, 1, w)
    cx, cy, a, b = (_per_image(v, n) for v in (cx, cy, a, b))
    t = np.deg2rad(_per_image(angle, n))
    dx, dy = xs - cx, ys - cy
    cos, sin = np.cos(t), np.sin(t)
    u = (dx * cos + dy * sin) / a
    v = (-dx * sin + dy * cos) / b
    r = np.sqrt(u * u + v * v)
    mask = np.clip((1.0 - r) * np.minimum(a, b) + 0.5, 0.0, 1.0)
    return mask, u, v


def blend(x: np.ndarray, mask: np.ndarray, paint: np.ndarray) -> np.ndarray:
    """``x`` with ``paint`` (broadcastable to x) laid over it with coverage ``mask`` (n, h, w)."""
    return x + mask[..., None] * (paint - x)


def eye_band(x: np.ndarray, height, width, opacity) -> np.ndarray:
    """Sunglasses: a dark band over the eye line; ``height``/``width`` fractions of the side.

    ``opacity`` 0..1 goes from lightly tinted glasses to opaque sunglasses.
    """
    n, h, w, c = x.shape
    hh, hw = _per_image(height, n) * h / 2, _per_image(width, n) * w / 2
    m = box_mask((n, h, w), w / 2 - hw, EYE_Y * h - hh, w / 2 + hw, EYE_Y * h + hh)
    return blend(x, m * _per_image(opacity, n), colour(GLASSES_RGB, c))


def lower_face(x: np.ndarray, top) -> np.ndarray:
    """A face mask over mouth and nose: the jaw outline below ``top`` (fraction of the height)."""
    n, h, w, c = x.shape
    jaw, _, _ = ellipse_mask((n, h, w), JAW_CENTRE[0] * w, JAW_CENTRE[1] * h, JAW_AXES[0] * w, JAW_AXES[1] * h)
    below = box_mask((n, h, w), -1.0, _per_image(top, n) * h, w + 1.0, h + 1.0)
    return blend(x, jaw * below, colour(MASK_RGB, c))


def grey_patch(x: np.ndarray, cx, cy, size, value: float = PATCH_GREY) -> np.ndarray:
    """A flat grey square centred at ``(cx, cy)`` (fractions), side ``size`` x the mean side."""
    n, h, w, c = x.shape
    half = _per_image(size, n) * side(x) / 2
    px, py = _per_image(cx, n) * w, _per_image(cy, n) * h
    m = box_mask((n, h, w), px - half, py - half, px + half, py + half)
    return blend(x, m, np.float32(value))


def hand(x: np.ndarray, cx, cy, width, angle=0.0, tone=0.4) -> np.ndarray:
    """A skin-toned hand: a shaded ellipse with finger gaps at its top end.

    ``(cx, cy)`` centre (fractions), ``width`` the hand's width as a fraction of the mean side
    (its length is 1.5 x the width), ``angle`` degrees clockwise from fingers-up, ``tone`` 0..1
    picks the skin colour from :data:`SKIN_TONES` (light to dark).
    """
    n, h, w, c = x.shape
    a = _per_image(width, n) * side(x) / 2
    mask, u, v = ellipse_mask((n, h, w), _per_image(cx, n) * w, _per_image(cy, n) * h, a, 1.5 * a, angle)
    r2 = u * u + v * v
    shade = 0.8 + 0.2 * np.clip(1.0 - r2, 0.0, 1.0)  # rounder look: darker towards the rim
    sigma = np.maximum(0.07, 0.5 / a)  # gap width in units of the semi-axis, at least ~half a pixel
    gaps = sum(np.exp(-0.5 * ((u - k) / sigma) ** 2) for k in (-0.5, 0.0, 0.5))
    fingers = np.clip((-0.1 - v) / 0.2, 0.0, 1.0)  # gaps only on the finger half (v < -0.1)
    shade = shade * (1.0 - 0.4 * np.clip(gaps, 0.0, 1.0) * fingers)
    t = np.broadcast_to(np.asarray(tone, np.float32), (n,)) * (len(SKIN_TONES) - 1)
    i = np.minimum(t.astype(int), len(SKIN_TONES) - 2)
    rgb = SKIN_TONES[i] + (t - i)[:, None] * (SKIN_TONES[i + 1] - SKIN_TONES[i])  # (n, 3)
    paint = colour(rgb, c)[:, None, None, :] * shade[..., None]
    return blend(x, mask, paint)
