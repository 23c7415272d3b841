"""Synthetic clips: drawn faces (:mod:`fer_core.data.synthetic`) moving across a plain background,
written as a video file or a YUV4MPEG2 stream (Chromium's fake camera). For tests and benchmarks:
the faces are drawings, not people, and BlazeFace finds them at about 100 px and up.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from ..data.synthetic import render_face, sample_face_params
from ..errors import ConfigError


def moving_faces(n_frames: int, *, size: tuple[int, int] = (640, 480), faces: int = 2, side: int = 140,
                 step: int = 8, expressions: Sequence[str] = ("happy", "surprise"),
                 background: int = 120) -> Iterator[np.ndarray]:
    """Yield ``n_frames`` RGB frames of ``size`` (width, height) with ``faces`` drawn faces of ``side``
    pixels: the first moves right along the top, the second left along the bottom (``step`` pixels
    per frame, bouncing at the edges), so they cross without overlapping."""
    w, h = size
    if faces not in (1, 2) or side * 2 > h or side > w:
        raise ConfigError(f"moving_faces draws 1 or 2 faces of side <= height/2; got faces={faces}, side={side}, size={size}.")
    drawn = [render_face(sample_face_params(expressions[i % len(expressions)], rng=i, rgb=True), size=side, rng=i)
             for i in range(faces)]
    span = max(1, w - side)
    rows = [h // 4 - side // 2, 3 * h // 4 - side // 2] if faces == 2 else [(h - side) // 2]
    for t in range(n_frames):
        frame = np.full((h, w, 3), background, np.uint8)
        for i, face in enumerate(drawn):
            pos = (t * step) % (2 * span)
            x = pos if pos <= span else 2 * span - pos  # bounce
            x = x if i == 0 else span - x
            y = max(0, rows[i])
            frame[y:y + side, x:x + side] = face
        yield frame


def write_clip(path: str | Path, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: float = 30.0) -> Path:
    """Write RGB frames with OpenCV: ``.avi`` as MJPG, anything else as MPEG-4 part 2 (``mp4v``)."""
    path = Path(path)
    writer = None
    try:
        for frame in frames:
            if writer is None:
                fourcc = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps,
                                         (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise ConfigError(f"OpenCV cannot write {path.name} with {fourcc}.")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    return path


def write_y4m(path: str | Path, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: int = 30) -> Path:
    """Write RGB frames (even width and height) as YUV4MPEG2 4:2:0 (``C420jpeg``), the format of
    Chromium's ``--use-file-for-fake-video-capture``."""
    path = Path(path)
    with path.open("wb") as fh:
        header = False
        for frame in frames:
            h, w = frame.shape[:2]
            if w % 2 or h % 2:
                raise ConfigError(f"y4m 4:2:0 frames need even sizes, got {w}x{h}.")
            if not header:
                fh.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
                header = True
            yuv = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)  # planar Y, then U and V at half size
            fh.write(b"FRAME\n")
            fh.write(yuv.tobytes())
    return path
