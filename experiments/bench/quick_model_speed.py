"""Training speed of registered models: plain ``model.fit`` on random faces, batch 64.

Usage::

    python experiments/bench/quick_model_speed.py five_layer fer_net [--images 2560] [--repeats 3]

Prints parameters and train images/s (median of the repeats, after one warm-up epoch that
builds the graph). Numbers vary by up to ~40% on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402


def train_speed(name: str, images: int = 2560, repeats: int = 3, batch_size: int = 64,
                input_shape=(48, 48, 1)) -> tuple[int, float]:
    """(parameter count, median train images/s) of one registered model."""
    import keras
    from fer_core.models import create_model

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(images, *input_shape)).astype("float32")
    y = rng.integers(0, 7, size=images)
    model = create_model(name, input_shape=input_shape)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x[: 4 * batch_size], y[: 4 * batch_size], batch_size=batch_size, verbose=0)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, verbose=0)
        rates.append(images / (time.perf_counter() - start))
    return model.count_params(), statistics.median(rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--images", type=int, default=2560)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'model':18s} {'params':>12s} {'train img/s':>12s}")
    for name in args.models:
        params, rate = train_speed(name, args.images, args.repeats)
        print(f"{name:18s} {params:12,d} {rate:12.0f}", flush=True)


if __name__ == "__main__":
    main()
