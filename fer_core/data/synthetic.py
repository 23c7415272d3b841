"""Synthetic cartoon faces with seven expressions: the offline default dataset.

(Long because the per-expression parameter table, the drawing code and its validation are one unit.)

Faces are drawn with OpenCV (anti-aliased, 2-3x supersampled), generated on the fly from a seed:
no files are shipped and nothing is downloaded. Each class has one row of expression parameters
(:data:`CLASS_TABLE`); every image jitters around its row, at a random intensity, with random
identity (skin, hair, face shape), pose (roll, yaw-like squash, scale, shift) and photometry
(side light, brightness, contrast, Gaussian noise), so classes overlap a little.

``vary`` chooses which facial features carry the class: features left out are drawn from the
``neutral`` row (with the same jitter) for every class, so ``vary=("mouth",)`` gives classes that
differ only inside :func:`feature_boxes` ``["mouth"]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Mapping, Sequence

import cv2
import numpy as np

from .. import CLASSES
from ..errors import ConfigError, did_you_mean
from .dataset import SPLITS, FERDataset
from .images import LUMA_WEIGHTS

__all__ = [
    "CLASS_TABLE",
    "FEATURES",
    "FEATURE_PARAMS",
    "FER2013_TRAIN_COUNTS",
    "FaceParams",
    "MOUTH_BOX",
    "class_counts",
    "feature_boxes",
    "make_synthetic",
    "render_face",
    "sample_face_params",
]

#: Facial features that can carry the class (see ``vary``).
FEATURES: tuple[str, ...] = ("mouth", "brows", "eyes")

#: The :class:`FaceParams` fields each feature owns.
FEATURE_PARAMS: dict[str, tuple[str, ...]] = {
    "mouth": ("mouth_curve", "mouth_open", "mouth_width", "mouth_asym"),
    "brows": ("brow_tilt", "brow_raise"),
    "eyes": ("eye_open",),
}
_EXPR = tuple(p for f in FEATURES for p in FEATURE_PARAMS[f])

#: Images per class in FER2013's training split (the default ``balance``).
FER2013_TRAIN_COUNTS: dict[str, int] = {
    "angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215,
    "sad": 4830, "surprise": 3171, "neutral": 4965,
}

#: Expression parameters per class, at full intensity. Columns:
#:   mouth_curve  + corners up (smile) / - corners down
#:   mouth_open   0 closed .. 1 wide open
#:   mouth_width  relative to the rest width (1)
#:   mouth_asym   one-sided upper-lip raise (the side is random per image)
#:   brow_tilt    + inner ends pulled down (frown) / - inner ends raised (worry)
#:   brow_raise   + brows higher / - lower
#:   eye_open     eye height relative to rest (1)
CLASS_TABLE: dict[str, dict[str, float]] = {
    #            curve  open   width  asym   tilt   raise  eye
    "angry":    dict(zip(_EXPR, (-0.25, 0.00, 0.78, 0.00, 0.95, -0.55, 0.55))),
    "disgust":  dict(zip(_EXPR, (-0.45, 0.12, 0.92, 0.85, 0.55, -0.45, 0.60))),
    "fear":     dict(zip(_EXPR, (-0.35, 0.40, 1.30, 0.00, -0.70, 0.70, 1.45))),
    "happy":    dict(zip(_EXPR, (0.95, 0.35, 1.18, 0.00, 0.00, 0.10, 0.80))),
    "sad":      dict(zip(_EXPR, (-0.80, 0.00, 0.92, 0.00, -0.80, 0.05, 0.75))),
    "surprise": dict(zip(_EXPR, (0.00, 1.00, 0.58, 0.00, 0.00, 1.05, 1.55))),
    "neutral":  dict(zip(_EXPR, (0.00, 0.00, 1.00, 0.00, 0.00, 0.00, 1.00))),
}

# Per-image jitter (standard deviation) of each expression parameter, and its allowed range.
_JITTER = dict(zip(_EXPR, (0.20, 0.08, 0.09, 0.10, 0.20, 0.20, 0.14)))
_RANGE = {
    "mouth_curve": (-1.4, 1.4), "mouth_open": (0.0, 1.3), "mouth_width": (0.45, 1.6),
    "mouth_asym": (-1.2, 1.2), "brow_tilt": (-1.4, 1.4), "brow_raise": (-1.2, 1.5),
    "eye_open": (0.25, 1.9),
}
_INTENSITY = (0.55, 1.15)  # expression strength, uniform per image

# Canonical layout on a 48x48 frame (pixels at scale 1, zero pose; the whole drawing is then
# zoomed by _ZOOM about the image centre so the face fills the frame as in FER2013 crops).
_ZOOM = 1.1
_FACE_C, _FACE_AX = (24.0, 25.0), (16.0, 20.5)
_EYE_Y, _EYE_DX, _EYE_W, _EYE_H = 21.8, 7.2, 3.6, 1.9
_BROW_Y, _BROW_IN, _BROW_OUT, _BROW_T = 16.2, 2.8, 10.8, 1.7
_MOUTH_Y, _MOUTH_W = 36.3, 5.6
_CURVE_PX, _OPEN_UP, _OPEN_DOWN, _ASYM_PX = 2.6, 1.5, 3.1, 2.2
_MAX_YAW_PX, _MAX_EYE_DX = 1.4, 0.5

_SKIN = np.array([(255, 226, 200), (241, 194, 167), (224, 172, 122), (198, 134, 86),
                  (150, 96, 58), (100, 64, 44), (70, 46, 34)], float)
_HAIR = np.array([(22, 17, 14), (55, 38, 26), (100, 68, 42), (190, 160, 105),
                  (150, 150, 150), (120, 50, 25)], float)
_IRIS = np.array([(60, 38, 22), (35, 25, 20), (70, 105, 140), (80, 95, 60)], float)

# The class table as arrays (rows in CLASSES order) for the sampler.
_TABLE = np.array([[CLASS_TABLE[c][p] for p in _EXPR] for c in CLASSES])
_NEUTRAL = _TABLE[CLASSES.index("neutral")]
_JIT = np.array([_JITTER[p] for p in _EXPR])
_LO, _HI = np.array([_RANGE[p][0] for p in _EXPR]), np.array([_RANGE[p][1] for p in _EXPR])
_OWNER = np.array([next(f for f in FEATURES if p in FEATURE_PARAMS[f]) for p in _EXPR])
_ASYM = _EXPR.index("mouth_asym")


@dataclass(frozen=True)
class FaceParams:
    """Everything that decides one synthetic face; the defaults draw a plain neutral face.

    Lengths are in pixels of a 48x48 image (scaled with ``size``), colours are RGB in 0..255
    (greyscale images use their luminance), angles are in degrees unless named otherwise.
    """

    # expression (see CLASS_TABLE)
    mouth_curve: float = 0.0
    mouth_open: float = 0.0
    mouth_width: float = 1.0
    mouth_asym: float = 0.0  # + raises the image-right side of the upper lip, - the left
    brow_tilt: float = 0.0
    brow_raise: float = 0.0
    eye_open: float = 1.0
    # identity
    gaze: float = 0.0  # horizontal iris offset, px
    face_width: float = 1.0
    face_height: float = 1.0
    eye_dx: float = 0.0  # extra half-distance between the eyes, px
    skin: tuple[float, float, float] = (224.0, 172.0, 122.0)
    hair: tuple[float, float, float] = (55.0, 38.0, 26.0)
    hairline: float = 0.7  # 0 no hair .. 1 low hairline
    fringe: float = 0.0  # -1 receding middle .. 1 fringe dipping in the middle
    iris: tuple[float, float, float] = (60.0, 38.0, 22.0)
    clothes: tuple[float, float, float] = (60.0, 70.0, 90.0)
    background: tuple[float, float, float] = (128.0, 128.0, 128.0)
    # pose
    roll: float = 0.0  # in-plane rotation, degrees
    yaw: float = 0.0  # -1..1: horizontal squash and features shifted sideways
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # (dx, dy) px
    # photometry
    light_angle: float = 0.0  # direction the light comes from, radians (0 = from the right)
    light: float = 0.0  # side-light strength, 0..~0.5 (relative brightness change at the edge)
    brightness: float = 0.0  # added grey levels
    contrast: float = 1.0  # multiplies deviations from 128
    noise_std: float = 0.0  # Gaussian pixel noise, grey levels
    rgb: bool = False


# -- sampling ------------------------------------------------------------------------------
def sample_face_params(
    cls: str,
    rng: np.random.Generator | int | None = None,
    *,
    vary: Sequence[str] = FEATURES,
    rgb: bool = False,
    noise: float = 1.0,
) -> FaceParams:
    """Draw one face of class ``cls``: the class row of :data:`CLASS_TABLE` plus random jitter.

    The generator is advanced by the same amount whatever the class and options, so the same
    ``rng`` state gives the same person (identity, pose, light) with another expression.

    Parameters
    ----------
    cls : one of ``fer_core.CLASSES``
    rng : a ``numpy.random.Generator`` or a seed (``None`` means seed 0)
    vary : features that carry the class; the others come from the ``neutral`` row
    rgb : colour output (otherwise greyscale)
    noise : scales the Gaussian pixel noise (0 turns it off)
    """
    if cls not in CLASS_TABLE:
        raise ConfigError(f"Unknown class {cls!r}; expected one of {CLASSES}{did_you_mean(cls, CLASSES)}.")
    mask = np.isin(_OWNER, _check_vary(vary))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    return _sample(CLASSES.index(cls), rng, mask, bool(rgb), _check_noise(noise))


def _sample(label: int, rng: np.random.Generator, mask: np.ndarray, rgb: bool, noise: float) -> FaceParams:
    """The unchecked sampler behind :func:`sample_face_params` (``mask``: varied parameters)."""
    z = rng.standard_normal(len(_EXPR))
    u = rng.random(32).tolist()
    intensity = _INTENSITY[0] + (_INTENSITY[1] - _INTENSITY[0]) * u[0]
    row = np.where(mask, _TABLE[label], _NEUTRAL)
    expr = np.clip(_NEUTRAL + intensity * (row - _NEUTRAL) + _JIT * z, _LO, _HI)
    if u[1] < 0.5:
        expr[_ASYM] = -expr[_ASYM]
    skin = np.clip(_palette(_SKIN, u[2]) * (0.94 + 0.12 * u[3]), 0, 255)
    hair = _HAIR[int(u[4] * len(_HAIR))]
    iris = _IRIS[int(u[5] * len(_IRIS))]
    background = _muted(u[6], u[7:9]) if rgb else (255.0 * u[6],) * 3
    clothes = _muted(u[26], u[27:29]) if rgb else (255.0 * u[26],) * 3
    return FaceParams(
        **dict(zip(_EXPR, expr.tolist())),
        gaze=0.9 * (2 * u[9] - 1),
        face_width=0.92 + 0.14 * u[10],
        face_height=0.94 + 0.10 * u[11],
        eye_dx=_MAX_EYE_DX * (2 * u[12] - 1),
        skin=tuple(skin.tolist()),
        hair=tuple(hair.tolist()),
        hairline=0.0 if u[13] < 0.12 else 0.35 + 0.6 * u[14],
        fringe=2 * u[29] - 1,
        iris=tuple(iris.tolist()),
        clothes=clothes,
        background=background,
        roll=12.0 * (u[15] + u[16] - 1.0),  # triangular on [-12, 12] degrees
        yaw=2 * u[17] - 1,
        scale=0.8 + 0.3 * u[18],
        shift=(3.0 * (2 * u[19] - 1), 3.0 * (2 * u[20] - 1)),
        light_angle=2 * math.pi * u[21],
        light=0.45 * u[22],
        brightness=40.0 * (u[23] - 0.5),
        contrast=0.75 + 0.5 * u[24],
        noise_std=noise * (2.0 + 8.0 * u[25]),
        rgb=rgb,
    )


def _muted(level: float, tint: Sequence[float]) -> tuple[float, float, float]:
    """A colour of grey ``level`` (0..1) with a mild tint (two numbers in 0..1)."""
    g = 255.0 * level
    dr, db = 70.0 * (tint[0] - 0.5), 70.0 * (tint[1] - 0.5)
    return (min(max(g + dr, 0.0), 255.0), g, min(max(g + db, 0.0), 255.0))


def _palette(colours: np.ndarray, t: float) -> np.ndarray:
    """Linear interpolation along a list of colours, ``t`` in [0, 1]."""
    x = t * (len(colours) - 1)
    i = min(int(x), len(colours) - 2)
    return colours[i] + (x - i) * (colours[i + 1] - colours[i])


# -- drawing -------------------------------------------------------------------------------
_SHIFT = 4  # fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


def render_face(params: FaceParams, size: int = 48, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Draw one face.

    Parameters
    ----------
    params : the face (see :class:`FaceParams`; ``FaceParams()`` is a plain neutral face)
    size : side of the square image, >= 32
    rng : generator or seed for the pixel noise (``None`` means seed 0, so output is repeatable)

    Returns
    -------
    ndarray of uint8, shape (size, size) or (size, size, 3) when ``params.rgb``
    """
    if not isinstance(params, FaceParams):
        raise ConfigError(f"render_face expects a FaceParams, got {type(params).__name__}.")
    size = _check_size(size)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    return _render(params, size, rng)


def _render(p: FaceParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """The unchecked renderer behind :func:`render_face`."""
    ss = 2 if size >= 48 else 3  # supersampling: draw on a canvas of about 96 px or more
    big = size * ss
    k = big / 48.0  # canvas pixels per canonical pixel
    kf = k * _ONE
    rgb = p.rgb

    def col(c, f: float = 1.0) -> tuple[float, ...]:
        """An RGB colour times ``f`` as a drawing colour (its luminance for greyscale)."""
        if rgb:
            return (min(c[0] * f, 255.0), min(c[1] * f, 255.0), min(c[2] * f, 255.0))
        return (min((c[0] * LUMA_WEIGHTS[0] + c[1] * LUMA_WEIGHTS[1] + c[2] * LUMA_WEIGHTS[2]) * f, 255.0),)

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(x * kf + 0.5), int(y * kf + 0.5)

    def ax(a: float, b: float) -> tuple[int, int]:
        return max(int(a * kf + 0.5), 1), max(int(b * kf + 0.5), 1)

    def th(t: float) -> int:
        return max(int(t * k + 0.5), 1)

    def poly(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = np.empty((len(xs), 2), np.int32)
        out[:, 0] = np.rint(xs * kf)
        out[:, 1] = np.rint(ys * kf)
        return out

    skin = p.skin
    canvas = np.empty((big, big, 3 if rgb else 1), np.uint8)
    canvas[:] = np.rint(col(p.background)).astype(np.uint8)
    cx, cy = _FACE_C
    fa, fb = _FACE_AX[0] * p.face_width, _FACE_AX[1] * p.face_height
    fx = cx + _MAX_YAW_PX * p.yaw  # features follow the nose when the head turns
    hair = col(p.hair)

    # hair behind the head, clothes, neck, ears, face, hair over the forehead
    if p.hairline > 0:
        cv2.ellipse(canvas, pt(cx, cy - 2.5), ax(fa + 2.2, fb + 0.5), 0, 0, 360, hair, -1, _AA, _SHIFT)
    cv2.fillConvexPoly(canvas, poly(np.array([cx - 8.0, cx + 8.0, cx + 9.5, cx - 9.5]),
                                    np.array([cy + 12, cy + 12, 52.0, 52.0])), col(skin, 0.8), _AA, _SHIFT)
    cv2.ellipse(canvas, pt(cx, 58.0), ax(30.0, 12.0), 0, 0, 360, col(p.clothes), -1, _AA, _SHIFT)
    ear = col(skin, 0.88)
    cv2.ellipse(canvas, pt(cx - fa + 0.5, cy - 0.5), ax(2.4, 4.2), 0, 0, 360, ear, -1, _AA, _SHIFT)
    cv2.ellipse(canvas, pt(cx + fa - 0.5, cy - 0.5), ax(2.4, 4.2), 0, 0, 360, ear, -1, _AA, _SHIFT)
    cv2.ellipse(canvas, pt(cx, cy), ax(fa, fb), 0, 0, 360, col(skin), -1, _AA, _SHIFT)
    if p.hairline > 0:
        # the top of the face oval down to the hairline, whose middle dips or recedes (fringe)
        h = 0.45 + 0.3 * min(p.hairline, 1.0)  # hairline height as a fraction of the half-height
        a0 = math.degrees(math.asin(h))
        arc = _unit_arc(int(180 + a0), int(360 - a0))
        xs = np.append(cx + arc[:, 0] * fa, cx + 0.2 * fa * p.fringe)
        ys = np.append(cy + arc[:, 1] * fb, cy - h * fb + 2.5 * p.fringe)
        cv2.fillPoly(canvas, [poly(xs, ys)], hair, _AA, _SHIFT)

    # eyes: white, iris clipped to the opening, upper lid line, faint lower lid
    eh = _EYE_H * p.eye_open
    sclera, iris = col((238.0, 236.0, 228.0)), col(p.iris)
    lid, lower_lid = col(skin, 0.32), col(skin, 0.62)
    for s in (-1, 1):
        ex, ey = fx + s * (_EYE_DX + p.eye_dx), _EYE_Y
        cv2.ellipse(canvas, pt(ex, ey), ax(_EYE_W, eh), 0, 0, 360, sclera, -1, _AA, _SHIFT)
        cv2.ellipse(canvas, pt(ex + p.gaze, ey + 0.15), ax(1.55, min(1.55, eh * 0.95)), 0, 0, 360, iris, -1, _AA, _SHIFT)
        cv2.ellipse(canvas, pt(ex, ey), ax(_EYE_W + 0.2, eh + 0.1), 0, 180, 360, lid, th(0.8), _AA, _SHIFT)
        cv2.ellipse(canvas, pt(ex, ey), ax(_EYE_W, eh), 0, 10, 170, lower_lid, th(0.5), _AA, _SHIFT)

    # brows: inner end, a slight arch, outer end
    brow = col(tuple(0.55 * h_ + 0.16 * s_ for h_, s_ in zip(p.hair, skin)))
    by = _BROW_Y - 2.2 * p.brow_raise
    yi, yo = by + 1.9 * p.brow_tilt, by - 0.7 * p.brow_tilt
    for s in (-1, 1):
        xi, xo = fx + s * (_BROW_IN + p.eye_dx), fx + s * (_BROW_OUT + p.eye_dx)
        xs = np.array([xi, 0.45 * xi + 0.55 * xo, xo])
        ys = np.array([yi, 0.5 * (yi + yo) - 0.9, yo + 0.6])
        cv2.polylines(canvas, [poly(xs, ys)], False, brow, th(_BROW_T), _AA, _SHIFT)

    # nose hint: a soft ridge line and the nostrils
    cv2.line(canvas, pt(fx + 0.3, 24.0), pt(fx + 0.8, 29.0), col(skin, 0.85), th(0.7), _AA, _SHIFT)
    cv2.ellipse(canvas, pt(fx, 30.0), ax(2.3, 1.0), 0, 0, 180, col(skin, 0.55), th(0.7), _AA, _SHIFT)

    # mouth: upper and lower lip curves around a base curve; an open mouth is filled dark
    t = _MOUTH_T
    asym = p.mouth_asym
    base = _MOUTH_Y - _CURVE_PX * p.mouth_curve * (t * t - 0.35)
    upper = base - _OPEN_UP * p.mouth_open * _MOUTH_PROF
    if asym:
        upper -= _ASYM_PX * abs(asym) * np.exp(-(((t - math.copysign(0.45, asym)) / 0.32) ** 2))
    lower = base + _OPEN_DOWN * p.mouth_open * _MOUTH_PROF
    xs = fx + _MOUTH_W * p.mouth_width * t
    lip = col((skin[0] * 0.72, skin[1] * 0.52, skin[2] * 0.52))
    gap = lower - upper
    if gap.max() > 0.35:
        x2 = np.concatenate([xs, xs[::-1]])
        cv2.fillPoly(canvas, [poly(x2, np.concatenate([upper, lower[::-1]]))], col((55.0, 22.0, 26.0)), _AA, _SHIFT)
        if p.mouth_open > 0.2 and p.mouth_curve > 0.2:  # teeth in an open smile
            teeth = upper + np.minimum(gap, 1.2) * _MOUTH_PROF
            cv2.fillPoly(canvas, [poly(x2, np.concatenate([upper, teeth[::-1]]))], col((232.0, 228.0, 214.0)),
                         _AA, _SHIFT)
    cv2.polylines(canvas, [poly(xs, upper)], False, lip, th(0.9), _AA, _SHIFT)
    cv2.polylines(canvas, [poly(xs, lower)], False, lip, th(1.25), _AA, _SHIFT)

    # pose: roll, yaw-like squash, scale and shift about the image centre, and the downsampling
    # to ``size`` in the same warp (bilinear from a 2-3x canvas averages neighbouring pixels)
    c = big / 2.0
    a = math.radians(p.roll)
    sx = _ZOOM * p.scale * (1.0 - 0.1 * abs(p.yaw)) / ss
    sy = _ZOOM * p.scale / ss
    ca, sa = math.cos(a), math.sin(a)
    m = np.array([[ca * sx, sa * sy, 0.0], [-sa * sx, ca * sy, 0.0]])
    m[:, 2] = (size / 2.0 + p.shift[0] * size / 48.0, size / 2.0 + p.shift[1] * size / 48.0) - m[:, :2] @ (c, c)
    m[:, 2] -= 0.5 - 0.5 / ss  # pixel centres: canvas pixel j covers output position (j + 0.5) / ss - 0.5
    img = cv2.warpAffine(canvas, m, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE).astype(np.float32)

    # photometry: side light, contrast and brightness, noise (all in float, then clipped)
    gx, gy = _grid(size)
    gain = (p.light * math.cos(p.light_angle)) * gx + (p.light * math.sin(p.light_angle)) * gy
    gain = gain * p.contrast + p.contrast
    if rgb:
        img *= gain[:, :, None]
    else:
        img *= gain
    img += 128.0 * (1.0 - p.contrast) + p.brightness
    if p.noise_std > 0:
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(p.noise_std)
    np.rint(img, out=img)
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8)


_MOUTH_T = np.linspace(-1.0, 1.0, 15)
_MOUTH_PROF = np.sqrt(1.0 - _MOUTH_T**2)


@lru_cache(maxsize=64)
def _unit_arc(a0: int, a1: int) -> np.ndarray:
    """Points of the unit circle from angle ``a0`` to ``a1`` (degrees, y down), shape (m, 2)."""
    arc = cv2.ellipse2Poly((0, 0), (1 << 12, 1 << 12), 0, a0, a1, 6).astype(float) / (1 << 12)
    arc.setflags(write=False)
    return arc


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to [-1, 1], each of shape (size, size)."""
    v = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gx, gy = np.meshgrid(v, v)
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def feature_boxes(size: int = 48) -> dict[str, tuple[int, int, int, int]]:
    """Where each feature can be drawn at zero pose (no roll, yaw squash, shift, ``scale=1``).

    Bounds cover every parameter value the sampler can produce (and yaw), so the region is
    conservative. Boxes are ``(x0, y0, x1, y1)`` in pixels, end-exclusive
    (``image[y0:y1, x0:x1]``); ``"upper"`` is the union of eyes and brows.
    """
    size = _check_size(size)
    cx = _FACE_C[0]
    w_max = _MOUTH_W * _RANGE["mouth_width"][1]
    c_max = _CURVE_PX * max(map(abs, _RANGE["mouth_curve"]))
    o_max = _RANGE["mouth_open"][1]
    mouth = (cx - w_max - _MAX_YAW_PX - 1.0, _MOUTH_Y - 0.65 * c_max - _OPEN_UP * o_max
             - _ASYM_PX * _RANGE["mouth_asym"][1] - 0.8,
             cx + w_max + _MAX_YAW_PX + 1.0, _MOUTH_Y + 0.65 * c_max + _OPEN_DOWN * o_max + 0.9)
    eh = _EYE_H * _RANGE["eye_open"][1]
    eye_x = _EYE_DX + _MAX_EYE_DX + _EYE_W + _MAX_YAW_PX + 1.0
    eyes = (cx - eye_x, _EYE_Y - eh - 1.0, cx + eye_x, _EYE_Y + eh + 1.0)
    r_lo, r_hi = _RANGE["brow_raise"]
    t_max = max(map(abs, _RANGE["brow_tilt"]))
    brow_x = _BROW_OUT + _MAX_EYE_DX + _MAX_YAW_PX + 1.0
    brows = (cx - brow_x, _BROW_Y - 2.2 * r_hi - 1.9 * t_max - 1.0 - _BROW_T / 2,
             cx + brow_x, _BROW_Y - 2.2 * r_lo + 1.9 * t_max + 1.2 + _BROW_T / 2)
    f = size / 48.0

    def box(b) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (24.0 + _ZOOM * (v - 24.0) for v in b)  # the drawing is zoomed about the centre
        return (max(int(math.floor(x0 * f)), 0), max(int(math.floor(y0 * f)), 0),
                min(int(math.ceil(x1 * f)), size), min(int(math.ceil(y1 * f)), size))

    out = {"mouth": box(mouth), "eyes": box(eyes), "brows": box(brows)}
    e, b = out["eyes"], out["brows"]
    out["upper"] = (min(e[0], b[0]), min(e[1], b[1]), max(e[2], b[2]), max(e[3], b[3]))
    return out


# -- the dataset ---------------------------------------------------------------------------
def class_counts(n: int, balance: str | Mapping[str, float] = "fer2013") -> np.ndarray:
    """Images per class (in ``CLASSES`` order) for ``n`` images and a ``balance``.

    Largest-remainder rounding of ``n * weight``; every class with a positive weight gets at
    least ``min(3, n // k)`` images (``k`` positive classes), so it can appear in every split.
    """
    n = _check_n(n)
    w = _check_balance(balance)
    pos = w > 0
    floor = min(3, n // int(pos.sum()))
    counts = np.where(pos, floor, 0)
    rest = n - counts.sum()
    share = w / w.sum() * n
    extra = np.maximum(share - counts, 0)
    extra = extra / extra.sum() * rest if extra.sum() > 0 else np.where(pos, rest / pos.sum(), 0)
    counts = counts + _round_preserving_sum(extra, rest)
    return counts.astype(np.int64)


def make_synthetic(
    n: int = 4000,
    *,
    seed: int = 0,
    size: int = 48,
    balance: str | Mapping[str, float] = "fer2013",
    vary: Sequence[str] = FEATURES,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    rgb: bool = False,
    noise: float = 1.0,
    pose: bool = True,
) -> FERDataset:
    """Generate a labelled synthetic FER dataset (deterministic for a seed, no files).

    Parameters
    ----------
    n : number of images, >= 7
    seed : non-negative int; image ``i`` depends only on (seed, i, its class and the options)
    size : image side in pixels, >= 32
    balance : ``"fer2013"`` (FER2013's train proportions, disgust rare), ``"uniform"``, or a
        mapping ``{class: weight}`` (classes left out get no images)
    vary : features that carry the class, a subset of ``("mouth", "brows", "eyes")``; the others
        are drawn from the ``neutral`` row for every class. ``()`` makes labels carry no signal.
    split_fractions : (train, val, test) fractions summing to 1, applied per class
    rgb : colour images (n, size, size, 3) with varied skin colours instead of (n, size, size)
    noise : scale of the Gaussian pixel noise (0 turns it off; expressions still jitter)
    pose : random roll, yaw, scale and shift; ``False`` draws every face frontal and centred,
        so :func:`feature_boxes` is exact for every image (e.g. to check where a CAM looks)

    Returns
    -------
    FERDataset with ``name="synthetic"``, ``synthetic=True``, ``classes=fer_core.CLASSES`` and
    ``sources[i] == f"synthetic#seed={seed}#i={i}"``.
    """
    n = _check_n(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}.")
    size = _check_size(size)
    vary = _check_vary(vary)
    fractions = _check_fractions(split_fractions)
    if not isinstance(rgb, (bool, np.bool_)):
        raise ConfigError(f"rgb must be True or False, got {rgb!r}.")
    if not isinstance(pose, (bool, np.bool_)):
        raise ConfigError(f"pose must be True or False, got {pose!r}.")
    noise = _check_noise(noise)
    counts = class_counts(n, balance)

    rng = np.random.default_rng([int(seed), 0x5EED])
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), counts))
    splits = np.empty(n, dtype=object)
    for c in range(len(CLASSES)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        per_split = _split_counts(len(idx), fractions)
        for name, part in zip(SPLITS, np.split(idx, np.cumsum(per_split)[:-1])):
            splits[part] = name

    mask = np.isin(_OWNER, vary)
    images = np.empty((n, size, size, 3) if rgb else (n, size, size), np.uint8)
    for i in range(n):
        r = np.random.default_rng([int(seed), i])
        params = _sample(int(labels[i]), r, mask, bool(rgb), noise)
        if not pose:
            params = replace(params, roll=0.0, yaw=0.0, scale=1.0, shift=(0.0, 0.0))
        images[i] = _render(params, size, r)
    return FERDataset(
        images=images,
        labels=labels,
        classes=CLASSES,
        splits=splits.astype(str),
        sources=[f"synthetic#seed={seed}#i={i}" for i in range(n)],
        name="synthetic",
        root="",
        synthetic=True,
    )


def _round_preserving_sum(x: np.ndarray, total: int) -> np.ndarray:
    """Integers close to ``x`` (non-negative) that sum to ``total`` (largest remainder)."""
    base = np.floor(x).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        order = np.argsort(-(x - base), kind="stable")
        base[order[:short]] += 1
    return base


def _split_counts(m: int, fractions: np.ndarray) -> np.ndarray:
    """Images of one class per split: proportional, and >= 1 in each used split when possible."""
    counts = _round_preserving_sum(fractions * m, m)
    used = fractions > 0
    if m >= used.sum():
        for j in np.flatnonzero(used & (counts == 0)):
            counts[int(np.argmax(counts))] -= 1
            counts[j] = 1
    return counts


# -- validation ----------------------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_n(n) -> int:
    if not _is_int(n) or n < len(CLASSES):
        raise ConfigError(
            f"n must be an int >= {len(CLASSES)} (at least one image per class), got {n!r}."
        )
    return int(n)


def _check_size(size) -> int:
    if not _is_int(size) or size < 32:
        raise ConfigError(
            f"size must be an int >= 32 (faces are too small to draw below that), got {size!r}; "
            "use size=48 for FER2013-sized images."
        )
    return int(size)


def _check_noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)) \
            or not np.isfinite(noise) or noise < 0:
        raise ConfigError(f"noise must be a finite number >= 0 (1.0 is the default level), got {noise!r}.")
    return float(noise)


def _check_vary(vary) -> tuple[str, ...]:
    if isinstance(vary, str):
        vary = (vary,)
    try:
        vary = tuple(vary)
    except TypeError:
        raise ConfigError(f"vary must be a sequence of feature names from {FEATURES}, got {vary!r}.") from None
    for f in vary:
        if f not in FEATURES:
            raise ConfigError(f"Unknown feature {f!r} in vary; expected a subset of {FEATURES}"
                              f"{did_you_mean(f, FEATURES)}.")
    return vary


def _check_balance(balance) -> np.ndarray:
    if isinstance(balance, str):
        if balance == "fer2013":
            return np.array([FER2013_TRAIN_COUNTS[c] for c in CLASSES], float)
        if balance == "uniform":
            return np.ones(len(CLASSES))
        raise ConfigError(
            f"balance must be 'fer2013', 'uniform' or a {{class: weight}} mapping, got {balance!r}."
        )
    if not isinstance(balance, Mapping):
        raise ConfigError(
            f"balance must be 'fer2013', 'uniform' or a {{class: weight}} mapping, got {type(balance).__name__}."
        )
    w = np.zeros(len(CLASSES))
    for c, v in balance.items():
        if c not in CLASSES:
            raise ConfigError(f"Unknown class {c!r} in balance; expected names from {CLASSES}"
                              f"{did_you_mean(c, CLASSES)}.")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v) or v < 0:
            raise ConfigError(f"balance weight for {c!r} must be a finite number >= 0, got {v!r}.")
        w[CLASSES.index(c)] = float(v)
    if w.sum() <= 0:
        raise ConfigError(f"balance needs at least one positive weight, got {dict(balance)!r}.")
    return w


def _check_fractions(fractions) -> np.ndarray:
    try:
        f = np.asarray(fractions, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"split_fractions must be 3 numbers (train, val, test), got {fractions!r}.") from None
    if f.shape != (3,) or not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ConfigError(
            f"split_fractions must be 3 non-negative numbers (train, val, test), got {fractions!r}."
        )
    if abs(f.sum() - 1.0) > 1e-6:
        raise ConfigError(
            f"split_fractions must sum to 1, got {tuple(fractions)} (sum {f.sum():.4g}); "
            "e.g. (0.8, 0.1, 0.1)."
        )
    if f[0] <= 0:
        raise ConfigError(f"split_fractions needs a positive train fraction, got {tuple(fractions)}.")
    return f


#: Where the mouth is drawn in a 48x48 image at zero pose, ``(x0, y0, x1, y1)`` end-exclusive.
MOUTH_BOX: tuple[int, int, int, int] = feature_boxes(48)["mouth"]
