"""How a bundled model scores on test faces by their distance to the nearest train face.

    .venv/bin/python experiments/train_twins.py [ID ...]     # default: `default`

For each bundled model, from its stored test predictions (its card's), prints the accuracy on the
test faces that are pixel-identical to a train face (the cards' "train twins"), on those within a
perceptual-hash distance of a train face without being identical (``fer_core.audit.hashing.phash``,
64 bits; the audit calls distance <= 4 a near duplicate), and on the rest. Nothing is predicted:
it reads the dataset (the models' config path, FER2013 for the bundled ones) and the predictions.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core import bundled  # noqa: E402
from fer_core.audit.hashing import hamming, phash  # noqa: E402
from fer_core.data import load_dataset  # noqa: E402
from fer_core.evaluation.leakage import train_twins  # noqa: E402
from fer_core.training.config import resolve_path  # noqa: E402

BANDS = ((0, 4), (5, 10), (11, 64))  # pHash distance bands of the faces that are not pixel-identical


def nearest_distance(images: np.ndarray, reference: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Per image, the smallest pHash Hamming distance to any ``reference`` image."""
    h, ref = phash(images), phash(reference)
    return np.concatenate([hamming(h[i:i + chunk, None], ref[None, :]).min(1) for i in range(0, len(h), chunk)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", default=["default"], help="bundled ids (default: default)")
    args = ap.parse_args()
    first = bundled.get_bundled(args.ids[0])
    ds = load_dataset(resolve_path(first.record["config"]["data"]["path"]))
    test = ds.split("test")
    exact = train_twins(ds, "test")
    dist = nearest_distance(test.images, ds.split("train").images)
    groups = {"pixel-identical": exact}
    for lo, hi in BANDS:
        groups[f"pHash distance {lo}-{hi}"] = ~exact & (dist >= lo) & (dist <= hi)
    print("| model | " + " | ".join(f"{k} ({m.sum():,} faces)" for k, m in groups.items()) + " | all |")
    print("| --- |" + " ---: |" * (len(groups) + 1))
    for ref in args.ids:
        b = bundled.get_bundled(ref)
        with np.load(b.path / "predictions.npz") as z:
            if list(z["sources"]) != list(test.sources):
                raise SystemExit(f"{b.id}: its predictions are not of this dataset's test split in order")
            right = z["probs"].argmax(1) == test.labels
        cells = [f"{right[m].mean():.1%}" if m.any() else "–" for m in groups.values()]
        print(f"| {b.id} | " + " | ".join(cells) + f" | {right.mean():.1%} |")


if __name__ == "__main__":
    main()
