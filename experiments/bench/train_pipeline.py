"""Benchmark: training throughput of FER Studio's tf.data pipeline vs plain ``model.fit(numpy)``.

Usage::

    .venv/bin/python experiments/bench/train_pipeline.py [--model five_layer] [--batch 64]
        [--n 8000] [--rounds 3] [--json out.json]

Uses FER2013 train images from ``../shared/data/fer2013`` when present (else the synthetic set),
converted to the model's 48x48x1 input. Variants, each timed for one epoch per round after a
warm-up epoch (graph building excluded), rounds interleaved so machine load hits all alike:

* ``plain_fit``        ``model.fit(x_float32, y_onehot, batch_size=B, shuffle=True)``
* ``pipeline``         :class:`fer_core.training.pipeline.ArrayPipeline`, no augmentation
* ``pipeline_aug``     the same with flip + rotation 10 deg + zoom 0.1 + shift 0.1
* ``slices_cache``     ``from_tensor_slices -> cache -> shuffle(n) -> batch -> prefetch``

Prints images/s per variant (median and best over rounds, in a shuffled order per round) and
images per CPU-second (less sensitive to other processes on a shared machine). XLA stays off.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="five_layer")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=8000, help="training images per epoch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)

    import numpy as np
    import keras
    import tensorflow as tf

    from fer_core.paths import shared_data_dir
    from fer_core.data import load_dataset
    from fer_core.models import create_model
    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import ArrayPipeline, build_augmenter
    from fer_core.evaluation.predict import to_model_input
    from fer_core.training.prepare import stratified_subset

    shared = shared_data_dir()
    if shared and (shared / "fer2013" / "train").is_dir():
        ds = load_dataset(shared / "fer2013", ferplus=None).split("train")
    else:
        ds = load_dataset(f"synthetic:n={args.n}").split("train")
    idx = stratified_subset(ds.labels, args.n, seed=0)
    x = to_model_input(ds.images[idx], (48, 48, 1), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[ds.labels[idx]]
    n = len(x)
    xf = x.astype(np.float32)
    print(f"data: {ds.display_name} train, {n} images, batch {args.batch}, model {args.model}, "
          f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} cores", flush=True)

    def make_model():
        keras.utils.set_random_seed(0)
        m = create_model(args.model, input_shape=(48, 48, 1), num_classes=7)
        m.compile(keras.optimizers.SGD(0.01, momentum=0.9), "categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
        return m

    pipe = ArrayPipeline(x, y, batch_size=args.batch, seed=0)
    pipe_aug = ArrayPipeline(x, y, batch_size=args.batch, seed=0, augment=build_augmenter(AugmentSpec(), 0))
    slices = (tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(n, seed=0)
              .batch(args.batch).map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))
    variants = {
        "plain_fit": lambda m, e: m.fit(xf, y, batch_size=args.batch, epochs=1, shuffle=True, verbose=0),
        "pipeline": lambda m, e: m.fit(pipe.dataset(e), epochs=1, shuffle=False, verbose=0),
        "pipeline_aug": lambda m, e: m.fit(pipe_aug.dataset(e), epochs=1, shuffle=False, verbose=0),
        "slices_cache": lambda m, e: m.fit(slices, epochs=1, shuffle=False, verbose=0),
    }
    models = {}
    for name, run in variants.items():  # warm-up: build graphs, fill caches
        models[name] = make_model()
        run(models[name], 0)
    rates: dict[str, list[float]] = {k: [] for k in variants}
    cpu_rates: dict[str, list[float]] = {k: [] for k in variants}
    order = list(variants)
    rng = np.random.default_rng(0)
    for r in range(args.rounds):
        rng.shuffle(order)  # a load spike from other processes should not always hit the same variant
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            variants[name](models[name], r + 1)
            rates[name].append(n / (time.perf_counter() - t0))
            cpu_rates[name].append(n / (time.process_time() - c0))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    result = {k: {"median_img_s": round(statistics.median(v), 1), "max_img_s": round(max(v), 1),
                  "median_img_per_cpu_s": round(statistics.median(cpu_rates[k]), 1),
                  "all": [round(a, 1) for a in v]}
              for k, v in rates.items()}
    print("\nimages/s wall clock (median, best of rounds) and images per CPU-second (median):")
    for k, v in result.items():
        print(f"  {k:14s} {v['median_img_s']:8.1f} {v['max_img_s']:8.1f} {v['median_img_per_cpu_s']:8.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "n": n, "result": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
