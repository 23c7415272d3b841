"""Real-time speed: the live camera's frames per second and video analysis against real time, with
where the time goes (decode, detect, classify, annotate, encode). Prints markdown tables.

    .venv/bin/python experiments/bench/realtime.py [--models fast default] [--frames 300] [--seconds 10]
    .venv/bin/python experiments/bench/realtime.py --smoke          # 20 frames, a 1 s clip: checks it runs

Frames are 640x480 with one drawn face (fer_core.video.synthetic) moving 6 px per frame, as a
camera would send them. ``fast`` is the bundled real-time model (fer2013-fast) when installed
(skipped otherwise), ``default`` the bundled default; any run id or .keras file works too.

1. Live: ``LiveProcessor.process`` per frame (detect every k-th frame, follow, classify, draw),
   after 10 warm-up frames; k = 1 and 3.
2. Video: ``analyze_video`` on a 30 fps 640x480 MP4 of ``--seconds`` seconds, ``every=3``, with
   and without the annotated H.264 video; speed = seconds of video per second of analysis.
3. Following between detections (k = 3): mean IoU of the followed boxes against the box a
   detection on that very frame gives, reusing the last box vs moving it with the face's velocity.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_core.bundled import is_bundled  # noqa: E402
from fer_core.inference import Predictor  # noqa: E402
from fer_core.video.analyze import STAGES, analyze_video  # noqa: E402
from fer_core.video.frames import FrameAnalyzer  # noqa: E402
from fer_core.video.live import FAST_MODEL_ID, LiveProcessor  # noqa: E402
from fer_core.video.synthetic import moving_faces, write_clip  # noqa: E402
from fer_core.video.tracking import FaceTracker, iou  # noqa: E402

WARMUP = 10


def frames(n: int) -> list[np.ndarray]:
    return list(moving_faces(n, faces=1, side=180, step=6, expressions=("happy",)))


def resolve(ref: str) -> str | None:
    if ref == "fast":
        return FAST_MODEL_ID if is_bundled(FAST_MODEL_ID) else None
    return ref


def live_rows(name: str, predictor: Predictor, clip: list[np.ndarray]) -> list[str]:
    rows = []
    for every in (1, 3):
        live = LiveProcessor(predictor, every=every)
        for f in clip[:WARMUP]:
            live.process(f.copy())
        spent = {"detect": 0.0, "classify": 0.0}
        t0 = time.perf_counter()
        for f in clip[WARMUP:]:
            live.process(f.copy())
            for k in spent:
                spent[k] += live.last_result.timings[k]
        total = time.perf_counter() - t0
        n = len(clip) - WARMUP
        other = total - sum(spent.values())
        rows.append(f"| {name} | {every} | {n / total:.1f} | {1000 * total / n:.1f} | {1000 * spent['detect'] / n:.1f} | "
                    f"{1000 * spent['classify'] / n:.1f} | {1000 * other / n:.1f} |")
    return rows


def video_rows(name: str, predictor: Predictor, path: Path, out: Path) -> list[str]:
    rows = []
    analyze_video(path, predictor, every=3, max_frames=WARMUP)  # warm-up
    for annotate in (True, False):
        res = analyze_video(path, predictor, every=3, annotate_to=out if annotate else None)
        per = {s: 1000 * res.timings[s] / res.frames for s in STAGES}
        rows.append(f"| {name} | {'yes' if annotate else 'no'} | {res.frames} | {res.seconds:.1f} | {res.speed:.2f}x | "
                    + " | ".join(f"{per[s]:.1f}" for s in STAGES) + " |")
    return rows


def follow_rows(predictor: Predictor, clip: list[np.ndarray]) -> list[str]:
    truth = FrameAnalyzer(predictor, every=1)
    boxes = [{f.face_id: f.box for f in truth.process(fr, i).faces} for i, fr in enumerate(clip)]
    rows = []
    for motion in (False, True):
        an = FrameAnalyzer(predictor, every=3, tracker=FaceTracker(motion=motion))
        scores = []
        for i, fr in enumerate(clip):
            res = an.process(fr, i)
            if not res.detected and res.faces and boxes[i]:
                scores.append(max(iou(res.faces[0].box, b) for b in boxes[i].values()))
        label = "velocity (default)" if motion else "last box reused"
        rows.append(f"| {label} | {len(scores)} | {np.mean(scores):.3f} | {np.min(scores):.3f} |" if scores
                    else f"| {label} | 0 | - | - |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["fast", "default"])
    ap.add_argument("--frames", type=int, default=300, help="live frames per measurement (after warm-up)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the 30 fps test clip")
    ap.add_argument("--smoke", action="store_true", help="20 frames and a 1 s clip: check that it runs")
    args = ap.parse_args()
    n, seconds = (20, 1.0) if args.smoke else (args.frames, args.seconds)
    clip = frames(n + WARMUP)
    print(f"# Real-time benchmark ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f})\n")
    live, video = [], []
    with tempfile.TemporaryDirectory() as tmp:
        clip_path = write_clip(Path(tmp) / "clip.mp4", frames(int(30 * seconds)), fps=30)
        predictors = {}
        for ref in args.models:
            real = resolve(ref)
            if real is None:
                print(f"(skipped {ref}: {FAST_MODEL_ID} is not bundled yet)\n")
                continue
            predictors[ref] = p = Predictor.from_ref(real)
            live += live_rows(f"{ref} ({real})", p, clip)
            video += video_rows(f"{ref} ({real})", p, clip_path, Path(tmp) / "annotated.mp4")
        print("## Live camera, 640x480, one face\n")
        print("| model | detect every k | frames/s | ms/frame | detect ms | classify ms | draw + rest ms |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(live))
        print(f"\n## Video file, 30 fps 640x480 MP4 ({seconds:g} s), every 3\n")
        print("| model | annotated video | frames | seconds | speed vs real time | "
              + " | ".join(f"{s} ms/frame" for s in STAGES) + " |")
        print("| --- " * (5 + len(STAGES)) + "|")
        print("\n".join(video))
        if predictors:
            print("\n## Following faces between detections (every 3): IoU with a fresh detection\n")
            print("| method | frames compared | mean IoU | min IoU |")
            print("| --- | --- | --- | --- |")
            print("\n".join(follow_rows(next(iter(predictors.values())), clip)))


if __name__ == "__main__":
    main()
