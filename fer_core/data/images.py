"""Safe image decoding: any common file or byte string to a uint8 greyscale or RGB array.

Odd but valid images (16-bit, CMYK, palette, RGBA, EXIF-rotated) are converted correctly; broken
input raises :class:`~fer_core.errors.ImageReadError` naming the file and what was wrong.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError, ImageReadError

#: Largest image accepted, in pixels (a decompression-bomb bound; 64 MP covers any camera photo).
MAX_PIXELS = 64_000_000
#: File name endings treated as images when scanning folders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
#: Background that transparent pixels are composited onto (white, as most viewers show them).
ALPHA_BACKGROUND = 255
#: ITU-R 601 luma weights of red, green and blue (PIL's "L" mode): grey = R*0.299 + G*0.587 + B*0.114.
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def is_image_file(path: str | Path) -> bool:
    """True when the name ends in a known image extension (case-insensitive)."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def unreadable(source: str | Path, exc: OSError) -> ImageReadError:
    """The error of a file that cannot be opened or read (missing, a folder, no permission)."""
    return ImageReadError(str(source), f"cannot read file ({exc.strerror or exc})")


def read_image(
    src: str | Path | bytes,
    *,
    color: str = "grey",
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Decode an image file or byte string into a uint8 array.

    Parameters
    ----------
    src : path or bytes
        The image file, or its bytes (e.g. an upload).
    color : {"grey", "rgb"}
        ``"grey"`` returns shape (h, w); ``"rgb"`` returns (h, w, 3).
    max_pixels : int
        Images with more pixels are refused before decoding (decompression bombs).
    name : str, optional
        How to name the source in errors (defaults to the path, or ``"<bytes>"``).

    Raises
    ------
    ImageReadError
        Empty, truncated, non-image or oversized input, naming the source and the reason.
    """
    if color not in ("grey", "rgb"):
        raise DataError(f"read_image color must be 'grey' or 'rgb', got {color!r}.")
    label = name or (str(src) if not isinstance(src, (bytes, bytearray)) else "<bytes>")
    try:
        data = bytes(src) if isinstance(src, (bytes, bytearray)) else Path(src).read_bytes()
    except OSError as exc:
        raise unreadable(label, exc) from None
    if not data:
        raise ImageReadError(label, "empty file (0 bytes)")
    try:
        # PIL's process-wide bomb limit (shared by the server's session threads) is never changed:
        # Image.open checks it from the header, and ours, usually lower, is applied just below.
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > max_pixels:
            raise ImageReadError(label, _too_big(w, h, max_pixels))
        if w == 0 or h == 0:
            raise ImageReadError(label, f"image has no pixels ({w}x{h})")
        im.load()
        im = ImageOps.exif_transpose(im) or im
        return _to_array(im, color)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:  # beyond PIL's own bound: its message gives the size
        raise ImageReadError(label, f"{exc} (possible decompression bomb); downscale it first") from None
    except UnidentifiedImageError:
        kind = file_kind(data)
        if kind in VIDEO_KINDS:
            raise ImageReadError(label, f"a video ({kind}), not a photo; give it its video extension "
                                        "(.mp4 .avi .mov .webm .mkv) to analyse it frame by frame") from None
        if kind:
            raise ImageReadError(label, f"truncated or corrupt image (starts like a {kind} file "
                                        "but cannot be decoded)") from None
        raise ImageReadError(label, "not an image, or an unsupported format (file content is not "
                                    "JPEG/PNG/BMP/GIF/TIFF/WebP)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageReadError(label, f"truncated or corrupt image ({exc})") from None


def _too_big(w: int, h: int, max_pixels: int) -> str:
    return (f"image is {w}x{h} = {w * h:,} pixels, more than the limit of {max_pixels:,} "
            "(possible decompression bomb); downscale it first")


_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP",
          b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WebP"}


#: What :func:`file_kind` calls video containers.
VIDEO_KINDS = ("MP4/MOV", "AVI", "WebM/Matroska", "FLV")


def file_kind(data: bytes) -> str | None:
    """The format a file's first bytes announce: an image kind (``"JPEG"``, ``"PNG"``, ...), a video
    container (one of :data:`VIDEO_KINDS`), or None when unknown."""
    if data[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "MP4/MOV"
    if data.startswith(b"RIFF") and data[8:12] == b"AVI ":
        return "AVI"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "WebM/Matroska"
    if data.startswith(b"FLV"):
        return "FLV"
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)




def _to_array(im: Image.Image, color: str) -> np.ndarray:
    """Convert any PIL mode to uint8 grey (h, w) or RGB (h, w, 3)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        elif arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return grey if color == "grey" else np.repeat(grey[..., None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (ALPHA_BACKGROUND,) * 3 + (255,))
        im = Image.alpha_composite(background, rgba).convert("RGB")
    if color == "grey":
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def check_uint8(a: Any, caller: str, what: str = "pixels") -> np.ndarray:
    """``a`` as an ndarray of dtype uint8, or DataError saying how to convert it."""
    a = np.asarray(a) if not isinstance(a, np.ndarray) else a
    if a.dtype != np.uint8:
        raise DataError(
            f"{caller} expects uint8 {what}, got dtype {a.dtype}. Convert with "
            "np.clip(x, 0, 255).astype(np.uint8) (scale floats in [0, 1] by 255 first)."
        )
    return a


def check_image(image: Any, caller: str, *, squeeze: bool = True, min_side: int = 1, arrays_only: bool = True,
                batch_hint: str = "pass one image, not a batch") -> np.ndarray:
    """One uint8 image of shape (h, w) grey or (h, w, 3) RGB, each side >= ``min_side``, or DataError.

    A (h, w, 1) image is squeezed to (h, w), or kept as it is when ``squeeze`` is False. Only a
    numpy array is accepted unless ``arrays_only`` is False (then nested lists are converted).
    ``batch_hint`` ends the message for a wrong shape (e.g. which function takes a batch).
    """
    if arrays_only and not isinstance(image, np.ndarray):
        raise DataError(
            f"{caller} expects a numpy array, got {type(image).__name__}. "
            "Decode the file first (e.g. with PIL or cv2.imdecode)."
        )
    img = check_uint8(image, caller)
    if squeeze and img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] not in ((3,) if squeeze else (1, 3))):
        raise DataError(
            f"{caller} expects one image of shape (h, w) grey or (h, w, 3) RGB, got shape {img.shape}. "
            f"Drop an alpha channel with image[..., :3]; {batch_hint}."
        )
    if img.size == 0:
        raise DataError(f"{caller} got an empty image of shape {img.shape}.")
    if min(img.shape[:2]) < min_side:
        raise DataError(f"{caller} expects an image at least {min_side}x{min_side}, got shape {img.shape}.")
    return img


def to_grey(images: np.ndarray) -> np.ndarray:
    """RGB (..., h, w, 3) to greyscale (..., h, w) with ITU-R 601 weights; grey passes through."""
    images = np.asarray(images)
    if images.ndim >= 3 and images.shape[-1] == 3:
        weights = np.array(LUMA_WEIGHTS, dtype=np.float32)
        return np.clip(np.rint(images.astype(np.float32) @ weights), 0, 255).astype(np.uint8)
    return images


def to_rgb(images: np.ndarray) -> np.ndarray:
    """Greyscale (..., h, w) to RGB (..., h, w, 3) by repeating the channel; RGB passes through."""
    images = np.asarray(images)
    if images.ndim >= 3 and images.shape[-1] == 3:
        return images
    return np.repeat(images[..., None], 3, axis=-1)


def resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize one image to ``size`` (int for square, or (height, width)) with area/cubic interpolation."""
    h, w = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (h, w):
        return image
    shrinking = h < image.shape[0] or w < image.shape[1]
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return out


def enlarge(image: np.ndarray, side: int = 144) -> np.ndarray:
    """A small face scaled up by a whole factor to about ``side`` pixels (nearest neighbour keeps
    the pixels honest) for display."""
    h, w = image.shape[:2]
    scale = max(1, side // max(h, w))
    return cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)


def resize_batch(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize every image of a (n, h, w[, 3]) batch; returns a new uint8 array."""
    h, w = (size, size) if isinstance(size, int) else size
    if images.shape[1:3] == (h, w):
        return images
    out = np.empty((len(images), h, w) + images.shape[3:], dtype=np.uint8)
    for i, im in enumerate(images):
        out[i] = resize(im, (h, w))
    return out
