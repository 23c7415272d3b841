"""Faces in motion: video files (:mod:`.analyze`) and the live camera (:mod:`.live`).

    reader.py    safe decoding with OpenCV, limits (probe_video, read_frames)
    tracking.py  stable face ids across frames (FaceTracker)
    frames.py    the per-frame core both use: detect every k-th frame, follow, classify, draw
    analyze.py   a video file -> CSV table, per-face summary, annotated H.264 MP4
    live.py      camera frames -> annotated frames, frame rate, rolling emotion window
"""
from __future__ import annotations

from .reader import MAX_VIDEO_MB, VIDEO_EXTENSIONS, VideoInfo, is_video_file, probe_video, read_frames
from .tracking import FaceTracker

__all__ = ["MAX_VIDEO_MB", "VIDEO_EXTENSIONS", "FaceTracker", "VideoInfo", "is_video_file", "probe_video",
           "read_frames"]
