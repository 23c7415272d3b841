"""The live camera: one frame in, the same frame with labelled faces out, plus the frame rate and
a rolling window of each face's emotions (for the dashboard's Live page).

>>> live = LiveProcessor(Predictor.from_ref(live_default_ref()), every=3)   # doctest: +SKIP
>>> out = live.process(rgb)            # boxes and "id: label pp%" drawn     # doctest: +SKIP
>>> live.stats().fps, live.timeline()                                        # doctest: +SKIP

Frames are analysed by the same :class:`~fer_core.video.frames.FrameAnalyzer` as video files.
A processor is fed by one thread (the camera's) and read by another (the page): every method
takes its lock.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..inference import Predictor
from .frames import FrameAnalyzer, FrameResult

#: The bundled model meant for real time (fer_net width 16), used by default when it is installed.
FAST_MODEL_ID = "fer2013-fast"
FPS_WINDOW_S = 2.0  # the frame rate is measured over the last this-many seconds


def preload_webrtc() -> None:
    """Load aiortc's SRTP library (``pylibsrtp``) before TensorFlow, in processes that serve the camera.

    ``pylibsrtp`` carries its own OpenSSL and exports its symbols; TensorFlow loads
    ``libtensorflow_framework.so`` into the global symbol scope with BoringSSL's symbols of the same
    names. Loaded after TensorFlow, pylibsrtp binds to those and crashes the process (a segfault in
    ``srtp_init``); loaded first, its symbols are bound to its own OpenSSL for good (Python loads
    extensions with ``RTLD_NOW``). Raises ConfigError when it is too late (TensorFlow already loaded).
    """
    import sys

    if "pylibsrtp" in sys.modules:
        return
    if "tensorflow" in sys.modules:
        raise ConfigError("the live camera needs its WebRTC library loaded before TensorFlow, and TensorFlow "
                          "is already loaded in this process; restart the dashboard (streamlit run dashboard/Home.py).")
    try:
        import pylibsrtp  # noqa: F401
    except ImportError:  # no live camera in this environment: nothing to protect
        pass


def live_default_ref() -> str:
    """The model the live camera uses by default: the fast bundled model when present, else ``default``."""
    from ..bundled import DEFAULT_ALIAS, is_bundled

    return FAST_MODEL_ID if is_bundled(FAST_MODEL_ID) else DEFAULT_ALIAS


@dataclass(frozen=True)
class LiveStats:
    """What the page shows while the camera runs."""

    frames: int          # frames processed since the start
    fps: float           # frames processed per second, over the last FPS_WINDOW_S seconds
    ms_per_frame: float  # mean processing time of those frames, in milliseconds
    faces: int           # faces in the last frame
    labels: tuple[str, ...]  # "id: label pp%" of the faces in the last frame


class LiveProcessor:
    """Process camera frames: detect every ``every`` frames, follow, classify, draw; keep
    ``window_s`` seconds of probabilities per face id.

    Parameters
    ----------
    predictor : detector + model
    every : detect on every k-th frame
    window_s : seconds of history kept for :meth:`timeline`
    clock : a ``time.monotonic``-like clock (tests pass their own)
    """

    def __init__(self, predictor: Predictor, every: int = 3, window_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        if not window_s > 0:
            raise ConfigError(f"window_s must be > 0 seconds, got {window_s!r}.")
        self.analyzer = FrameAnalyzer(predictor, every=every)
        self.window_s = float(window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._history: deque[tuple[float, int, np.ndarray]] = deque()  # (time, face id, probs)
        self._done: deque[tuple[float, float]] = deque()  # (time finished, seconds spent) per frame
        self._last: FrameResult | None = None
        self._frames = 0

    @property
    def classes(self) -> tuple[str, ...]:
        return self.analyzer.classes

    def set_every(self, every: int) -> None:
        """Change how often faces are detected, without losing the faces followed."""
        from .frames import check_every

        with self._lock:
            self.analyzer.every = check_every(every)

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Analyse one RGB uint8 frame; return it with the faces drawn (the input is drawn on)."""
        with self._lock:
            t0 = time.perf_counter()
            result = self.analyzer.process(rgb)
            out = result.annotate(rgb, copy=not rgb.flags.writeable)
            now = self._clock()
            self._done.append((now, time.perf_counter() - t0))
            for f in result.faces:
                self._history.append((now, f.face_id, f.probs))
            self._last, self._frames = result, self._frames + 1
            self._trim(now)
        return out

    @property
    def last_result(self) -> FrameResult | None:
        """The analysis of the last frame (faces and the seconds spent detecting and classifying)."""
        with self._lock:
            return self._last

    def _trim(self, now: float) -> None:
        while self._done and self._done[0][0] < now - FPS_WINDOW_S:
            self._done.popleft()
        while self._history and self._history[0][0] < now - self.window_s:
            self._history.popleft()

    def stats(self) -> LiveStats:
        """Frames so far, frame rate and time per frame (last few seconds), faces of the last frame."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            done = list(self._done)
            last = self._last
            frames = self._frames
        fps = 0.0
        if len(done) >= 2:
            span = done[-1][0] - done[0][0]
            fps = (len(done) - 1) / span if span > 0 else 0.0
        ms = 1000 * float(np.mean([d for _, d in done])) if done else 0.0
        faces = last.faces if last is not None else []
        return LiveStats(frames, fps, ms, len(faces), tuple(f.text for f in faces))

    def timeline(self) -> pd.DataFrame:
        """The last ``window_s`` seconds, long form: ``seconds_ago`` (<= 0), ``face``, ``emotion``, ``probability``."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            items = list(self._history)
        cols = ["seconds_ago", "face", "emotion", "probability"]
        if not items:
            return pd.DataFrame(columns=cols)
        t = np.array([i[0] for i in items]) - now
        ids = np.array([i[1] for i in items])
        probs = np.stack([i[2] for i in items])
        n, c = probs.shape
        return pd.DataFrame({"seconds_ago": np.repeat(np.round(t, 3), c),
                             "face": np.repeat([f"face {i}" for i in ids], c),
                             "emotion": np.tile(np.array(self.classes), n),
                             "probability": probs.ravel().astype(float)}, columns=cols)

    def video_frame_callback(self) -> Callable[[Any], Any]:
        """A ``streamlit-webrtc`` ``video_frame_callback``: an ``av.VideoFrame`` in, the annotated one out."""
        import av

        def callback(frame: "av.VideoFrame") -> "av.VideoFrame":
            rgb = frame.to_ndarray(format="rgb24")
            out = av.VideoFrame.from_ndarray(self.process(rgb), format="rgb24")
            out.pts, out.time_base = frame.pts, frame.time_base
            return out

        return callback
