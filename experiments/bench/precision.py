"""Benchmark: training images/s in float32 vs ``mixed_bfloat16`` (``train.precision``), this machine.

Usage::

    .venv/bin/python experiments/bench/precision.py [--model fer_net] [--kwargs '{"deep": true}']
        [--batch 64] [--n 3200] [--rounds 3] [--json out.json]

Two copies of the model, one built under each policy (same seed), compiled as the training engine
compiles the bundled members' recipe (Adam, decoupled weight decay, label smoothing), trained on
``n`` random 48x48 grey faces through FER Studio's pipeline with the members' augmentation
(flip, rotation, zoom, shift, random erasing, mixup): speed does not depend on the pixels. Each
copy is warmed up for one epoch (graph building excluded), then the two are timed for one epoch
per round, in alternating order so machine load hits both alike. Prints images/s (best and
median of the rounds), images per CPU-second and whether the CPU has native bfloat16
(``avx512_bf16`` / ``amx_bf16``). Run it on an idle machine: nothing training beside it.
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

POLICIES = ("float32", "mixed_bfloat16")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fer_net")
    ap.add_argument("--kwargs", default='{"deep": true}', help="the model's options as JSON")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=3200, help="training images per timed epoch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)

    import keras
    import numpy as np

    from fer_core.models import create_model
    from fer_core.models.files import dtype_policy
    from fer_core.paths import machine_name, native_bfloat16
    from fer_core.training.config import load_config
    from fer_core.training.engine import compile_model
    from fer_core.training.pipeline import train_pipeline

    cfg = load_config({"name": "bench", "data": {"path": "synthetic:n=10"}, "model": {"name": args.model},
                       "train": {"batch_size": args.batch, "lr": 1e-3, "weight_decay": 0.01, "label_smoothing": 0.1},
                       "augment": {"flip": True, "rotation": 10.0, "zoom": 0.15, "shift": 0.15, "erasing": 0.5,
                                   "mixup": 0.2}})
    kwargs = json.loads(args.kwargs)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.n, 48, 48, 1), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, args.n)]
    pipe = train_pipeline(cfg, x, y)
    models = {}
    for policy in POLICIES:
        keras.utils.set_random_seed(0)
        with dtype_policy(policy):
            models[policy] = create_model(args.model, (48, 48, 1), 7, **kwargs)
        compile_model(models[policy], cfg)
        models[policy].fit(pipe.dataset(0), epochs=1, shuffle=False, verbose=0)  # warm-up: graphs built
    wall: dict[str, list[float]] = {p: [] for p in POLICIES}
    cpu: dict[str, list[float]] = {p: [] for p in POLICIES}
    for r in range(args.rounds):
        for policy in (POLICIES if r % 2 == 0 else POLICIES[::-1]):
            t0, c0 = time.perf_counter(), time.process_time()
            models[policy].fit(pipe.dataset(r + 1), epochs=1, shuffle=False, verbose=0)
            wall[policy].append(pipe.n / (time.perf_counter() - t0))
            cpu[policy].append(pipe.n / max(time.process_time() - c0, 1e-9))
    rows = [{"policy": p, "best_img_s": round(max(wall[p]), 1), "median_img_s": round(statistics.median(wall[p]), 1),
             "img_per_cpu_s": round(statistics.median(cpu[p]), 1)} for p in POLICIES]
    ratio = rows[1]["best_img_s"] / rows[0]["best_img_s"]
    result = {"machine": machine_name(), "native_bfloat16": native_bfloat16(), "model": args.model, "kwargs": kwargs,
              "batch": args.batch, "images": pipe.n, "rounds": args.rounds, "rows": rows,
              "bf16_over_fp32_best": round(ratio, 2)}
    print(f"{result['machine']}; native bfloat16: {result['native_bfloat16']}; {args.model} {kwargs}, batch "
          f"{args.batch}, {pipe.n} images per round, {args.rounds} rounds\n")
    print("| policy | img/s, best / median | img per CPU-s |\n| --- | ---: | ---: |")
    for row in rows:
        print(f"| {row['policy']} | {row['best_img_s']:.0f} / {row['median_img_s']:.0f} | {row['img_per_cpu_s']:.0f} |")
    print(f"\nmixed_bfloat16 / float32 (best rounds): {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
