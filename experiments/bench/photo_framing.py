"""Does the photo pipeline frame faces as the classifier was trained? FER2013 test faces placed in
photos, detected and cropped by each method, against the same faces classified directly.

    .venv/bin/python experiments/bench/photo_framing.py RUN [--n 500] [--data ../shared/data/fer2013]

Each PublicTest face (48x48) is upscaled to 144 px with a random offset onto a 320x320 photo (grey
with noise); the photo goes through ``Predictor`` (detect -> crop -> classify). Reported per
method: faces found, accuracy on the found faces, and the accuracy of the direct 48x48
classification on the same faces (the ceiling a perfect crop would reach).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fer_core.data import load_dataset  # noqa: E402
from fer_core.evaluation import predict_probs  # noqa: E402
from fer_core.inference import Predictor, load_model_ref  # noqa: E402

METHODS = {
    "blazeface, eye-aligned": dict(detector="blazeface", align=True),
    "blazeface, box + 15% margin": dict(detector="blazeface", align=False),
    "haar, box + 15% margin": dict(detector="haar", face_check=False),
    "mtcnn, eye-aligned": dict(detector="mtcnn", align=True),
}


def compose(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    photo = np.clip(rng.normal(120, 25, (320, 320)), 0, 255).astype(np.uint8)
    x, y = rng.integers(20, 320 - 144 - 20, 2)
    photo[y:y + 144, x:x + 144] = cv2.resize(face, (144, 144), interpolation=cv2.INTER_CUBIC)
    return np.dstack([photo] * 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run id, bundled id, run folder or .keras file")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    args = ap.parse_args()
    test = load_dataset(args.data).split("test")
    idx = np.random.default_rng(0).choice(len(test), min(args.n, len(test)), replace=False)
    faces, labels = test.images[idx], test.labels[idx]
    model, classes = load_model_ref(args.run)
    direct = predict_probs(model, faces).argmax(1) == labels
    rng = np.random.default_rng(1)
    photos = [compose(f, rng) for f in faces]
    print(f"{len(faces)} PublicTest faces; direct 48x48 accuracy {direct.mean():.3f}")
    print("| method | faces found | accuracy on found | direct accuracy on the same faces |")
    print("| --- | ---: | ---: | ---: |")
    for name in args.methods:
        pred = Predictor(model, classes=classes, **METHODS[name])
        found, correct = [], []
        for i, photo in enumerate(photos):
            res = pred.predict_image(photo)
            if res.faces:
                best = max(res.faces, key=lambda f: f.detector_score)
                found.append(i)
                correct.append(best.label == test.classes[labels[i]])
        found = np.array(found, int)
        acc = float(np.mean(correct)) if len(found) else float("nan")
        print(f"| {name} | {len(found)}/{len(faces)} | {acc:.3f} | {direct[found].mean():.3f} |")


if __name__ == "__main__":
    main()
