"""A training job's progress as a fraction and one line of text (from its latest progress event)."""
from __future__ import annotations

from typing import Any, Mapping


def job_fraction(progress: Mapping[str, Any], status: str) -> float:
    """Fraction done of a training job from its latest progress event (1.0 once finished)."""
    if status == "done":
        return 1.0
    epochs = progress.get("epochs") or 0
    epoch = progress.get("epoch") or 0
    if not epochs or not epoch:
        return 0.0
    batches = progress.get("batches") or 0
    batch = progress.get("batch") or 0
    part = batch / batches if batches else 0.0
    if progress.get("event") == "epoch_end" or progress.get("phase") in ("evaluating", "done"):
        part = 1.0
    return float(min(max((epoch - 1 + part) / epochs, 0.0), 1.0))


def job_progress_text(progress: Mapping[str, Any], status: str, eta: str | None = None) -> str:
    """``"epoch 3/10 · batch 70/75 · 528 img/s · ETA 41 s"`` from a job's latest progress event
    (a sweep counts trial-epochs: its event's ``unit``)."""
    bits = []
    if progress.get("epoch"):
        bits.append(f"{progress.get('unit') or 'epoch'} {progress['epoch']}/{progress.get('epochs')}")
    if progress.get("batches") and status == "running":
        bits.append(f"batch {progress.get('batch')}/{progress['batches']}")
    if progress.get("images_per_s"):
        bits.append(f"{progress['images_per_s']:.0f} img/s")
    if status == "running" and eta:
        bits.append(f"ETA {eta}")
    if progress.get("message"):
        bits.append(str(progress["message"]))
    return " · ".join(bits) or ("waiting in the queue" if status == "queued" else "starting")
