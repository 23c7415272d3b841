"""Safe video decoding with OpenCV: check a file before analysing it, then read its frames as RGB.

>>> info = probe_video("clip.mp4")                       # doctest: +SKIP
>>> for index, time_s, rgb in read_frames(info): ...     # doctest: +SKIP

Every refusal is a :class:`~fer_core.errors.VideoError` naming the file and what to do: a missing
or empty file, a name without a video extension, a photo or text named like a video, a container
or codec this OpenCV build cannot decode, a frame larger than :data:`MAX_FRAME_PIXELS`, a clip
longer than :data:`MAX_SECONDS`.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..data.images import VIDEO_KINDS, file_kind
from ..errors import VideoError

#: File name endings read as videos (the dashboard's uploader accepts the same).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".webm", ".mkv")
#: Largest frame accepted, in pixels: 4096x2160 (DCI 4K). Bigger frames are refused before decoding.
MAX_FRAME_PIXELS = 4096 * 2160
#: Longest clip accepted by default, in seconds.
MAX_SECONDS = 3600.0
#: Largest video accepted from a dashboard upload, in MB.
MAX_VIDEO_MB = 200
#: Frame rates outside (0, MAX_FPS] are treated as unknown (times then come from the frames' timestamps).
MAX_FPS = 1000.0
_REENCODE = "re-encode it as H.264 MP4 (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)"
# FFmpeg's own messages ("moov atom not found") would add lines to the command line's one-line errors.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def is_video_file(path: str | Path) -> bool:
    """True when the name ends in one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says (checked by :func:`probe_video`).

    ``fps`` is None when the container gives no usable rate; ``frame_count`` is None when it does
    not say (some WebM files), and may be an estimate otherwise.
    """

    path: Path
    width: int
    height: int
    fps: float | None
    frame_count: int | None
    codec: str

    @property
    def duration_s(self) -> float | None:
        return self.frame_count / self.fps if self.fps and self.frame_count else None

    def describe(self) -> str:
        """``"640x480, 30.0 fps, 90 frames (3.0 s), codec mp4v"``."""
        fps = f"{self.fps:.1f} fps" if self.fps else "unknown frame rate"
        n = f"{self.frame_count} frames" if self.frame_count else "unknown length"
        dur = f" ({self.duration_s:.1f} s)" if self.duration_s else ""
        return f"{self.width}x{self.height}, {fps}, {n}{dur}, codec {self.codec or '?'}"


def _fourcc(cap: "cv2.VideoCapture") -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    text = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else f"0x{code:08x}"


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's log lines (e.g. "Could not find decoder") while opening a file; we raise our own."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(old)


def _open(path: Path) -> "cv2.VideoCapture":
    with _quiet_opencv():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path.name}: {_why_not(path)}; {_REENCODE}.")
    return cap


def _why_not(path: Path) -> str:
    """Why OpenCV could not open a video: an unknown codec in a readable container, or a broken file.
    Asks PyAV (its own FFmpeg), which tells a container it can read from one it cannot."""
    try:
        import av
    except ImportError:
        return "not a video OpenCV can decode (corrupt, cut short, or an unsupported container or codec)"
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                return "no video stream found (the file is cut short or corrupt, or holds audio only)"
            ctx = streams[0].codec_context  # None when FFmpeg knows no decoder for the stream
            codec = f"{ctx.name} " if ctx is not None else ""
            return (f"its video codec {codec}is not supported (no decoder for it in OpenCV's FFmpeg); "
                    "the container reads fine")
    except Exception:  # PyAV cannot read it either (InvalidDataError, codec not found, ...)
        return "not a video OpenCV can decode (corrupt, cut short, or an unsupported container)"


def probe_video(path: str | Path, *, max_pixels: int = MAX_FRAME_PIXELS, max_seconds: float = MAX_SECONDS,
                max_mb: float | None = None) -> VideoInfo:
    """Check that ``path`` is a video this machine can decode within the limits; return its header.

    Decodes the first frame (so an unsupported codec is found here, not half-way through).

    Raises
    ------
    VideoError
        One line naming the file: missing, empty, over ``max_mb``, not named ``.mp4/.avi/.mov/.webm/.mkv``,
        a photo or text under a video name, undecodable, frames over ``max_pixels``, longer than ``max_seconds``.
    """
    p = Path(path)
    if not is_video_file(p):
        raise VideoError(f"{p.name}: not a video file name; videos end in {' '.join(VIDEO_EXTENSIONS)}.")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise VideoError(f"{p.name}: cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise VideoError(f"{p.name}: empty file (0 bytes)")
    if max_mb is not None and size > max_mb * 1024 * 1024:
        raise VideoError(f"{p.name}: {size / 1024**2:,.1f} MB is more than the {max_mb:g} MB limit for a video; "
                         "cut or downscale it first.")
    kind = file_kind(head)
    if kind is not None and kind not in VIDEO_KINDS:
        raise VideoError(f"{p.name}: a {kind} image, not a video; give photos their image extension "
                         f"(e.g. .{kind.lower()}) to classify the faces in them.")
    cap = _open(p)
    try:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        codec = _fourcc(cap)
        if w * h > max_pixels:
            raise VideoError(f"{p.name}: frames are {w}x{h} = {w * h:,} pixels, more than the limit of "
                             f"{max_pixels:,} (4096x2160); downscale it first (e.g. ffmpeg -i IN -vf scale=1280:-2 OUT.mp4).")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if math.isfinite(fps) and 0 < fps <= MAX_FPS else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        count = count if count > 0 else None
        with _quiet_opencv():
            ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{p.name}: no frame could be decoded (codec {codec or 'unknown'} is not supported by "
                             f"this OpenCV build, or the file is corrupt); {_REENCODE}.")
    finally:
        cap.release()
    if frame.shape[:2] != (h, w) or w <= 0 or h <= 0:
        w, h = frame.shape[1], frame.shape[0]
        if w * h > max_pixels:
            raise VideoError(f"{p.name}: frames are {w}x{h} = {w * h:,} pixels, more than the limit of {max_pixels:,}; "
                             "downscale it first.")
    info = VideoInfo(p, w, h, fps, count, codec)
    if info.duration_s is not None and info.duration_s > max_seconds:
        raise VideoError(f"{p.name}: {info.duration_s:,.0f} s long, more than the limit of {max_seconds:,.0f} s; "
                         "cut it into parts first.")
    return info


def read_frames(info: VideoInfo, *, max_seconds: float = MAX_SECONDS) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time_s, rgb)`` for every decodable frame of a probed video.

    ``time_s`` is ``index / fps`` (the frame's timestamp when the rate is unknown). Decoding stops
    at the first frame that cannot be read (a file cut short keeps the frames before the cut);
    a clip turning out longer than ``max_seconds`` raises VideoError.
    """
    cap = _open(info.path)
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            if info.fps:
                t = index / info.fps
            else:
                t = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
            if t > max_seconds:
                raise VideoError(f"{info.path.name}: longer than the limit of {max_seconds:,.0f} s; cut it into "
                                 "parts first.")
            if frame.shape[:2] != (info.height, info.width):  # a size change mid-stream: keep one size
                frame = cv2.resize(frame, (info.width, info.height), interpolation=cv2.INTER_AREA)
            yield index, t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
