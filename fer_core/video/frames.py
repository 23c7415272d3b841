"""The per-frame core shared by video files and the live camera: detect every k-th frame, follow
faces in between, classify every followed face, draw ``id: label pp%``.

>>> analyzer = FrameAnalyzer(Predictor.from_ref("default"), every=3)   # doctest: +SKIP
>>> result = analyzer.process(rgb_frame)                                # doctest: +SKIP
>>> annotated = result.annotate(rgb_frame)                              # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.faces import Face
from ..errors import ConfigError
from ..inference import Predictor, TopClass, draw_labels
from .tracking import FaceTracker


@dataclass(frozen=True)
class TrackedFace(TopClass):
    """One face in one frame: its stable id, box (x, y, w, h) and class probabilities."""

    face_id: int
    box: tuple[int, int, int, int]
    probs: np.ndarray
    classes: tuple[str, ...]

    @property
    def text(self) -> str:
        """``"2: happy 87%"``, as drawn on the frame."""
        return f"{self.face_id}: {self.label} {self.confidence:.0%}"


@dataclass
class FrameResult:
    """The faces of one analysed frame; ``detected`` is True when the detector ran on it.

    ``timings`` holds seconds spent on this frame: ``detect`` (0 when faces were followed) and
    ``classify`` (cropping included).
    """

    index: int
    faces: list[TrackedFace]
    detected: bool
    timings: dict[str, float] = field(default_factory=dict)

    def annotate(self, rgb: np.ndarray, *, copy: bool = True) -> np.ndarray:
        """``rgb`` with a box and ``id: label pp%`` per face."""
        return draw_labels(rgb, [(f.box, f.text) for f in self.faces], copy=copy)

    def rows(self, time_s: float) -> list[dict[str, Any]]:
        """One CSV row per face: frame, time_s, face_id, x, y, w, h, ``p_<class>``..., label, detected."""
        out = []
        for f in self.faces:
            x, y, w, h = f.box
            row: dict[str, Any] = {"frame": self.index, "time_s": round(float(time_s), 4), "face_id": f.face_id,
                                   "x": x, "y": y, "w": w, "h": h}
            row.update({f"p_{c}": round(float(p), 4) for c, p in zip(f.classes, f.probs)})
            row.update(label=f.label, detected=int(self.detected))
            out.append(row)
        return out


def check_every(every: Any) -> int:
    """``every`` as an int >= 1 (detect faces on every k-th frame), or ConfigError."""
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ConfigError(f"every must be a whole number >= 1 (detect faces every k-th frame), got {every!r}.")
    return int(every)


class FrameAnalyzer:
    """Frames in, faces with stable ids and probabilities out.

    Parameters
    ----------
    predictor : the detector, crop and model (:class:`~fer_core.inference.Predictor`)
    every : run the detector on every k-th frame (frames 0, k, 2k, ...); in between, faces are
        followed by :class:`~fer_core.video.tracking.FaceTracker` and classified where it puts them
    tracker : a tracker to use (default: a new :class:`FaceTracker`)

    Not safe to share between threads; one analyzer per video or camera stream.
    """

    def __init__(self, predictor: Predictor, every: int = 3, tracker: FaceTracker | None = None):
        self.predictor = predictor
        self.every = check_every(every)
        self.tracker = tracker or FaceTracker()
        self.frames = 0  # frames processed so far (the index of the next one)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.predictor.classes)

    def process(self, rgb: np.ndarray, index: int | None = None) -> FrameResult:
        """Analyse one RGB uint8 frame; ``index`` defaults to the count of frames processed before it."""
        index = self.frames if index is None else int(index)
        self.frames = index + 1
        t0 = time.perf_counter()
        detected = index % self.every == 0
        if detected:
            tracked = self.tracker.update(self.predictor.detect(rgb), index)
        else:
            tracked = self.tracker.follow(index)
        t1 = time.perf_counter()
        h, w = rgb.shape[:2]
        tracked = [(i, _clip(f, w, h)) for i, f in tracked]
        tracked = [(i, f) for i, f in tracked if f is not None]
        probs = self.predictor.classify_crops([self.predictor.crop(rgb, f) for _, f in tracked])
        t2 = time.perf_counter()
        faces = [TrackedFace(i, tuple(int(v) for v in f.box), p, self.classes) for (i, f), p in zip(tracked, probs)]
        return FrameResult(index, faces, detected, {"detect": t1 - t0 if detected else 0.0, "classify": t2 - t1})


def _clip(face: Face, width: int, height: int) -> Face | None:
    """``face`` with its box cut to the frame, or None when less than half of it is inside."""
    x, y, w, h = face.box
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < 0.5 * w * h:
        return None
    if (x0, y0, x1 - x0, y1 - y0) == tuple(face.box):
        return face
    return Face((x0, y0, x1 - x0, y1 - y0), face.score, face.eyes)
