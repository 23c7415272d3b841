"""Face detection (MediaPipe BlazeFace, OpenCV Haar cascade or MTCNN) and cropping, for images and
whole datasets.

BlazeFace (:mod:`fer_core.data.blazeface`) is the photo default: on the shared real photos it found
17 of 18 faces with no false box, in tens of ms, and it returns the eyes, so crops can be aligned
the way FER2013's faces are (:mod:`fer_core.data.align`).

The Haar cascade is the fast default (tens of ms on a 640x480 photo) and needs only OpenCV.
MTCNN is slower (a few hundred ms) but finds turned and small faces more often; it imports
TensorFlow, so it is imported only when ``method="mtcnn"`` is asked for.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from ..errors import ConfigError, DataError
from .dataset import FERDataset, LoadIssue
from .images import check_image, to_grey, to_rgb

#: Detection methods :class:`FaceDetector` knows.
METHODS: tuple[str, ...] = ("blazeface", "haar", "mtcnn")

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
MTCNN_FACE_SIZE = 20  # the only min_face_size at which mtcnn 1.0.0 builds a complete pyramid


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes
    ----------
    box : tuple of int (x, y, w, h), in image pixels (x to the right, y down)
    score : float, detector confidence in [0, 1] (always 1.0 for the Haar cascade)
    eyes : ((x, y), (x, y)) centres of the eyes, left of the image first, when the detector finds
        them (BlazeFace, MTCNN); None otherwise
    """

    box: tuple[int, int, int, int]
    score: float = 1.0
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def area(self) -> int:
        """w * h in pixels."""
        return int(self.box[2]) * int(self.box[3])


# -- validation ---------------------------------------------------------------
def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"Unknown face detection method {method!r}; expected one of {METHODS}.")
    return method


def _check_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``None``, an int side or an (height, width) pair -> (height, width)."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        pair = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) == 2 and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size
    ):
        pair = (int(size[0]), int(size[1]))
    else:
        raise ConfigError(f"size must be an int or a (height, width) pair of ints, got {size!r}.")
    if min(pair) < 1:
        raise ConfigError(f"size must be positive, got {size!r}.")
    return pair


# -- detection ----------------------------------------------------------------
def _load_haar() -> "cv2.CascadeClassifier":
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / HAAR_CASCADE if folder else None
    if path is None or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
        raise DataError(
            f"OpenCV's Haar cascade {HAAR_CASCADE} was not found (cv2 {cv2.__version__}, "
            f"looked in {folder or 'cv2.data.haarcascades (missing)'}). It ships with "
            "opencv-python-headless 4.x (5.0 dropped it): pip install 'opencv-python-headless>=4.8,<5', "
            "or use method='mtcnn'."
        )
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise DataError(f"OpenCV could not load the Haar cascade {path}; reinstall opencv-python-headless 4.x.")
    return cascade


def _load_mtcnn() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up lines
    try:
        from mtcnn import MTCNN  # imports TensorFlow (5-6 s the first time)
    except ImportError as exc:
        raise ConfigError(
            f"method='mtcnn' needs the mtcnn package (1.0.0) and TensorFlow: {exc}. "
            "Install them with pip install mtcnn==1.0.0 tensorflow, or use method='haar'."
        ) from exc
    return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


class FaceDetector:
    """Find faces in one image with BlazeFace, OpenCV's Haar cascade or MTCNN.

    Parameters
    ----------
    method : {"blazeface", "haar", "mtcnn"}
        ``"blazeface"``: MediaPipe's full-range BlazeFace (TensorFlow Lite; finds the eyes too).
        ``"haar"``: OpenCV's frontal-face cascade on the histogram-equalised grey image (fast).
        ``"mtcnn"``: the MTCNN network of the ``mtcnn`` package (slower, imports TensorFlow).
    min_size : int
        Faces smaller than ``min_size`` pixels in width or height are not reported. MTCNN runs on
        the image rescaled by ``20 / min_size`` (its reliable face size), so a larger value is faster.
    scale_factor : float > 1
        Haar only: step between the scales of the detection window.
    min_neighbors : int >= 0
        Haar only: overlapping detections needed to keep a face (higher = fewer false positives).
    mtcnn_min_confidence : float in [0, 1]
        MTCNN only: faces with a lower confidence are dropped.
    blazeface_min_confidence : float in [0, 1]
        BlazeFace only: faces with a lower score are dropped.

    Instances are safe to share between threads (detection holds a lock).
    """

    def __init__(
        self,
        method: str = "haar",
        min_size: int = 20,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        mtcnn_min_confidence: float = 0.9,
        blazeface_min_confidence: float = 0.5,
    ):
        self.method = _check_method(method)
        if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 1:
            raise ConfigError(f"min_size must be a positive int (pixels), got {min_size!r}.")
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, (int, float)) or not scale_factor > 1.0:
            raise ConfigError(f"scale_factor must be a number > 1 (e.g. 1.1), got {scale_factor!r}.")
        if isinstance(min_neighbors, bool) or not isinstance(min_neighbors, (int, np.integer)) or min_neighbors < 0:
            raise ConfigError(f"min_neighbors must be an int >= 0, got {min_neighbors!r}.")
        if (
            isinstance(mtcnn_min_confidence, bool)
            or not isinstance(mtcnn_min_confidence, (int, float))
            or not 0.0 <= mtcnn_min_confidence <= 1.0
        ):
            raise ConfigError(f"mtcnn_min_confidence must be a number in [0, 1], got {mtcnn_min_confidence!r}.")
        self.min_size = int(min_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.mtcnn_min_confidence = float(mtcnn_min_confidence)
        self.blazeface_min_confidence = float(blazeface_min_confidence)
        self._lock = threading.Lock()
        if method == "blazeface":
            from .blazeface import BlazeFace

            self._backend = BlazeFace("full", min_confidence=self.blazeface_min_confidence)
        else:
            self._backend = _load_haar() if method == "haar" else _load_mtcnn()

    def __repr__(self) -> str:
        return (
            f"FaceDetector(method={self.method!r}, min_size={self.min_size}, scale_factor={self.scale_factor}, "
            f"min_neighbors={self.min_neighbors}, mtcnn_min_confidence={self.mtcnn_min_confidence})"
        )

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image``, largest first.

        Parameters
        ----------
        image : ndarray of uint8, shape (h, w) grey or (h, w, 3) RGB

        Returns
        -------
        list of Face, sorted by box area (largest first), then by score; ``[]`` when none is found.
        """
        image = check_image(image, "FaceDetector.detect")
        with self._lock:
            detect = {"haar": self._detect_haar, "mtcnn": self._detect_mtcnn,
                      "blazeface": self._detect_blazeface}[self.method]
            faces = detect(image)
        faces = [f for f in faces if f.box[2] >= self.min_size and f.box[3] >= self.min_size]
        return sorted(faces, key=lambda f: (-f.area, -f.score, f.box[1], f.box[0]))

    def _detect_blazeface(self, image: np.ndarray) -> list[Face]:
        return [Face(d.box, d.score, tuple((float(p[0]), float(p[1])) for p in d.eyes))
                for d in self._backend.detect(to_rgb(image))]

    def _detect_haar(self, image: np.ndarray) -> list[Face]:
        grey = cv2.equalizeHist(to_grey(image))
        boxes = self._backend.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        return [Face(tuple(int(v) for v in box), 1.0) for box in np.asarray(boxes).reshape(-1, 4)]

    def _detect_mtcnn(self, image: np.ndarray) -> list[Face]:
        # mtcnn 1.0.0 sizes its image pyramid from the image alone, so any min_face_size but its
        # default 20 loses scales (e.g. 40 finds nothing; 12 misses a face filling a 48x48 image).
        # Instead, rescale the image so that ``min_size`` pixels become 20, and keep the default.
        h, w = image.shape[:2]
        scale = MTCNN_FACE_SIZE / self.min_size
        sh, sw = int(round(h * scale)), int(round(w * scale))
        if min(sh, sw) < MTCNN_FACE_SIZE:  # no face of min_size fits, and PNet needs >= 12 px
            return []
        rgb = to_rgb(image)
        if scale != 1.0:
            rgb = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        found = self._backend.detect_faces(
            np.ascontiguousarray(rgb), box_format="xywh", min_face_size=MTCNN_FACE_SIZE
        )
        faces = []
        for item in found:
            if float(item["confidence"]) < self.mtcnn_min_confidence:
                continue
            x, y, bw, bh = (int(round(float(v) / scale)) for v in item["box"])
            x, y = max(x, 0), max(y, 0)
            bw, bh = min(bw, w - x), min(bh, h - y)
            kp = item.get("keypoints") or {}
            eyes = None
            if "left_eye" in kp and "right_eye" in kp:
                pts = sorted(((float(kp[k][0]) / scale, float(kp[k][1]) / scale) for k in ("left_eye", "right_eye")))
                eyes = (pts[0], pts[1])
            if bw > 0 and bh > 0:
                faces.append(Face((x, y, bw, bh), float(item["confidence"]), eyes))
        return faces


@lru_cache(maxsize=8)
def _cached_detector(method: str, options: tuple[tuple[str, Any], ...]) -> FaceDetector:
    return FaceDetector(method, **dict(options))


def get_detector(method: str = "haar", **kw: Any) -> FaceDetector:
    """A shared :class:`FaceDetector` for ``method`` and options ``kw`` (built once, then cached).

    Same parameters as :class:`FaceDetector`; loading MTCNN takes seconds, so reuse it this way.
    """
    _check_method(method)
    try:
        return _cached_detector(method, tuple(sorted(kw.items())))
    except TypeError as exc:  # unhashable option value or unknown keyword
        raise ConfigError(f"Bad face detector options {kw!r}: {exc}.") from exc


# -- cropping -----------------------------------------------------------------
def _check_box(face: Face | Sequence[int]) -> tuple[int, int, int, int]:
    box = face.box if isinstance(face, Face) else face
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise DataError(f"crop_face expects a Face or an (x, y, w, h) box, got {face!r}.") from None
    if w <= 0 or h <= 0:
        raise DataError(f"crop_face needs a box with positive width and height, got (x, y, w, h) = {(x, y, w, h)}.")
    return x, y, w, h


def crop_face(
    image: np.ndarray,
    face: Face | Sequence[int],
    margin: float = 0.2,
    size: int | Sequence[int] | None = None,
    square: bool = True,
) -> np.ndarray:
    """Cut one face out of ``image``, with a margin, optionally squared and resized.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w) or (h, w, 3)
    face : Face or (x, y, w, h) box in pixels
    margin : float >= 0
        Added on every side as a fraction of the box: ``margin=0.2`` widens a 100-pixel box by
        20 pixels left and right (140 in all), and likewise in height.
    size : int, (height, width) or None
        Resize the crop to this size (INTER_AREA when shrinking, INTER_LINEAR when enlarging);
        ``None`` keeps the crop's own size.
    square : bool
        Grow the shorter side of the (margined) box, about its centre, to make a square crop.

    Returns
    -------
    ndarray of uint8, shape (ch, cw) or (ch, cw, 3) like ``image``. The crop keeps the requested
    geometry: the part of the region that lies outside the image is filled by replicating the
    image's edge pixels (so the face stays centred); the box must overlap the image.
    """
    image = check_image(image, "crop_face")
    x, y, w, h = _check_box(face)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ConfigError(f"margin must be a number >= 0 (a fraction of the box), got {margin!r}.")
    out_size = _check_size(size)
    ih, iw = image.shape[:2]
    if x >= iw or y >= ih or x + w <= 0 or y + h <= 0:
        raise DataError(f"Face box (x, y, w, h) = {(x, y, w, h)} lies outside the {iw}x{ih} image.")

    cw, ch = w * (1 + 2 * margin), h * (1 + 2 * margin)
    if square:
        cw = ch = max(cw, ch)
    cw, ch = max(1, int(round(cw))), max(1, int(round(ch)))
    x0 = int(round(x + w / 2 - cw / 2))
    y0 = int(round(y + h / 2 - ch / 2))
    x1, y1 = x0 + cw, y0 + ch

    crop = image[max(y0, 0): min(y1, ih), max(x0, 0): min(x1, iw)]
    pad = (max(0, -y0), max(0, y1 - ih)), (max(0, -x0), max(0, x1 - iw))
    if any(p for pair in pad for p in pair):
        crop = np.pad(crop, pad + ((0, 0),) * (crop.ndim - 2), mode="edge")
    if out_size is not None and crop.shape[:2] != out_size:
        th, tw = out_size
        shrink = th * tw < crop.shape[0] * crop.shape[1]
        crop = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop)


def crop_faces(
    ds: FERDataset,
    *,
    method: str | FaceDetector = "haar",
    size: int = 48,
    margin: float = 0.2,
    grey: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FERDataset, list[LoadIssue]]:
    """Detect the largest face in every image of ``ds`` and keep only that crop.

    Parameters
    ----------
    ds : FERDataset
    method : {"blazeface", "haar", "mtcnn"} or a FaceDetector (to choose ``min_size`` etc.)
    size : int, side of the square output crops
    margin : float, see :func:`crop_face`
    grey : bool, True for (n, size, size) grey output, False for (n, size, size, 3) RGB
    progress : callable(done, total), called after each image (e.g. to drive a progress bar)

    Returns
    -------
    cropped : FERDataset with the images where a face was found, labels, splits, sources,
        soft labels and not-face flags kept aligned; its ``issues`` are those of ``ds`` plus
        the new ones
    issues : list of LoadIssue, one per image with no face (``"no face found by haar detector"``);
        those images are left out of ``cropped``, never silently kept uncropped
    """
    if not isinstance(ds, FERDataset):
        raise DataError(f"crop_faces expects a FERDataset, got {type(ds).__name__}.")
    detector = method if isinstance(method, FaceDetector) else get_detector(method)
    side = _check_size(size)
    if side[0] != side[1]:
        raise ConfigError(f"crop_faces makes square crops; size must be an int, got {size!r}.")
    if progress is not None and not callable(progress):
        raise ConfigError(f"progress must be a callable(done, total) or None, got {type(progress).__name__}.")

    crops: list[np.ndarray] = []
    keep: list[int] = []
    issues: list[LoadIssue] = []
    total = len(ds)
    for i in range(total):
        image = ds.images[i]
        faces = detector.detect(image)
        if not faces:
            issues.append(LoadIssue(str(ds.sources[i]), f"no face found by {detector.method} detector"))
        else:
            crop = crop_face(image, faces[0], margin=margin, size=side, square=True)
            crops.append(to_grey(crop) if grey else to_rgb(crop))
            keep.append(i)
        if progress is not None:
            progress(i + 1, total)

    shape = (0, *side) if grey else (0, *side, 3)
    images = np.stack(crops) if crops else np.zeros(shape, np.uint8)
    out = ds.select(np.asarray(keep, dtype=np.int64))
    out = replace(out, images=images, issues=list(ds.issues) + issues)
    return out, issues
