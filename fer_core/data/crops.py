"""The faces of a photo and the crops a classifier sees: one detector setting, one crop rule, shared
by predictions on photos, videos and the camera (:class:`fer_core.inference.Predictor`) and by the
single faces the dashboard's Explain and Robustness pages take from an upload."""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError
from .align import align_face
from .faces import Face, crop_face, get_detector

ALIGNED_SIZE = 192  # side of an eye-aligned crop (shown to the user; resized to the model input)


class FaceCropper:
    """Find the faces of RGB photos and cut each one out the way FER2013's faces are framed.

    Parameters
    ----------
    detector : ``"blazeface"`` (default: best recall and no false box on the shared real photos,
        tens of ms, finds the eyes), ``"haar"`` (OpenCV; boxes some clothing) or ``"mtcnn"`` (slower).
    min_face : smallest face side in pixels the detector reports.
    margin : crop margin around each detected box, as a fraction of the box.
    detect_width : photos wider than this are searched for faces on a copy scaled down to this
        width (boxes are scaled back; crops come from the full-resolution photo). Detection cost
        grows with the pixel count, so this keeps a 640x480 photo fast. ``None`` detects at full size.
    align : crop faces with their eyes where FER2013 has them (:mod:`fer_core.data.align`) when the
        detector finds the eyes; otherwise (or False) a square box crop with ``margin``.
    face_check : keep a Haar or MTCNN box only when BlazeFace also finds a face in it (drops boxed
        clothing and other non-faces; BlazeFace boxes need no check).
    """

    def __init__(self, *, detector: str = "blazeface", min_face: int = 30, margin: float = 0.15,
                 detect_width: int | None = 320, align: bool = True, face_check: bool = True):
        if margin < 0:
            raise ConfigError(f"margin must be >= 0, got {margin}.")
        self.detector = get_detector(detector, min_size=int(min_face))
        self.margin, self.detect_width, self.min_face = margin, detect_width, int(min_face)
        self.align, self.face_check = bool(align), bool(face_check)

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The crop the classifier sees: eye-aligned when the eyes are known (and ``align``), else the box."""
        if self.align and face.eyes is not None:
            try:
                return align_face(image, *face.eyes, size=ALIGNED_SIZE)
            except ValueError:  # degenerate eye points: fall back to the box
                pass
        return crop_face(image, face, margin=self.margin)

    def detect(self, image: np.ndarray) -> list[Face]:
        """The faces of an RGB image (largest first), with the detector and checks of this cropper."""
        faces = self._detect_scaled(image)
        if self.face_check and self.detector.method != "blazeface" and faces:
            checker = get_detector("blazeface")
            faces = [f for f in faces if checker.detect(crop_face(image, f, margin=0.3))]
        return faces

    def _detect_scaled(self, image: np.ndarray) -> list[Face]:
        w = image.shape[1]
        if self.detect_width is None or w <= self.detect_width or self.detector.method == "blazeface":
            return self.detector.detect(image)  # BlazeFace scales the photo to 192x192 itself
        scale = self.detect_width / w
        # Keep the smallest face the user asked for detectable on the smaller copy.
        small_min = max(12, int(self.min_face * scale))
        detector = get_detector(self.detector.method, min_size=small_min)
        small = cv2.resize(image, (self.detect_width, max(1, int(round(image.shape[0] * scale)))),
                           interpolation=cv2.INTER_AREA)
        return [Face(tuple(int(round(v / scale)) for v in f.box), f.score,
                     None if f.eyes is None else tuple((x / scale, y / scale) for x, y in f.eyes))
                for f in detector.detect(small)]
