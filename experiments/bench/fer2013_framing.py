"""Where FER2013 puts the eyes: BlazeFace on random training faces (the template of data/align.py).

    .venv/bin/python experiments/bench/fer2013_framing.py [--n 600] [--model short]

Each 48x48 face is upscaled to 144x144 and placed on a 240x240 black canvas (BlazeFace needs
context around a face); prints the share found and the median eye centres and box as fractions
of the face's side.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fer_core.data.blazeface import BlazeFace  # noqa: E402
from fer_core.data.images import read_image  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--model", default="short", choices=("short", "full"))
    args = ap.parse_args()
    files = sorted(Path(args.data, "train").glob("*/*.jpg"))
    if not files:
        sys.exit(f"no FER2013 training images under {args.data}/train")
    random.Random(0).shuffle(files)
    det = BlazeFace(args.model, min_confidence=0.6)
    eyes, boxes = [], []
    for f in files[:args.n]:
        grey = read_image(f, color="grey")
        canvas = np.zeros((240, 240), np.uint8)
        canvas[48:192, 48:192] = cv2.resize(grey, (144, 144), interpolation=cv2.INTER_CUBIC)
        found = det.detect(np.dstack([canvas] * 3))
        if found:
            left, right = found[0].eyes
            eyes.append((np.r_[left, right] - 48) / 144)
            boxes.append((np.array(found[0].box, float) - [48, 48, 0, 0]) / 144)
    e, b = np.median(eyes, axis=0), np.median(boxes, axis=0)
    print(f"found {len(eyes)}/{min(args.n, len(files))} faces ({args.model} model)")
    print(f"median eyes: left ({e[0]:.3f}, {e[1]:.3f}), right ({e[2]:.3f}, {e[3]:.3f}); "
          f"inter-ocular {e[2] - e[0]:.3f}")
    print(f"median box: x {b[0]:.3f}, y {b[1]:.3f}, w {b[2]:.3f}, h {b[3]:.3f}")


if __name__ == "__main__":
    main()
