"""Benchmark: load the FER2013 image folders cold (decode every JPEG) and from the .npz cache.

    .venv/bin/python experiments/bench/load_fer2013.py [PATH]

Uses a fresh temporary FER_STUDIO_HOME so the first load really decodes. Target on two CPU
cores: < 30 s cold, < 3 s from cache.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    os.environ["FER_STUDIO_HOME"] = tempfile.mkdtemp(prefix="fer_bench_")
    from fer_core.paths import shared_data_dir
    from fer_core.data import load_dataset

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else (shared_data_dir() or Path("missing")) / "fer2013"
    if not root.is_dir():
        sys.exit(f"no dataset at {root}")
    t0 = time.perf_counter()
    ds = load_dataset(root)  # decodes every file and writes the cache entry
    cold = time.perf_counter() - t0
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ds2 = load_dataset(root)
        times.append(time.perf_counter() - t0)
    assert len(ds2) == len(ds)
    print(f"{ds.describe()}")
    print(f"cold load (decode {len(ds):,} files + write cache): {cold:.1f} s")
    print(f"from cache (best / median of 3): {min(times):.2f} s / {sorted(times)[1]:.2f} s")


if __name__ == "__main__":
    main()
