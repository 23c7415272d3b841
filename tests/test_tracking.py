"""Face ids across frames (fer_core.video.tracking): kept while in view, new for a new face, kept
through crossings and a missed detection, dropped after the face has left."""
from __future__ import annotations

import pytest

from fer_core.data.faces import Face
from fer_core.errors import ConfigError
from fer_core.video.tracking import FaceTracker, iou


def box(x, y, side=100):
    return Face((x, y, side, side), 0.9, ((x + 30.0, y + 40.0), (x + 70.0, y + 40.0)))


def ids_by_x(pairs):
    return [i for i, f in sorted(pairs, key=lambda p: p[1].box[0])]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_faces_keep_their_ids_and_a_new_face_gets_a_new_one():
    tr = FaceTracker()
    assert [i for i, _ in tr.update([box(0, 0), box(300, 0)], 0)] == [1, 2]
    # both move 15 px per frame; detected every 3 frames
    out = tr.update([box(345, 0), box(45, 0)], 3)  # given in the other order
    assert {f.box[0]: i for i, f in out} == {45: 1, 345: 2}
    out = tr.update([box(90, 0), box(390, 0), box(200, 300)], 6)
    assert {f.box[0]: i for i, f in out} == {90: 1, 390: 2, 200: 3}


@pytest.mark.parametrize("step, dy", [(20, 20), (40, 0)])
def test_crossing_faces_keep_their_ids(step, dy):
    """Two faces cross, one moving right and one left, detected every 3 frames; at dy=0 they pass
    right through each other (the same box at k=10): velocity prediction keeps their ids (a tracker
    matching the last boxes swaps them there)."""
    tr = FaceTracker()
    a_ids, b_ids = set(), set()
    for k in range(20):
        a, b = box(step * k, 0), box(20 * step - step * k, dy)
        out = {f.box[:2]: i for i, f in tr.update([b, a] if k % 2 else [a, b], 3 * k)}
        if a.box != b.box:
            a_ids.add(out[a.box[:2]])
            b_ids.add(out[b.box[:2]])
    assert a_ids == {1} and b_ids == {2}


def test_followed_faces_move_with_their_velocity_between_detections():
    tr = FaceTracker()
    tr.update([box(0, 0)], 0)
    tr.update([box(30, 6)], 3)  # 10 px/frame right, 2 px/frame down
    [(fid, f)] = tr.follow(5)
    assert fid == 1 and f.box == (50, 10, 100, 100)
    assert f.eyes == ((80.0, 50.0), (120.0, 50.0))  # eyes move with the box (aligned crops)
    still = FaceTracker(motion=False)
    still.update([box(0, 0)], 0)
    still.update([box(30, 6)], 3)
    assert still.follow(5)[0][1].box == (30, 6, 100, 100)


def test_a_missed_detection_coasts_then_a_face_that_left_is_dropped():
    tr = FaceTracker(max_missed=2, coast=1)
    tr.update([box(0, 0), box(300, 0)], 0)
    out = tr.update([box(300, 0)], 3)  # face 1 missed once: still reported (coasting)
    assert sorted(i for i, _ in out) == [1, 2] and sorted(i for i, _ in tr.follow(4)) == [1, 2]
    out = tr.update([box(300, 0)], 6)  # missed twice: kept (not reported) in case it comes back
    assert [i for i, _ in out] == [2]
    assert [i for i, _ in tr.update([box(0, 0), box(300, 0)], 9)] == [1, 2]  # back: same id
    for frame in (12, 15, 18):
        out = tr.update([box(300, 0)], frame)
    assert [i for i, _ in out] == [2] and [t.id for t in tr.tracks] == [2]  # face 1 left for good
    assert [i for i, _ in tr.update([box(0, 0), box(300, 0)], 21)] == [3, 2]  # a new id, never reused


def test_bad_options():
    with pytest.raises(ConfigError, match="coast"):
        FaceTracker(max_missed=1, coast=2)
    with pytest.raises(ConfigError, match="min_iou"):
        FaceTracker(min_iou=2)
