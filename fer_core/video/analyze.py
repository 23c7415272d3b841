"""A video file -> one row per frame and face (CSV), a per-face summary, an annotated video.

>>> result = analyze_video("clip.mp4", Predictor.from_ref("default"), every=3,
...                        annotate_to="clip_annotated.mp4")            # doctest: +SKIP
>>> result.table.head(); result.summary                                  # doctest: +SKIP

Faces are detected on every k-th frame and followed in between (:mod:`fer_core.video.frames`),
each followed face is classified on every frame. The annotated video is H.264 MP4 (plays in
browsers), written to a temporary file beside its destination and renamed when complete: a
failure or a cancel leaves nothing behind.
"""
from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, FERError, VideoError
from ..inference import Predictor
from ..io import atomic_path
from .frames import FrameAnalyzer, FrameResult
from .reader import MAX_SECONDS, VideoInfo, probe_video, read_frames

#: The first CSV columns; one ``p_<class>`` column per class follows, then ``label`` and ``detected``.
CSV_COLUMNS: tuple[str, ...] = ("frame", "time_s", "face_id", "x", "y", "w", "h")
#: Parts of the work :attr:`VideoAnalysis.timings` measures, in seconds.
STAGES: tuple[str, ...] = ("decode", "detect", "classify", "annotate", "encode")

Progress = Callable[[int, "int | None"], None]


class Cancelled(FERError):
    """The analysis was cancelled; nothing was written."""


@dataclass
class VideoAnalysis:
    """The result of :func:`analyze_video`.

    Attributes
    ----------
    info : the video's header
    classes : the model's classes, in the order of the probability columns
    table : one row per analysed frame and face (columns :data:`CSV_COLUMNS`, ``p_<class>``, ``label``, ``detected``)
    frames : frames decoded and analysed
    seconds : wall time of the analysis
    timings : seconds per stage (:data:`STAGES`)
    annotated : path of the annotated video, when one was asked for
    """

    info: VideoInfo
    classes: tuple[str, ...]
    table: pd.DataFrame
    frames: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    annotated: Path | None = None

    @property
    def video_seconds(self) -> float:
        """Length of the analysed frames, in seconds of video."""
        if self.info.fps:
            return self.frames / self.info.fps
        return float(self.table["time_s"].max()) if len(self.table) else 0.0

    @property
    def speed(self) -> float | None:
        """How many times faster than real time the analysis ran (None for an empty clip)."""
        return self.video_seconds / self.seconds if self.seconds > 0 and self.video_seconds > 0 else None

    @property
    def summary(self) -> pd.DataFrame:
        return face_summary(self.table, self.classes, self.info.fps)

    def csv_bytes(self) -> bytes:
        """The table as CSV (UTF-8)."""
        return self.table.to_csv(index=False).encode("utf-8")

    def timeline(self) -> pd.DataFrame:
        """Long table for a timeline chart: ``time_s``, ``face``, ``emotion``, ``probability``."""
        return timeline_table(self.table, self.classes)


def empty_table(classes: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*CSV_COLUMNS, *(f"p_{c}" for c in classes), "label", "detected"])


def face_summary(table: pd.DataFrame, classes: tuple[str, ...], fps: float | None = None) -> pd.DataFrame:
    """One row per face id: frames seen, first and last time, seconds in view, the share of its
    frames whose top emotion is each class (columns named after the classes, 0..1), the most frequent one."""
    cols = ["face_id", "frames", "first_s", "last_s", "seconds", *classes, "most_often"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for fid, part in table.groupby("face_id", sort=True):
        shares = part["label"].value_counts(normalize=True)
        n = len(part)
        rows.append({"face_id": int(fid), "frames": n, "first_s": float(part["time_s"].min()),
                     "last_s": float(part["time_s"].max()),
                     "seconds": round(n / fps, 3) if fps else float(part["time_s"].max() - part["time_s"].min()),
                     **{c: round(float(shares.get(c, 0.0)), 4) for c in classes},
                     "most_often": str(shares.idxmax())})
    return pd.DataFrame(rows, columns=cols)


def timeline_table(table: pd.DataFrame, classes: tuple[str, ...], time: str = "time_s") -> pd.DataFrame:
    """``table`` (one row per frame and face) in long form: ``time``, ``face``, ``emotion``, ``probability``."""
    if table.empty:
        return pd.DataFrame(columns=[time, "face", "emotion", "probability"])
    long = table.melt(id_vars=[time, "face_id"], value_vars=[f"p_{c}" for c in classes],
                      var_name="emotion", value_name="probability")
    long["emotion"] = long["emotion"].str.slice(2)
    long["face"] = "face " + long.pop("face_id").astype(int).astype(str)
    return long[[time, "face", "emotion", "probability"]].sort_values(["face", time], kind="stable")


class AnnotatedWriter:
    """Write RGB frames to an H.264 MP4 (PyAV's libx264), atomically: the file appears complete or not at all.

    Use as a context manager; frames of odd width or height lose their last column or row (H.264
    needs even sizes).
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int, *, preset: str = "veryfast"):
        try:
            import av
        except ImportError as exc:
            raise ConfigError(f"writing an annotated video needs PyAV (pip install av): {exc}") from exc
        self._av = av
        self.path = Path(path)
        self.fps, self.width, self.height, self.preset = fps, width - width % 2, height - height % 2, preset
        self._ctx = None

    def __enter__(self) -> "AnnotatedWriter":
        from fractions import Fraction

        self._ctx = atomic_path(self.path, suffix=".mp4")
        tmp = self._ctx.__enter__()
        try:
            self._container = self._av.open(str(tmp), mode="w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            self._stream.width, self._stream.height, self._stream.pix_fmt = self.width, self.height, "yuv420p"
            self._stream.options = {"preset": self.preset, "crf": "23"}
        except Exception as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, rgb: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:self.height, :self.width]), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def __exit__(self, kind, exc, tb) -> bool:
        try:
            if kind is None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._ctx.__exit__(kind, exc, tb)  # renames on success, removes the temporary file otherwise
        return False


def analyze_video(path: str | Path | VideoInfo, predictor: Predictor, *, every: int = 3,
                  annotate_to: str | Path | None = None, progress: Progress | None = None,
                  cancel: Callable[[], bool] | None = None, max_seconds: float = MAX_SECONDS,
                  max_frames: int | None = None) -> VideoAnalysis:
    """Analyse a video file frame by frame.

    Parameters
    ----------
    path : the video (checked with :func:`~fer_core.video.reader.probe_video`), or its probed info
    predictor : detector + model
    every : detect faces on every k-th frame, follow them in between (each frame is classified)
    annotate_to : write the video with boxes and ``id: label pp%`` here (H.264 MP4), atomically
    progress : called as ``progress(frames_done, frames_total_or_None)`` after every frame
    cancel : polled after every frame; when it returns True the analysis stops with :class:`Cancelled`
        and nothing is written
    max_seconds : longest clip accepted
    max_frames : stop after this many frames (benchmarks, previews)

    Raises
    ------
    VideoError for a file that cannot be analysed (nothing is written); Cancelled.
    """
    info = path if isinstance(path, VideoInfo) else probe_video(path, max_seconds=max_seconds)
    analyzer = FrameAnalyzer(predictor, every=every)
    rows: list[dict[str, Any]] = []
    timings = dict.fromkeys(STAGES, 0.0)
    total = info.frame_count if max_frames is None else min(info.frame_count or max_frames, max_frames)
    start = time.perf_counter()
    frames = 0
    with _maybe_writer(annotate_to, info) as writer:
        t = time.perf_counter()
        for index, time_s, rgb in read_frames(info, max_seconds=max_seconds):
            timings["decode"] += time.perf_counter() - t
            result = analyzer.process(rgb, index)
            timings["detect"] += result.timings["detect"]
            timings["classify"] += result.timings["classify"]
            rows.extend(result.rows(time_s))
            if writer is not None:
                _write_annotated(writer, result, rgb, timings)
            frames = index + 1
            if progress is not None:
                progress(frames, total)
            if cancel is not None and cancel():
                raise Cancelled(f"{info.path.name}: analysis cancelled after {frames} frames; nothing was written.")
            if max_frames is not None and frames >= max_frames:
                break
            t = time.perf_counter()
        if frames == 0:
            raise VideoError(f"{info.path.name}: no frame could be decoded; the file is corrupt or cut short.")
    classes = analyzer.classes
    table = pd.DataFrame(rows, columns=list(empty_table(classes).columns)) if rows else empty_table(classes)
    return VideoAnalysis(info, classes, table, frames, time.perf_counter() - start, timings,
                         Path(annotate_to) if annotate_to else None)


def _write_annotated(writer: AnnotatedWriter, result: FrameResult, rgb: np.ndarray, timings: dict) -> None:
    t0 = time.perf_counter()
    frame = result.annotate(rgb, copy=False)
    t1 = time.perf_counter()
    writer.write(frame)
    timings["annotate"] += t1 - t0
    timings["encode"] += time.perf_counter() - t1


@contextmanager
def _maybe_writer(path: str | Path | None, info: VideoInfo) -> Iterator[AnnotatedWriter | None]:
    if path is None:
        yield None
        return
    with AnnotatedWriter(path, info.fps or 30.0, info.width, info.height) as writer:
        yield writer


def analyze_upload(data: bytes, name: str, predictor: Predictor, *, every: int = 3, annotate: bool = True,
                   progress: Progress | None = None, folder: str | Path | None = None,
                   max_mb: float | None = None) -> tuple[VideoAnalysis, bytes | None]:
    """Analyse an uploaded video (bytes): returns the analysis and the annotated MP4's bytes (or None).

    The upload and the annotated video live in a private temporary folder (under ``folder``,
    default the system's), removed before returning, whatever happens.
    """
    from .reader import is_video_file

    if not is_video_file(name):
        probe_video(name)  # the same "not a video file name" line as the command line
    with tempfile.TemporaryDirectory(prefix="fer-video-", dir=folder) as tmp:
        src = Path(tmp) / ("upload" + Path(name).suffix.lower())
        src.write_bytes(data)
        out = Path(tmp) / "annotated.mp4" if annotate else None
        try:
            info = probe_video(src, max_mb=max_mb)
            result = analyze_video(info, predictor, every=every, annotate_to=out, progress=progress)
        except VideoError as exc:  # name the upload, not the temporary file
            raise VideoError(str(exc).replace(src.name, name, 1)) from None
        video = out.read_bytes() if out is not None and out.is_file() else None
    result.info = VideoInfo(Path(name), info.width, info.height, info.fps, info.frame_count, info.codec)
    result.annotated = None
    return result, video


def temp_folder() -> Path:
    """``<data_dir>/uploads``, where dashboard uploads are unpacked (created when missing)."""
    from ..paths import data_dir

    folder = data_dir() / "uploads"
    os.makedirs(folder, exist_ok=True)
    return folder
