"""The models a user can pick: finished runs and saved ensembles, with their labels."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .runs import Run, RunStore
from .run_files import PREDICTIONS_FILE


def mtime(path: str | Path) -> float:
    """Modification time of ``path`` (0.0 when it does not exist)."""
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True)
class ModelChoice:
    """A run or a saved ensemble the user can pick.

    ``key`` is ``"run:<id>"`` or ``"ens:<file>"``; ``path`` is model.keras or the ensemble JSON.
    """

    key: str
    label: str
    kind: str
    path: str
    run_id: str | None
    synthetic: bool

    @property
    def stamp(self) -> float:
        return mtime(self.path)


def finished_runs(store: RunStore) -> list[Run]:
    """The user's runs that finished with a model and saved test predictions, newest first."""
    return [r for r in store.list(status="done", bundled=False)
            if r.model_path.is_file() and (r.path / PREDICTIONS_FILE).is_file()]


def bundled_choices() -> list[ModelChoice]:
    """The bundled models and ensembles (``default`` first), as runs: a bundled ensemble keeps its
    own saved test predictions, so it is scored like a run."""
    from .bundled import default_id, list_bundled

    default = default_id()
    out = []
    for b in sorted(list_bundled(), key=lambda b: b.id != default):
        acc = b.record.get("test_accuracy")
        title = b.record.get("name")  # long for ensembles: last, where a narrow box may cut it
        label = (f"★ {b.id} · bundled{' · default' if b.id == default else ''}"
                 f"{f' · acc {acc:.3f}' if acc is not None else ''}{f' · {title}' if title and title != b.id else ''}")
        out.append(ModelChoice(f"run:{b.id}", label, "run", str(b.model_path), b.id, False))
    return out


def saved_ensembles(folder: Path) -> list[Path]:
    """The ensemble files (``*.json``) of ``folder``, sorted ([] when it does not exist)."""
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def ensemble_members(path: str | Path) -> list[str]:
    """The member references (run ids or paths) of a saved ensemble file."""
    entry = json.loads(Path(path).read_text(encoding="utf-8"))
    return [m["ref"] for m in entry.get("members", [])]


def run_is_synthetic(run: Run) -> bool:
    """Whether a run was trained on the generated faces."""
    return str(run.dataset).startswith("synthetic") or bool(run.metrics().get("synthetic"))


def run_label(run: Run) -> str:
    """``"tiny0 (five_layer, 3f2a) · acc 0.713 · synthetic"``."""
    acc = f" · acc {run.test_accuracy:.3f}" if run.test_accuracy is not None else ""
    syn = " · synthetic" if run_is_synthetic(run) else ""
    return f"{run.name} ({run.model}, {run.id[-4:]}){acc}{syn}"


def model_choices(store: RunStore, ensembles_dir: Path | None = None) -> list[ModelChoice]:
    """The default bundled model, the user's finished runs (newest first), the other bundled models,
    then the ensembles saved in ``ensembles_dir`` (None: no ensembles).

    An ensemble counts as synthetic when its first member is a synthetic run; unreadable files are skipped.
    """
    bundled = bundled_choices()
    out = bundled[:1] + [ModelChoice(f"run:{r.id}", run_label(r), "run", str(r.model_path), r.id,
                                     run_is_synthetic(r)) for r in finished_runs(store)] + bundled[1:]
    for p in saved_ensembles(ensembles_dir) if ensembles_dir is not None else []:
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        first = (entry.get("members") or [{}])[0].get("ref", "")
        syn = any(c.synthetic for c in out if c.run_id == first)
        n = len(entry.get("members") or [])
        out.append(ModelChoice(f"ens:{p.name}", f"ensemble {entry.get('name', p.stem)} ({n} models)"
                               f"{' · synthetic' if syn else ''}", "ensemble", str(p), None, syn))
    return out
