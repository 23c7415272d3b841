"""Eye-aligned crops put the eyes where FER2013 has them, whatever the photo's scale and tilt."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_core.data.align import FER2013_EYES, align_face, eye_transform


def _dots(shape, points, r=6):
    img = np.zeros(shape, np.uint8)
    for x, y in points:
        cv2.circle(img, (int(round(x)), int(round(y))), r, 255, -1)
    return img


def _blob_centres(img):
    _, lab, stats, cents = cv2.connectedComponentsWithStats((img > 100).astype(np.uint8))
    return sorted((tuple(c) for c in cents[1:]), key=lambda c: c[0])


@pytest.mark.parametrize("tilt_deg,scale", [(0, 1.0), (20, 1.0), (-35, 2.5), (10, 0.6)])
def test_eyes_land_on_the_template(tilt_deg, scale):
    centre, half = np.array([300.0, 260.0]), 60.0 * scale
    t = np.deg2rad(tilt_deg)
    d = half * np.array([np.cos(t), np.sin(t)])
    left, right = centre - d, centre + d
    img = _dots((600, 640), [left, right], r=max(3, int(8 * scale)))
    crop = align_face(img, right, left, size=96)  # order of the eyes does not matter
    (lx, ly), (rx, ry) = _blob_centres(crop)
    assert lx == pytest.approx(FER2013_EYES[0] * 96, abs=1.5)
    assert rx == pytest.approx(FER2013_EYES[1] * 96, abs=1.5)
    assert ly == pytest.approx(FER2013_EYES[2] * 96, abs=1.5) and ry == pytest.approx(ly, abs=1.0)


def test_shape_dtype_and_bad_eyes():
    img = np.full((100, 120, 3), 7, np.uint8)
    crop = align_face(img, (40, 50), (80, 50))
    assert crop.shape == (48, 48, 3) and crop.dtype == np.uint8 and (crop == 7).all()
    with pytest.raises(ValueError, match="coincide"):
        eye_transform((10, 10), (10, 10))
