"""Speed of the robustness transforms on 48x48 images: what-if (one image) and corrupt_batch.

Run: .venv/bin/python experiments/bench/robustness_speed.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fer_core.data.synthetic import make_synthetic  # noqa: E402
from fer_core.robustness import CORRUPTIONS, WhatIf, apply_whatif, augment_batch, corrupt_batch  # noqa: E402


def best_ms(fn, repeat: int = 200) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    fn()
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(t))


def main() -> None:
    for rgb in (False, True):
        ds = make_synthetic(512, seed=0, rgb=rgb)
        img = ds.images[0]
        print(f"--- {'RGB' if rgb else 'grey'} 48x48")
        cases = {
            "identity": WhatIf(),
            "brightness+contrast+gamma": WhatIf(brightness=0.2, contrast=0.7, gamma=1.5),
            "noise": WhatIf(noise=20.0),
            "blur": WhatIf(blur=1.5),
            "jpeg": WhatIf(jpeg_quality=20),
            "rotation": WhatIf(rotation=15.0),
            "hand": WhatIf(occlusion="hand", occlusion_x=0.4, occlusion_y=0.7),
            "every knob": WhatIf(brightness=-0.2, gamma=1.3, contrast=0.8, noise=10.0, blur=1.0,
                                 jpeg_quality=30, rotation=10.0, occlusion="hand"),
        }
        for name, p in cases.items():
            print(f"apply_whatif {name:28s} {best_ms(lambda: apply_whatif(img, p)):7.3f} ms")
        total = 0.0
        for name in CORRUPTIONS:
            ms = best_ms(lambda: corrupt_batch(ds.images, name, 3), repeat=5)
            total += ms
            print(f"corrupt_batch 512 x {name:16s} {ms:8.2f} ms ({1e3 * ms / 512:6.1f} us/img)")
        print(f"all {len(CORRUPTIONS)} corruptions, one severity, 512 images: {total:.0f} ms")
        ms = best_ms(lambda: augment_batch(ds.images[:64], "all", p=0.5, seed=np.random.default_rng(0)), repeat=20)
        print(f"augment_batch 64 images, p=0.5, all corruptions: {ms:.2f} ms")


if __name__ == "__main__":
    main()
