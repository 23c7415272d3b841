"""Enlarging faces for display."""
from __future__ import annotations

import cv2
import numpy as np


def enlarge(image: np.ndarray, side: int = 144) -> np.ndarray:
    """A small face scaled up (nearest neighbour keeps the pixels honest) for display."""
    h, w = image.shape[:2]
    scale = max(1, side // max(h, w))
    return cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
