"""Follow faces from frame to frame: a face keeps its number while it stays in view.

An IoU tracker with constant-velocity prediction, enough for faces detected every few frames:

- :meth:`FaceTracker.update` takes the faces detected in a frame and matches them, greedily by
  overlap (IoU), to where each known face is predicted to be; an unmatched detection starts a
  new id (ids are never reused); a face missed by up to ``coast`` detection rounds is still
  reported where it is predicted to be (a detector misses a face now and then); a face not
  matched for more than ``max_missed`` rounds is forgotten (it left the view).
- :meth:`FaceTracker.follow` gives the faces of a frame without detection: each face reported at
  the last detection, its box (and eyes) moved by its velocity, estimated from its last two detections.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..data.faces import Face
from ..errors import ConfigError

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes (0 when they do not overlap)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between the centres of two boxes, in units of the first box's size."""
    ca = (a[0] + a[2] / 2, a[1] + a[3] / 2)
    cb = (b[0] + b[2] / 2, b[1] + b[3] / 2)
    return float(np.hypot(ca[0] - cb[0], ca[1] - cb[1]) / max(1.0, (a[2] + a[3]) / 2))


@dataclass
class Track:
    """One face being followed: its id, last detected face and frame, velocity (pixels per frame)."""

    id: int
    face: Face
    frame: int
    velocity: tuple[float, float] = (0.0, 0.0)
    missed: int = 0
    hits: int = 1

    def predicted_box(self, frame: int) -> Box:
        dt = frame - self.frame
        x, y, w, h = self.face.box
        return (x + self.velocity[0] * dt, y + self.velocity[1] * dt, w, h)

    def predicted_face(self, frame: int) -> Face:
        """The last detected face moved to where it should be at ``frame`` (box and eyes)."""
        dt = frame - self.frame
        if dt == 0 or self.velocity == (0.0, 0.0):
            return self.face
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x, y, w, h = self.face.box
        eyes = None if self.face.eyes is None else tuple((ex + dx, ey + dy) for ex, ey in self.face.eyes)
        return replace(self.face, box=(int(round(x + dx)), int(round(y + dy)), w, h), eyes=eyes)


@dataclass
class FaceTracker:
    """Give every face a stable id across frames.

    Parameters
    ----------
    min_iou : overlap between a predicted box and a detection needed to match them
    max_distance : also match when the centres are closer than this many box sizes (fast motion
        between two detections can leave no overlap)
    max_missed : detection rounds a face may go unseen before its id is dropped
    coast : detection rounds a face may go unseen and still be reported at its predicted place
    motion : predict boxes with each face's velocity (False: a face stays where it was last seen)
    """

    min_iou: float = 0.2
    max_distance: float = 0.6
    max_missed: int = 2
    coast: int = 1
    motion: bool = True
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def __post_init__(self):
        if not 0.0 <= self.min_iou <= 1.0:
            raise ConfigError(f"min_iou must be in [0, 1], got {self.min_iou!r}.")
        if self.max_missed < 0:
            raise ConfigError(f"max_missed must be >= 0, got {self.max_missed!r}.")
        if not 0 <= self.coast <= self.max_missed:
            raise ConfigError(f"coast must be in 0..max_missed ({self.max_missed}), got {self.coast!r}.")

    def update(self, faces: list[Face], frame: int) -> list[tuple[int, Face]]:
        """Match the faces detected at ``frame`` to known faces; returns ``(id, face)`` for every face
        reported at ``frame``: the detections, then the faces coasting (missed, ``coast`` rounds at most)."""
        pairs = []
        for ti, t in enumerate(self.tracks):
            pred = t.predicted_box(frame) if self.motion else t.face.box
            for fi, f in enumerate(faces):
                overlap = iou(pred, f.box)
                near = _centre_distance(pred, f.box) <= self.max_distance
                if overlap >= self.min_iou or near:
                    pairs.append((overlap, -_centre_distance(pred, f.box), ti, fi))
        pairs.sort(reverse=True)
        track_of: dict[int, int] = {}
        used_tracks: set[int] = set()
        for _, _, ti, fi in pairs:
            if ti in used_tracks or fi in track_of:
                continue
            used_tracks.add(ti)
            track_of[fi] = ti
        out = []
        for fi, f in enumerate(faces):
            if fi in track_of:
                t = self.tracks[track_of[fi]]
                dt = max(1, frame - t.frame)
                vx = (f.box[0] - t.face.box[0]) / dt
                vy = (f.box[1] - t.face.box[1]) / dt
                t.velocity = (vx, vy) if self.motion else (0.0, 0.0)
                t.face, t.frame, t.missed, t.hits = f, frame, 0, t.hits + 1
            else:
                t = Track(self._next_id, f, frame)
                self._next_id += 1
                self.tracks.append(t)
            out.append((t.id, f))
        seen = {id_ for id_, _ in out}
        for t in self.tracks:
            if t.id not in seen:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return out + [(t.id, self._where(t, frame)) for t in self.tracks if 0 < t.missed <= self.coast]

    def follow(self, frame: int) -> list[tuple[int, Face]]:
        """The faces reported at the last detection round, moved to ``frame`` (frames without detection)."""
        return [(t.id, self._where(t, frame)) for t in self.tracks if t.missed <= self.coast]

    def _where(self, t: Track, frame: int) -> Face:
        return t.predicted_face(frame) if self.motion else t.face

    def reset(self) -> None:
        """Forget every face (ids keep counting up)."""
        self.tracks = []
