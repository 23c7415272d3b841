"""Benchmarks: measured speed, never guessed. Command line: ``python -m fer_core bench train|predict``.

``bench train`` measures training images/second of every registered model at 48x48 grey, plain
``model.fit`` on numpy arrays against FER Studio's input pipeline, and stores the table where the
dashboard reads it to show expected time per epoch.

``bench predict`` times the photo-to-prediction path on a 640x480 JPEG with one face: decode +
detect + crop + classify, median and 95th percentile over repeated runs, and batch throughput in
faces/second, for Keras and the exported ONNX / TFLite versions of each model. Timings depend only
on the architecture, so untrained models of the registered architectures are used unless runs are
given.
"""
from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def photo_with_face(seed: int = 0) -> tuple[bytes, str]:
    """A 640x480 JPEG with one face: a real FER2013 face when the shared data is present."""
    import cv2
    from PIL import Image

    from .paths import shared_data_dir

    face, origin = None, "synthetic face"
    base = shared_data_dir()
    candidate = base / "fer2013" / "test" / "happy" / "PublicTest_10130075.jpg" if base else None
    if candidate is not None and candidate.is_file():
        face, origin = cv2.imread(str(candidate), cv2.IMREAD_GRAYSCALE), f"real face {candidate.name}"
    if face is None:
        from .data.synthetic import make_synthetic

        face = make_synthetic(7, seed=seed, balance="uniform").images[3]
    rng = np.random.default_rng(seed)
    # A photo-like background: a smooth left-to-right light gradient with mild sensor noise.
    ramp = np.linspace(70, 190, 640)[None, :] + np.linspace(-20, 20, 480)[:, None]
    canvas = np.clip(ramp + rng.normal(0, 6, (480, 640)), 0, 255).astype(np.uint8)
    canvas[150:310, 240:400] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    Image.fromarray(np.repeat(canvas[..., None], 3, axis=2)).save(buf, format="JPEG", quality=90)
    return buf.getvalue(), origin


def _percentiles(times: list[float]) -> tuple[float, float]:
    arr = np.asarray(times) * 1000
    return float(np.median(arr)), float(np.percentile(arr, 95))


def bench_predict(models: dict[str, Any], *, repeats: int = 50, batch: int = 256,
                  formats: tuple[str, ...] = ("keras", "onnx", "tflite"), detector: str = "blazeface",
                  tta: dict[str, str | None] | None = None) -> pd.DataFrame:
    """Latency (ms, median and p95) for one 640x480 photo and batch throughput (faces/s).

    ``tta`` maps model names to the test-time augmentation their photos get (as ``predict`` uses:
    :func:`fer_core.inference.default_tta`); the batch throughput is one view per face. The ONNX
    and TFLite rows run the model as ``predict --runtime`` does (:func:`fer_core.export.runtime_model`:
    an ensemble member by member), exported afresh into a temporary folder.
    """
    from .data.faces import get_detector
    from .evaluation.ensemble import is_ensemble
    from .evaluation.evaluate import model_classes
    from .evaluation.predict import model_input_shape, predict_probs
    from .export import runtime_model
    from .inference import Predictor

    photo, origin = photo_with_face()
    get_detector(detector).detect(np.zeros((480, 640), np.uint8))  # warm the detector
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="fer_bench_"))
    for name, model in models.items():
        ensemble = is_ensemble(model)  # its input is its first member's
        for fmt in formats:
            rt = runtime_model(model, fmt, cache=tmp)
            pred = Predictor(rt, classes=model_classes(model), detector=detector, tta=(tta or {}).get(name))
            found = len(pred.predict_image(photo).faces)  # warm-up (graph tracing, allocation)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                pred.predict_image(photo)
                times.append(time.perf_counter() - t0)
            med, p95 = _percentiles(times)
            h, w = (int(v or 48) for v in model_input_shape(model.members[0] if ensemble else model)[:2])
            faces = np.random.default_rng(0).integers(0, 256, (batch, h, w), dtype=np.uint8)
            predict_probs(rt, faces[:8])
            t0 = time.perf_counter()
            for _ in range(3):
                predict_probs(rt, faces, batch_size=batch)
            throughput = 3 * batch / (time.perf_counter() - t0)
            rows.append({"model": name, "runtime": fmt, "tta": pred.tta or getattr(model, "tta", None) or "none",
                         "faces_found": found, "latency_median_ms": round(med, 1),
                         "latency_p95_ms": round(p95, 1), "batch_faces_per_s": round(throughput)})
    table = pd.DataFrame(rows)
    table.attrs["photo"] = f"640x480 JPEG, {origin}, detector {detector}, {repeats} runs"
    return table


def bench_train(names: list[str], *, batch: int = 64, seconds: float = 12.0, rounds: int = 2,
                min_batches: int = 10, progress=print) -> pd.DataFrame:
    """Training images/s at 48x48 grey for each model: plain ``model.fit`` on numpy vs the pipeline.

    Two copies of each model are compiled (SGD, same initial weights): one for plain ``fit`` with
    Keras's defaults, one as the training engine compiles it (``steps_per_execution`` of
    :class:`TrainSpec`). Both are warmed up (graph building excluded), then timed for about
    ``seconds`` per variant and round, variants interleaved so machine load hits both alike.
    Each round records wall-clock images/s and images per CPU-second. The ratio compares the
    best round of each variant (as ``timeit`` advises: slower rounds measure interference,
    not the code); medians are kept beside it. An autotuned tf.data iterator (Keras's adapter
    for numpy arrays is one) can stall up to ~5 s when destroyed at the end of a ``fit``
    (README, "The epoch-end stall"), which halves a short round's wall-clock rate while images
    per CPU-second stay put.
    """
    import keras

    from .models import create_model
    from .training.config import TrainSpec
    from .training.pipeline import ArrayPipeline

    spe = TrainSpec().steps_per_execution  # what the training engine compiles with

    def compiled(name: str, steps_per_execution: int = 1):
        keras.utils.set_random_seed(0)
        m = create_model(name, (48, 48, 1), 7)
        m.compile(keras.optimizers.SGD(0.01, momentum=0.9), "categorical_crossentropy", jit_compile=False,
                  steps_per_execution=steps_per_execution)
        return m

    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        model, ours = compiled(name), compiled(name, spe)
        x = rng.integers(0, 256, (batch * 4, 48, 48, 1), dtype=np.uint8)
        y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, len(x))]
        t0 = time.perf_counter()
        model.fit(x.astype(np.float32), y, batch_size=batch, epochs=1, verbose=0)  # build + warm up
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.fit(x.astype(np.float32), y, batch_size=batch, epochs=1, verbose=0)
        guess = len(x) / (time.perf_counter() - t0)
        n = int(max(batch * max(1, min_batches), min(batch * 200, guess * seconds)) // batch * batch)
        x = rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
        y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
        xf = x.astype(np.float32)
        pipe = ArrayPipeline(x, y, batch_size=batch, seed=0)
        ours.fit(pipe.dataset(0), epochs=1, verbose=0)  # build the pipeline model's graph too
        wall: dict[str, list[float]] = {"plain_fit": [], "pipeline": []}
        cpu: dict[str, list[float]] = {"plain_fit": [], "pipeline": []}
        for r in range(rounds):
            for variant in (("plain_fit", "pipeline") if r % 2 == 0 else ("pipeline", "plain_fit")):
                t0, c0 = time.perf_counter(), time.process_time()
                if variant == "plain_fit":
                    model.fit(xf, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
                else:
                    ours.fit(pipe.dataset(r + 1), epochs=1, verbose=0)
                wall[variant].append(n / (time.perf_counter() - t0))
                cpu[variant].append(n / max(time.process_time() - c0, 1e-9))
        best = {k: max(v) for k, v in wall.items()}
        med = {k: float(np.median(v)) for k, v in wall.items()}
        per_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
        rows.append({"model": name, "params_M": round(model.count_params() / 1e6, 2),
                     "plain_fit_img_s": round(best["plain_fit"], 1), "pipeline_img_s": round(best["pipeline"], 1),
                     "ratio": round(best["pipeline"] / best["plain_fit"], 2),
                     "plain_fit_median": round(med["plain_fit"], 1), "pipeline_median": round(med["pipeline"], 1),
                     "plain_fit_img_per_cpu_s": round(per_cpu["plain_fit"], 1),
                     "pipeline_img_per_cpu_s": round(per_cpu["pipeline"], 1),
                     "cpu_ratio": round(per_cpu["pipeline"] / per_cpu["plain_fit"], 2),
                     # expected epoch times use the median: what a run will typically see
                     "images_per_s": round(med["pipeline"], 1),
                     "min_per_fer2013_epoch": round(28709 / med["pipeline"] / 60, 1),
                     "images": n, "rounds": rounds, "steps_per_execution": spe, "warmup_s": round(warm, 1)})
        if progress:
            progress(f"{name}: best of {rounds} rounds of {n} images: plain fit {best['plain_fit']:.0f} img/s, "
                     f"pipeline {best['pipeline']:.0f} img/s; per CPU-second {per_cpu['plain_fit']:.0f} vs "
                     f"{per_cpu['pipeline']:.0f}")
        del model, ours
        keras.backend.clear_session()
    return pd.DataFrame(rows)


def train_markdown(table: pd.DataFrame) -> str:
    """The README's table of :func:`bench_train` results."""
    lines = ["| model | params (M) | plain `fit` img/s, best / median | pipeline img/s, best / median | "
             "ratio of bests | img per CPU-s, plain / pipeline | min per FER2013 epoch |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in table.to_dict(orient="records"):
        lines.append(f"| `{r['model']}` | {r['params_M']} | {r['plain_fit_img_s']:.0f} / {r['plain_fit_median']:.0f} | "
                     f"{r['pipeline_img_s']:.0f} / {r['pipeline_median']:.0f} | {r['ratio']:.2f} | "
                     f"{r['plain_fit_img_per_cpu_s']:.0f} / {r['pipeline_img_per_cpu_s']:.0f} | "
                     f"{r['min_per_fer2013_epoch']} |")
    return "\n".join(lines)
