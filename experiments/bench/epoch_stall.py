"""Benchmark: the epoch-end stall of autotuned tf.data iterators (docs/benchmarks.md, "The epoch-end stall").

Usage::

    .venv/bin/python experiments/bench/epoch_stall.py [--model fer_net] [--n 3200] [--calls 6]

Times ``--calls`` one-epoch ``fit`` calls of ``--model`` (48x48 grey, random pixels, batch 64)
for three inputs, interleaved: FER Studio's pipeline as it is (fixed parallelism, no
autotuning), the same pipeline with tf.data autotuning on, and plain ``model.fit`` on numpy
(Keras's adapter, autotuned). Prints every call's seconds and the cores it kept busy (process
CPU time / wall time): a stalled call shows as a long call with about one core busy.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fer_net")
    ap.add_argument("--n", type=int, default=3200, help="images per epoch")
    ap.add_argument("--calls", type=int, default=6, help="timed fit calls per input")
    args = ap.parse_args(argv)

    import keras
    import numpy as np

    from fer_core.models import create_model
    from fer_core.training.pipeline import ArrayPipeline

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.n, 48, 48, 1), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, args.n)]
    xf = x.astype(np.float32)
    fixed, tuned = ArrayPipeline(x, y, seed=0), ArrayPipeline(x, y, seed=0, autotune=True)
    model = create_model(args.model, (48, 48, 1), 7)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "categorical_crossentropy", jit_compile=False)
    variants = {
        "pipeline (fixed)": lambda e: model.fit(fixed.dataset(e), epochs=1, verbose=0),
        "pipeline (autotuned)": lambda e: model.fit(tuned.dataset(e), epochs=1, verbose=0),
        "plain fit (numpy)": lambda e: model.fit(xf, y, batch_size=64, epochs=1, shuffle=True, verbose=0),
    }
    for run in variants.values():  # warm-up: build the graphs
        run(0)
    times: dict[str, list[str]] = {k: [] for k in variants}
    for call in range(1, args.calls + 1):
        for name, run in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run(call)
            wall = time.perf_counter() - t0
            times[name].append(f"{wall:.2f}s/{(time.process_time() - c0) / wall:.1f}")
    print(f"{args.model}, {args.n} images per call ({args.n // 64} batches); seconds/cores busy per call:")
    for name, row in times.items():
        print(f"  {name:22s} " + "  ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
