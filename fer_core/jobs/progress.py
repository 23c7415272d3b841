"""A training job's progress as a fraction and one line of text (from its latest progress event)."""
from __future__ import annotations

from typing import Any, Mapping

from ..throughput import format_seconds


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


def job_progress_text(progress: Mapping[str, Any], status: str, eta: str | None = None, *,
                      detail: bool = False) -> str:
    """``"epoch 3/10 · batch 70/75 · 528 img/s · ETA 41 s"`` from a job's latest progress event.

    A phase other than training comes first (``"loading · …"``); a sweep counts trial-epochs (its
    event's ``unit``); ``eta`` defaults to the event's ``eta_s``; ``detail`` adds the running loss
    and accuracy (the CLI's ``jobs list``). The dashboard and the CLI both show this line."""
    p, bits = progress, []
    phase = p.get("phase")
    if phase and phase != "training":
        bits.append(str(phase))
    if p.get("epoch"):
        bits.append(f"{p.get('unit') or 'epoch'} {p['epoch']}/{p.get('epochs')}")
    if p.get("batches") and status == "running" and phase in (None, "training"):
        bits.append(f"batch {p.get('batch')}/{p['batches']}")
    if detail:
        bits += [f"{k} {p[key]:.4f}" for k, key in (("loss", "loss"), ("acc", "accuracy")) if p.get(key) is not None]
    if p.get("images_per_s"):
        bits.append(f"{p['images_per_s']:.0f} img/s")
    if status == "running" and (eta := eta or (format_seconds(p["eta_s"]) if p.get("eta_s") is not None else None)):
        bits.append(f"ETA {eta}")
    if p.get("message") and p.get("event") != "epoch_end":  # "epoch 3/10 done" repeats the epoch
        bits.append(str(p["message"]))
    return " · ".join(bits) or {"queued": "waiting in the queue", "running": "starting"}.get(status, "-")
