"""Composed test photos: real 48x48 FER2013 faces pasted onto a 640x480 background at known boxes.

The file names were chosen because both detectors find them at 120-160 px on plain and noise
backgrounds (Haar even with min_neighbors=12; MTCNN with confidence > 0.99).
"""
from __future__ import annotations

import cv2
import numpy as np

FACE_FILES = (
    "test/happy/PublicTest_10130075.jpg",
    "test/neutral/PublicTest_10726845.jpg",
    "test/happy/PublicTest_12775164.jpg",
)
H, W = 480, 640


def background(kind: str, shape=(H, W)) -> np.ndarray:
    if kind == "plain":
        return np.full(shape, 128, np.uint8)
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def compose(faces, boxes, bg: str = "plain", shape=(H, W)) -> np.ndarray:
    """Paste each 48x48 face, upscaled to its box (x, y, side, side), onto a background."""
    img = background(bg, shape)
    for face, (x, y, side, _) in zip(faces, boxes):
        img[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return img


