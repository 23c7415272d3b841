"""Image corruptions at five severities, calibrated for small aligned face crops.

The ImageNet-C idea (Hendrycks & Dietterich, ICLR 2019; code layout after
``bethgelab/imagecorruptions``) adapted to 48x48 FER crops and to the conditions the FER papers
name: low light and night, glare, uneven light, sensor noise, blur, compression, low resolution,
head roll, and occlusions (sunglasses, face masks, hands, anything).

Each corruption ``name(image, severity=1, rng=None)`` takes one uint8 image of shape (h, w) or
(h, w, 3) and returns uint8 of the same shape; severity 0 returns the image unchanged. Its body
starts with its five-level parameter table. Lengths are fractions of the image side (the tables
quote pixels at 48x48), so any image size works; grey levels are in 0..255.

Randomness is *coupled across severities*: a corruption draws the same random numbers (noise
field, patch position, blur direction, ...) whatever the severity, so for one seed severity 3 is
severity 2 made stronger rather than a new draw. Strength then grows monotonically with severity,
and accuracy-vs-severity curves are not jagged by sampling noise. An int ``seed`` is combined
with the corruption's name, so two corruptions never share their random numbers. Random draws
are laid out image by image, so the first image of a batch is corrupted exactly as it would be
alone with the same seed.

Entry points: :func:`corrupt` (one image), :func:`corrupt_batch` (a batch, one vectorised call),
:func:`resolve_names` (corruption and subset names -> corruption names). :data:`SUBSETS` groups
the names of :data:`CORRUPTIONS`.
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable

import numpy as np

from ..data.images import check_image as _check_image, check_uint8
from ..errors import ConfigError, DataError, did_you_mean
from . import occluders, ops

__all__ = [
    "CORRUPTIONS", "MAX_SEVERITY", "SUBSETS", "check_batch", "check_image", "check_severity",
    "corrupt", "corrupt_batch", "describe", "make_rng", "resolve_names", "subset_of",
]

MAX_SEVERITY = 5
#: Smallest image side the corruptions accept.
MIN_SIDE = 8

Kernel = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
_KERNELS: dict[str, Kernel] = {}
#: Every corruption by name: ``name(image, severity=1, rng=None) -> image``.
CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {}


def _register(kernel: Kernel) -> Callable[..., np.ndarray]:
    """Register ``kernel(x, severity, rng)`` (float32 batch (n, h, w, c) in 0..255 -> float batch)
    and return the public single-image function of the same name."""
    name = kernel.__name__

    def corruption(image: np.ndarray, severity: int = 1, rng: np.random.Generator | int | None = None) -> np.ndarray:
        img = check_image(image, name)
        return _run(name, img[None], check_severity(severity), make_rng(rng, name))[0]

    corruption.__name__ = corruption.__qualname__ = name
    corruption.__module__ = kernel.__module__
    corruption.__doc__ = kernel.__doc__
    _KERNELS[name] = kernel
    CORRUPTIONS[name] = corruption
    return corruption


def _run(name: str, images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Apply a registered kernel to a checked uint8 batch (n, h, w[, c]); uint8 out, same shape."""
    if severity == 0 or len(images) == 0:
        return images.copy()
    x = images.astype(np.float32)
    grey = x.ndim == 3
    y = _KERNELS[name](x[..., None] if grey else x, severity, rng)
    out = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return out[..., 0] if grey else out


# -- lighting ------------------------------------------------------------------------------
@_register
def brightness_down(x, severity, rng):
    """Low light / night: less light reaches the sensor, every pixel scales down (black stays black)."""
    c = [0.75, 0.58, 0.44, 0.32, 0.22][severity - 1]  # exposure factor (1 = unchanged)
    return x * c


@_register
def brightness_up(x, severity, rng):
    """Glare / over-exposure: a constant amount of light is added, highlights saturate."""
    c = [0.1, 0.2, 0.3, 0.4, 0.5][severity - 1]  # added light, fraction of 255
    return x + 255.0 * c


@_register
def gamma(x, severity, rng):
    """A steep tone curve (dim webcam): mid-tones, where faces are, go dark; white stays white."""
    c = [1.4, 1.8, 2.3, 2.9, 3.6][severity - 1]  # gamma exponent on x / 255
    return ops.gamma(x, c)


@_register
def contrast(x, severity, rng):
    """Flat, hazy image: deviations from the image's mean colour shrink."""
    c = [0.6, 0.45, 0.33, 0.23, 0.15][severity - 1]  # fraction of the contrast kept
    return ops.contrast(x, c)


@_register
def shadow(x, severity, rng):
    """Uneven side light: one side of the face in shadow (direction random per image)."""
    c = [0.3, 0.45, 0.6, 0.72, 0.82][severity - 1]  # light lost on the shadowed side
    n, h, w, _ = x.shape
    theta = rng.uniform(0.0, 2 * np.pi, n).reshape(n, 1, 1)
    ys = ((np.arange(h) + 0.5 - h / 2) / ops.side(x)).reshape(1, h, 1)
    xs = ((np.arange(w) + 0.5 - w / 2) / ops.side(x)).reshape(1, 1, w)
    ramp = np.clip((xs * np.cos(theta) + ys * np.sin(theta) + 0.05) / 0.35, 0.0, 1.0)
    return x * (1.0 - c * ramp.astype(np.float32))[..., None]


# -- noise ---------------------------------------------------------------------------------
@_register
def gaussian_noise(x, severity, rng):
    """Sensor noise: independent Gaussian noise on every pixel and channel."""
    c = [6.0, 12.0, 20.0, 30.0, 45.0][severity - 1]  # standard deviation, grey levels
    return x + c * rng.standard_normal(x.shape, dtype=np.float32)


@_register
def low_light_noise(x, severity, rng):
    """Night camera: the image is darker and photon (shot) noise plus read noise are amplified.

    Shot noise is Poisson in the photon count, drawn with its Gaussian approximation (variance
    proportional to the signal) so the noise field is shared across severities.
    """
    c = [  # (brightness kept, photons at white after exposure, read noise std in grey levels)
        (0.70, 300.0, 2.0), (0.55, 120.0, 4.0), (0.42, 50.0, 6.0), (0.32, 22.0, 9.0), (0.24, 10.0, 12.0),
    ][severity - 1]
    kept, photons, read = c
    signal = x * kept
    std = np.sqrt(signal * (255.0 / photons) + read * read)
    return signal + std * rng.standard_normal(x.shape, dtype=np.float32)


# -- blur ----------------------------------------------------------------------------------
@_register
def gaussian_blur(x, severity, rng):
    """Out of focus: Gaussian blur."""
    c = [0.6, 0.9, 1.3, 1.8, 2.5][severity - 1]  # sigma, pixels at 48x48
    return ops.gaussian_blur(x, c * ops.side(x) / 48.0)


@_register
def motion_blur(x, severity, rng):
    """Camera or head movement: a straight blur streak in a random direction per image."""
    c = [3.0, 5.0, 7.0, 9.5, 12.0][severity - 1]  # streak length, pixels at 48x48
    angles = rng.uniform(0.0, 180.0, len(x))
    return ops.motion_blur(x, c * ops.side(x) / 48.0, angles)


# -- digital -------------------------------------------------------------------------------
@_register
def jpeg(x, severity, rng):
    """JPEG compression artefacts (8x8 blocks are large on a 48x48 face)."""
    c = [50, 30, 18, 10, 5][severity - 1]  # JPEG quality
    return ops.jpeg(x, c)


@_register
def downscale(x, severity, rng):
    """Low resolution (a far or cheap camera): shrink, then enlarge back to the original size."""
    c = [0.75, 0.5, 0.375, 0.25, 0.1875][severity - 1]  # scale factor: 36, 24, 18, 12, 9 px at 48
    return ops.downscale(x, c)


# -- geometric -----------------------------------------------------------------------------
@_register
def rotation(x, severity, rng):
    """Head roll / tilted camera: rotation about the centre, direction random per image."""
    c = [6.0, 12.0, 18.0, 25.0, 33.0][severity - 1]  # angle, degrees
    sign = rng.integers(0, 2, len(x)) * 2 - 1
    return ops.rotate(x, c * sign)


# -- occlusion -----------------------------------------------------------------------------
@_register
def eye_band(x, severity, rng):
    """Sunglasses: a dark band over the eyes, from tinted glasses to opaque sunglasses."""
    c = [  # (band height, band width: fractions of the side; opacity)
        (0.10, 0.60, 0.55), (0.13, 0.68, 0.70), (0.16, 0.74, 0.85), (0.20, 0.80, 0.95), (0.25, 0.86, 1.0),
    ][severity - 1]
    return occluders.eye_band(x, *c)


@_register
def lower_face(x, severity, rng):
    """A face mask pulled up from the chin: over the mouth, then the nose."""
    c = [0.78, 0.72, 0.66, 0.60, 0.54][severity - 1]  # top edge of the mask, fraction of the height
    return occluders.lower_face(x, c)


@_register
def random_patch(x, severity, rng):
    """Anything in front of the face: a grey square at a random position on the face."""
    c = [0.16, 0.23, 0.30, 0.37, 0.45][severity - 1]  # side, fraction of the image side
    cx, cy = rng.uniform(0.2, 0.8, (len(x), 2)).T
    return occluders.grey_patch(x, cx, cy, c)


@_register
def hand_blob(x, severity, rng):
    """A hand on the face (chin, cheek, mouth or eyes): a skin-toned shaded blob with fingers."""
    c = [0.18, 0.24, 0.30, 0.36, 0.42][severity - 1]  # hand width, fraction of the side (length 1.5x)
    u = rng.random((len(x), 4)).T
    cx, cy = 0.25 + 0.5 * u[0], 0.40 + 0.45 * u[1]
    return occluders.hand(x, cx, cy, c, angle=-40.0 + 80.0 * u[2], tone=u[3])


#: Corruption names by family (every name of :data:`CORRUPTIONS` is in exactly one subset).
SUBSETS: dict[str, tuple[str, ...]] = {
    "lighting": ("brightness_down", "brightness_up", "gamma", "contrast", "shadow"),
    "noise": ("gaussian_noise", "low_light_noise"),
    "blur": ("gaussian_blur", "motion_blur"),
    "digital": ("jpeg", "downscale"),
    "geometric": ("rotation",),
    "occlusion": ("eye_band", "lower_face", "random_patch", "hand_blob"),
}
_SUBSET_OF = {name: s for s, names in SUBSETS.items() for name in names}
assert sorted(_SUBSET_OF) == sorted(CORRUPTIONS), "SUBSETS and the registry disagree"


def subset_of(name: str) -> str:
    """The subset (family) a corruption name belongs to."""
    return _SUBSET_OF[_check_name(name)]


def describe(name: str) -> str:
    """One-line description of a corruption (the first line of its docstring)."""
    return (CORRUPTIONS[_check_name(name)].__doc__ or "").strip().splitlines()[0]


# -- validation ----------------------------------------------------------------------------
def _check_name(name: Any) -> str:
    if isinstance(name, str) and name in CORRUPTIONS:
        return name
    raise ConfigError(
        f"Unknown corruption {name!r}{did_you_mean(name, CORRUPTIONS)}"
        + f"; expected one of {tuple(CORRUPTIONS)}."
    )


def resolve_names(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """Corruption names from a mix of corruption names, subset names and ``"all"``.

    ``None`` means all. Returns unique names in registry order; raises ConfigError on an
    unknown name (listing the choices) or when nothing is selected.
    """
    if names is None:
        return tuple(CORRUPTIONS)
    if isinstance(names, str):
        names = (names,)
    try:
        names = list(names)
    except TypeError:
        raise ConfigError(
            f"corruptions must be a name or a list of names, got {type(names).__name__}; "
            f"choose from {tuple(CORRUPTIONS)}, the subsets {tuple(SUBSETS)} or 'all'."
        ) from None
    chosen: set[str] = set()
    for n in names:
        if n == "all":
            chosen.update(CORRUPTIONS)
        elif isinstance(n, str) and n in SUBSETS:
            chosen.update(SUBSETS[n])
        elif isinstance(n, str) and n in CORRUPTIONS:
            chosen.add(n)
        else:
            raise ConfigError(
                f"Unknown corruption {n!r}{did_you_mean(n, [*CORRUPTIONS, *SUBSETS, 'all'])}"
                + f"; expected one of {tuple(CORRUPTIONS)}, a subset {tuple(SUBSETS)} or 'all'."
            )
    if not chosen:
        raise ConfigError(f"No corruption selected (got {names!r}); name at least one of {tuple(CORRUPTIONS)}.")
    return tuple(n for n in CORRUPTIONS if n in chosen)


def check_severity(severity: Any) -> int:
    """Return ``severity`` as an int in 0..5 (0 = clean) or raise ConfigError."""
    if isinstance(severity, (int, np.integer)) and not isinstance(severity, (bool, np.bool_)) \
            and 0 <= severity <= MAX_SEVERITY:
        return int(severity)
    raise ConfigError(
        f"severity must be an int in 0..{MAX_SEVERITY} (0 = clean, 1 = mild, {MAX_SEVERITY} = strongest), "
        f"got {severity!r}."
    )


def make_rng(seed: Any, name: str = "") -> np.random.Generator:
    """A Generator from ``seed``: a Generator is used as is; an int >= 0 (``None`` = 0) is
    combined with ``name`` so different corruptions draw different numbers."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        seed = 0
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return np.random.default_rng([int(seed), zlib.crc32(name.encode())])
    raise ConfigError(f"seed must be an int >= 0 or a numpy Generator, got {seed!r}.")


def _as_array(a: Any, caller: str) -> np.ndarray:
    """``a`` as an ndarray, or DataError for nested lists numpy cannot make one of."""
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except ValueError:
        raise DataError(f"{caller} expects a uint8 numpy array, got a {type(a).__name__} whose rows have "
                        "different lengths; pass np.asarray(image, dtype=np.uint8).") from None


def check_image(image: Any, caller: str = "corrupt") -> np.ndarray:
    """One uint8 image of shape (h, w), (h, w, 1) or (h, w, 3), each side >= 8, or DataError."""
    return _check_image(_as_array(image, caller), caller, squeeze=False, min_side=MIN_SIDE, arrays_only=False,
                        batch_hint="use corrupt_batch for a batch")


def check_batch(images: Any, caller: str = "corrupt_batch", allow_float: bool = False) -> np.ndarray:
    """A batch of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3), each side >= 8, or DataError.

    ``allow_float`` also accepts float images (values 0..255); otherwise they must be uint8.
    """
    a = _as_array(images, caller)
    if not (allow_float and np.issubdtype(a.dtype, np.floating)):
        a = check_uint8(a, caller, "images")
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] not in (1, 3)):
        raise DataError(
            f"{caller} expects a batch of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3), got shape {a.shape}. "
            "For one image use corrupt(), or add a batch axis with image[None]."
        )
    if min(a.shape[1:3]) < MIN_SIDE:
        raise DataError(
            f"{caller} expects images at least {MIN_SIDE}x{MIN_SIDE}, got batch shape {a.shape}"
            " (a single (h, w, 3) image passed as a batch looks like this: add a batch axis with image[None])."
        )
    return a


# -- entry points --------------------------------------------------------------------------
def corrupt(image: np.ndarray, name: str, severity: int = 1, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` to one image.

    Parameters
    ----------
    image : uint8 array of shape (h, w) or (h, w, 3) (also (h, w, 1)), each side >= 8
    name : a key of :data:`CORRUPTIONS` (see :data:`SUBSETS` for the families)
    severity : int in 0..5; 0 returns a copy of the image
    seed : int >= 0 or numpy Generator; the same seed gives the same output

    Returns
    -------
    uint8 array of the input's shape
    """
    img = check_image(image, "corrupt")
    name = _check_name(name)
    return _run(name, img[None], check_severity(severity), make_rng(seed, name))[0]


def corrupt_batch(images: np.ndarray, name: str, severity: int = 1,
                  seed: int | np.random.Generator = 0) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` to a batch in one vectorised call.

    Parameters
    ----------
    images : uint8 array of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3)
    name, severity, seed : as in :func:`corrupt`; random parameters (noise, positions,
        directions) are drawn per image from one Generator

    Returns
    -------
    uint8 array of the input's shape
    """
    x = check_batch(images, "corrupt_batch")
    name = _check_name(name)
    return _run(name, x, check_severity(severity), make_rng(seed, name))
