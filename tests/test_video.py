"""Video files and the live processor (fer_core.video): a clip made here with two drawn faces moving
across it gives one CSV row per frame and face with stable ids, times = frame / fps, detection on
every k-th frame, and an annotated video with every frame; the CLI does the same."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_core.cli import main
from fer_core.errors import ConfigError, VideoError
from fer_core.video.reader import probe_video, read_frames
from fer_core.video.synthetic import moving_faces, write_clip, write_y4m

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FPS, N = 10, 24


@pytest.fixture(scope="module")
def model_file(tiny_model_file) -> str:
    return tiny_model_file  # probabilities, not accuracy, are what these tests need


@pytest.fixture(scope="module")
def predictor(model_file):
    from fer_core.inference import Predictor

    return Predictor.from_ref(model_file, classes=CLASSES)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "two.avi", moving_faces(N, step=12), fps=FPS)


def test_probe_and_read_frames(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (640, 480, FPS, N)
    frames = list(read_frames(info))
    assert [i for i, _, _ in frames] == list(range(N))
    assert [t for _, t, _ in frames] == pytest.approx([i / FPS for i in range(N)])
    assert frames[0][2].shape == (480, 640, 3) and frames[0][2].dtype == np.uint8


@pytest.mark.parametrize("every", [1, 3])
def test_clip_gives_a_row_per_frame_and_face_with_stable_ids(clip, predictor, tmp_path, every):
    from fer_core.video.analyze import analyze_video

    seen = []
    out = tmp_path / "out" / "ann.mp4"
    res = analyze_video(clip, predictor, every=every, annotate_to=out, progress=lambda d, t: seen.append((d, t)))
    t = res.table
    assert list(t.columns[:7]) == ["frame", "time_s", "face_id", "x", "y", "w", "h"]
    assert list(t.columns[7:]) == [f"p_{c}" for c in CLASSES] + ["label", "detected"]
    assert len(t) == 2 * N and res.frames == N
    assert (t.groupby("frame").size() == 2).all()  # every frame, both faces
    # the top face (moving right) and the bottom one (moving left) each keep one id all along
    top = t[t["y"] < 240]
    assert top["face_id"].nunique() == 1 and t[t["y"] >= 240]["face_id"].nunique() == 1
    assert set(t["face_id"]) == {1, 2}
    assert top["x"].is_monotonic_increasing and top["x"].iloc[-1] - top["x"].iloc[0] > 150
    np.testing.assert_allclose(t["time_s"], t["frame"] / FPS)
    np.testing.assert_allclose(t.filter(like="p_").sum(axis=1), 1.0, atol=2e-3)
    assert (t["detected"] == (t["frame"] % every == 0)).all()
    assert seen[-1] == (N, N) and len(seen) == N
    # the annotated video: every frame, H.264, boxes drawn in the box colour
    info = probe_video(out)
    assert info.codec in ("h264", "avc1") and info.width == 640
    frames = [f for _, _, f in read_frames(info)]
    assert len(frames) == N
    green = np.all(np.abs(frames[5].astype(int) - (40, 220, 40)) < 40, axis=2)
    assert green.sum() > 500
    assert not [p for p in out.parent.iterdir() if p.name != "ann.mp4"]  # no temporary file left
    summary = res.summary
    assert list(summary["face_id"]) == [1, 2] and (summary["frames"] == N).all()
    np.testing.assert_allclose(summary[list(CLASSES)].sum(axis=1), 1.0, atol=1e-3)
    probs = t[[f"p_{c}" for c in CLASSES]].to_numpy(float)
    assert (t["label"] == np.array(CLASSES)[probs.argmax(1)]).all()  # each row's label is its top probability
    for face_id, row in summary.set_index("face_id").iterrows():  # the shares are the labels' frequencies
        share = t[t["face_id"] == face_id]["label"].value_counts(normalize=True).reindex(list(CLASSES), fill_value=0)
        np.testing.assert_allclose(row[list(CLASSES)].astype(float), share.to_numpy(), atol=1e-3)
        assert row["most_often"] == share.idxmax()
    long = res.timeline()
    assert len(long) == 2 * N * 7 and set(long["face"]) == {"face 1", "face 2"}


def test_cancel_and_failure_leave_nothing(clip, predictor, tmp_path):
    from fer_core.video.analyze import Cancelled, analyze_video

    out = tmp_path / "ann.mp4"
    polls = []
    with pytest.raises(Cancelled, match="cancelled after 3 frames"):
        analyze_video(clip, predictor, every=2, annotate_to=out, cancel=lambda: polls.append(1) or len(polls) >= 3)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="every must be"):
        analyze_video(clip, predictor, every=0, annotate_to=out)
    assert list(tmp_path.iterdir()) == []


def test_cli_predicts_a_video(clip, model_file, tmp_path, capsys):
    csv = tmp_path / "rows.csv"
    assert main(["predict", model_file, str(clip), "--csv", str(csv), "--every", "4",
                 "--annotate", str(tmp_path / "ann")]) == 0
    out = capsys.readouterr().out
    assert "640x480, 10.0 fps, 24 frames" in out and "faces detected every 4 frame(s)" in out
    assert re.search(r"analysed 24 frames in .* s .*: 2 face\(s\)", out)
    assert re.search(r"face 1: 2\.4 s in view \(0\.0-2\.3 s\) — \w+ \d+%", out)
    table = pd.read_csv(csv)
    assert len(table) == 2 * N and (table["detected"] == (table["frame"] % 4 == 0)).all()
    assert probe_video(tmp_path / "ann" / "two_annotated.mp4").frame_count == N


def test_cli_refuses_mixing_videos_and_photos(clip, model_file, tmp_path, capsys):
    assert main(["predict", model_file, str(clip), str(clip)]) == 2
    assert "give one video at a time" in capsys.readouterr().err


def test_reader_limits(clip, tmp_path):
    with pytest.raises(VideoError, match=r"two.avi: 2 s long, more than the limit of 1 s"):
        probe_video(clip, max_seconds=1)
    with pytest.raises(VideoError, match=r"frames are 640x480 = 307,200 pixels, more than the limit of 1,000"):
        probe_video(clip, max_pixels=1000)
    with pytest.raises(VideoError, match=r"MB limit for a video"):
        probe_video(clip, max_mb=0.001)
    with pytest.raises(VideoError, match=r"clip.gif: not a video file name"):
        probe_video(tmp_path / "clip.gif")


def test_y4m_has_the_header_and_planes_chromium_reads(tmp_path):
    frames = list(moving_faces(3, size=(320, 240), faces=1, side=100))
    data = write_y4m(tmp_path / "cam.y4m", frames, fps=15).read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W320 H240 F15:1 Ip A1:1 C420jpeg"
    assert len(rest) == 3 * (len(b"FRAME\n") + 320 * 240 * 3 // 2)
    y = np.frombuffer(rest[6:6 + 320 * 240], np.uint8).reshape(240, 320)
    grey = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY).astype(float)
    np.testing.assert_allclose(y, 16 + 219 * grey / 255, atol=2)  # BT.601 video range, as cameras send


def test_live_processor_draws_counts_and_keeps_a_window(predictor):
    from fer_core.video.live import LiveProcessor

    now = [0.0]
    live = LiveProcessor(predictor, every=2, window_s=1.0, clock=lambda: now[0])
    for frame in moving_faces(20, step=6):
        out = live.process(frame)
        now[0] += 0.25  # 4 frames per second (exact in binary)
    assert out.shape == (480, 640, 3)
    stats = live.stats()
    assert stats.frames == 20 and stats.faces == 2 and stats.fps == pytest.approx(4)
    assert [s.split(":")[0] for s in stats.labels] == ["1", "2"] and stats.ms_per_frame > 0
    window = live.timeline()
    assert set(window["face"]) == {"face 1", "face 2"} and window["seconds_ago"].between(-1.0, 0).all()
    assert len(window) == 4 * 2 * 7  # the last second: 4 frames x 2 faces x 7 classes
    live.set_every(5)
    assert live.analyzer.every == 5


def test_live_default_is_the_fast_model_when_bundled(monkeypatch):
    from fer_core import bundled
    from fer_core.video import live

    monkeypatch.setattr(bundled, "is_bundled", lambda ref: ref == live.FAST_MODEL_ID)
    assert live.live_default_ref() == "fer2013-fast"
    monkeypatch.setattr(bundled, "is_bundled", lambda ref: False)
    assert live.live_default_ref() == "default"
