"""Eye-aligned face crops framed like FER2013's, for detectors that find the eyes (BlazeFace).

FER2013's 48x48 faces are tightly framed and roughly registered. Measured with BlazeFace
(short-range) on 587 of 600 random FER2013 training faces (``experiments/bench/fer2013_framing.py``):
median eye centres at x = 0.310 and 0.680, y = 0.394 and 0.391 of the side, so eyes level, an
inter-ocular distance of 0.37 of the side, centred at x = 0.495. Cropping a photo with the same
similarity transform (rotate the eye line level, scale the eye distance, place the eyes) gives the
classifier faces framed as it was trained on.
"""
from __future__ import annotations

import cv2
import numpy as np

#: Where FER2013 puts the eyes, as fractions of the crop side: (left x, right x, y).
FER2013_EYES: tuple[float, float, float] = (0.310, 0.680, 0.392)


def eye_transform(left_eye, right_eye, size: int = 48,
                  template: tuple[float, float, float] = FER2013_EYES) -> np.ndarray:
    """The 2x3 similarity matrix mapping a photo's eyes onto ``template`` in a size x size crop."""
    src_l, src_r = np.asarray(left_eye, np.float64), np.asarray(right_eye, np.float64)
    if src_r[0] < src_l[0]:
        src_l, src_r = src_r, src_l
    dst_l = np.array([template[0] * size, template[2] * size])
    dst_r = np.array([template[1] * size, template[2] * size])
    d_src, d_dst = src_r - src_l, dst_r - dst_l
    norm = float(np.hypot(*d_src))
    if norm < 1e-6:
        raise ValueError("the two eye points coincide; cannot align the face")
    scale = float(np.hypot(*d_dst)) / norm
    angle = np.arctan2(d_src[1], d_src[0]) - np.arctan2(d_dst[1], d_dst[0])
    c, s = scale * np.cos(-angle), scale * np.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    shift = dst_l - rot @ src_l
    return np.hstack([rot, shift[:, None]])


def align_face(image: np.ndarray, left_eye, right_eye, size: int = 48,
               template: tuple[float, float, float] = FER2013_EYES) -> np.ndarray:
    """A size x size crop of ``image`` with the eyes where FER2013 has them (edges replicated)."""
    m = eye_transform(left_eye, right_eye, size, template)
    interp = cv2.INTER_AREA if m[0, 0] ** 2 + m[0, 1] ** 2 < 1.0 else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:  # warpAffine does not area-average: blur before shrinking a lot
        scale = float(np.hypot(m[0, 0], m[0, 1]))
        sigma = 0.5 / max(scale, 1e-6) - 0.5
        if sigma > 0.5:
            image, m = _source_window(image, m, size, margin=int(np.ceil(4 * sigma)) + 2)
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        interp = cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def _source_window(image: np.ndarray, m: np.ndarray, size: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the crop samples (plus ``margin`` pixels, clipped to the image) and ``m``
    shifted to it: blurring that window gives the same crop as blurring the whole photo, faster."""
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inv.T
    h, w = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(v)) - margin) for v in corners.min(axis=0))
    x1, y1 = min(w, int(np.ceil(corners[:, 0].max())) + margin), min(h, int(np.ceil(corners[:, 1].max())) + margin)
    if x1 - x0 < 2 or y1 - y0 < 2 or (x0 == 0 and y0 == 0 and x1 == w and y1 == h):
        return image, m
    shifted = m.copy()
    shifted[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    return image[y0:y1, x0:x1], shifted
