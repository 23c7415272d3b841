"""Job kinds for the tests only; ``$FER_STUDIO_JOB_KINDS`` (set in conftest) makes workers import this."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fer_core.io import atomic_write_json
from fer_core.jobs import JobContext, register_kind
from fer_core.runs import Run, read_json


def _sleep_state(run: Run) -> Path:
    return run.path / "sleep_steps_state.json"


@register_kind("sleep_steps", can_resume=lambda run: _sleep_state(run).is_file(), hidden=True)
def sleep_steps_kind(ctx: JobContext) -> Any:
    """``params["steps"]`` steps of ``params["step_s"]`` seconds, resumable and cancellable (unless
    ``params["ignore_cancel"]``, to exercise the SIGTERM grace period); ``params["fail_at"]``
    raises at that step."""
    steps, step_s = int(ctx.params.get("steps", 20)), float(ctx.params.get("step_s", 0.1))
    state_path = _sleep_state(ctx.run)
    done = int((read_json(state_path, {}) or {}).get("step", 0)) if ctx.resume else 0
    for step in range(done + 1, steps + 1):
        if ctx.should_stop() and not ctx.params.get("ignore_cancel"):
            return {"stopped_at": step - 1}
        if step == ctx.params.get("fail_at"):
            raise RuntimeError(f"boom at step {step}")
        time.sleep(step_s)
        atomic_write_json(state_path, {"step": step})
        ctx.progress({"phase": "train", "epoch": step, "epochs": steps, "batch": 1, "batches": 1})
    atomic_write_json(ctx.run.path / "metrics.json", {"accuracy": 1.0, "macro_f1": 1.0})
    return {"steps": steps}
