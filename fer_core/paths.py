"""Where FER Studio keeps its runs, jobs, caches and registered datasets."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data directory: ``$FER_STUDIO_HOME`` or ``<project>/.fer_studio`` (git-ignored)."""
    path = Path(os.environ.get("FER_STUDIO_HOME") or PROJECT_ROOT / ".fer_studio")
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensembles_dir() -> Path:
    """``<data_dir>/ensembles``: one ``.json`` per ensemble saved from the dashboard or the CLI."""
    return data_dir() / "ensembles"


def cache_dir() -> Path:
    """Folder for dataset caches (``.npz`` files keyed by source content)."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, or ``$FER_SHARED_DATA``; ``None`` when absent."""
    env = os.environ.get("FER_SHARED_DATA")
    path = Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def machine_name() -> str:
    """``"AMD EPYC, 2 cores"``: the CPU model and core count, recorded beside measured results."""
    import platform

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def native_bfloat16() -> bool | None:
    """Whether this CPU computes bfloat16 natively (``avx512_bf16`` or ``amx_bf16`` in
    /proc/cpuinfo), where ``train.precision = "mixed_bfloat16"`` pays; None where that cannot be read."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


#: Environment variable listing extra folders the dashboard may register data from (``os.pathsep``-separated).
DATA_ROOTS_ENV = "FER_STUDIO_DATA_ROOTS"


def allowed_data_roots() -> list[Path]:
    """Folders whose datasets may be registered by path from the dashboard.

    The data directory, the shared data beside the checkout, and every folder in
    ``$FER_STUDIO_DATA_ROOTS``. (A dashboard client must not make the server read any folder it can see.)
    """
    roots = [data_dir(), shared_data_dir()]
    roots += [Path(p).expanduser() for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [r.resolve() for r in roots if r is not None]
