"""Models that ship with FER Studio, in ``fer_core/pretrained/``: listed like runs, read-only.

Layout::

    fer_core/pretrained/manifest.json       {"default": ID, "models": [{"id", "kind", "sha256": {...}}, ...]}
    fer_core/pretrained/<id>/run.json       the record a run folder has (name, model, dataset, metrics)
    fer_core/pretrained/<id>/model.keras    a single model (kind "model"), or
    fer_core/pretrained/<id>/ensemble.json  soft voting over other bundled ids (kind "ensemble")
    fer_core/pretrained/<id>/card.json/.md  the model card (fer_core.modelcard)
    fer_core/pretrained/<id>/config.toml, history.json, metrics.json, predictions.npz

``default`` names the entry judged most accurate on validation (``experiments/bundle_models.py
--default``; PublicTest picks nothing). Every file listed in the manifest is checked
against its SHA-256 before use: a missing or altered file is an error naming it, never a silent
fallback. Models load with ``safe_mode=True`` (no code inside a model file is run).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError, FERError

MANIFEST = "manifest.json"
DEFAULT_ALIAS = "default"
KINDS = ("model", "ensemble")
_ENV = "FER_STUDIO_PRETRAINED"  # another folder of bundled models (tests, packagers)


class BundledError(DataError):
    """A bundled model is missing, corrupt, unknown or asked to change."""


def pretrained_dir() -> Path:
    """The folder of bundled models (``$FER_STUDIO_PRETRAINED`` or ``fer_core/pretrained``)."""
    env = os.environ.get(_ENV)
    return Path(env).resolve() if env else Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class BundledModel:
    """One bundled model or ensemble.

    Attributes
    ----------
    id : stable id (e.g. ``fer2013-fernet-a``)
    kind : ``"model"`` or ``"ensemble"``
    path : its folder
    record : the contents of its ``run.json``
    sha256 : {file name: SHA-256 hex} of the files that must be intact
    """

    id: str
    kind: str
    path: Path
    record: dict[str, Any] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.path / ("model.keras" if self.kind == "model" else "ensemble.json")

    def card(self) -> dict[str, Any]:
        """The model card (``card.json``); {} when there is none."""
        from .modelcard import CARD_JSON

        p = self.path / CARD_JSON
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        return {"default": None, "models": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundledError(f"bundled-model manifest {path} is unreadable ({exc}); restore it with "
                           "`git checkout -- fer_core/pretrained`.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise BundledError(f"bundled-model manifest {path} has no 'models' list; restore it with "
                           "`git checkout -- fer_core/pretrained`.")
    return data


def list_bundled() -> list[BundledModel]:
    """Every bundled model and ensemble, in manifest order (most accurate first by convention)."""
    folder = pretrained_dir()
    out = []
    for entry in _read_manifest(folder)["models"]:
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS or not entry.get("id"):
            raise BundledError(f"{folder / MANIFEST}: bad entry {entry!r} (needs 'id' and 'kind' in {KINDS}).")
        path = folder / str(entry["id"])
        rec_path = path / "run.json"
        try:
            record = json.loads(rec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundledError(f"bundled model {entry['id']}: {rec_path} is missing or unreadable ({exc}).") from None
        out.append(BundledModel(str(entry["id"]), entry["kind"], path, record, dict(entry.get("sha256") or {})))
    return out


def default_id() -> str | None:
    """The id ``default`` stands for, or None when nothing is bundled."""
    return _read_manifest(pretrained_dir()).get("default")


def is_bundled(ref: str) -> bool:
    """Whether ``ref`` (an id or ``default``) names a bundled model."""
    ref = str(ref)
    if ref == DEFAULT_ALIAS:
        return default_id() is not None
    return any(b.id == ref for b in list_bundled())


def get_bundled(ref: str) -> BundledModel:
    """The bundled model ``ref`` (an id or ``default``); :class:`BundledError` when unknown."""
    ref = str(ref)
    wanted = default_id() if ref == DEFAULT_ALIAS else ref
    models = list_bundled()
    for b in models:
        if b.id == wanted:
            return b
    if ref == DEFAULT_ALIAS:
        raise BundledError(f"'default' names no bundled model in {pretrained_dir()}: this copy ships none. "
                           "Train one (python -m fer_core train experiments/...) and use its run id.")
    known = ", ".join(b.id for b in models) or "none"
    raise BundledError(f"no bundled model {ref!r}; bundled: {known}.")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(b: BundledModel) -> None:
    """Check every listed file of ``b`` exists and matches its SHA-256; raise naming the first bad one."""
    if not b.sha256:
        raise BundledError(f"bundled model {b.id}: the manifest lists no checksums; restore "
                           "fer_core/pretrained/manifest.json.")
    for name, digest in b.sha256.items():
        p = b.path / name
        if not p.is_file():
            raise BundledError(f"bundled model {b.id}: file {p} is missing; restore it with "
                               f"`git checkout -- {_repo_relative(p)}`.")
        if _sha256(p) != digest:
            raise BundledError(f"bundled model {b.id}: file {p} is corrupt (SHA-256 mismatch); restore it "
                               f"with `git checkout -- {_repo_relative(p)}`.")


def _repo_relative(p: Path) -> str:
    try:
        return str(p.relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(p)


def load_bundled(ref: str) -> Any:
    """The Keras model (``safe_mode=True``) or Ensemble of bundled ``ref``, after :func:`verify`."""
    b = get_bundled(ref)
    verify(b)
    if b.kind == "model":
        from .models.files import load_model_file

        try:
            return load_model_file(b.model_path)  # safe_mode=True
        except FERError as exc:  # checksums match, yet it does not load: say which bundled model
            raise BundledError(f"bundled model {b.id}: {exc}") from None
    from .evaluation.ensemble import load_ensemble

    def member(mref: str) -> Any:
        if not is_bundled(mref) or mref == DEFAULT_ALIAS:
            raise BundledError(f"bundled ensemble {b.id} names {mref!r}, which is not a bundled model id.")
        return load_bundled(mref)

    return load_ensemble(b.model_path, resolve=member)


def refuse_change(ref: str, action: str = "delete") -> None:
    """Raise when asked to ``action`` a bundled model (they are read-only)."""
    if is_bundled(ref):
        raise BundledError(f"{ref} is a bundled model and read-only: it cannot be {action}d. Copy it with "
                           f"`python -m fer_core runs import` if you want an editable run.")


RUN_FILES = ("model.keras", "config.toml", "history.json", "metrics.json", "predictions.npz")


def install_bundled(bid: str, *, title: str, source_run: str | Path | None = None,
                    members: list[str] | None = None, tta: str = "none", card: dict[str, Any] | None = None,
                    make_default: bool = False, record: dict[str, Any] | None = None,
                    predictions: dict[str, Any] | None = None, temperature: float = 1.0) -> BundledModel:
    """Add (or replace) bundled model ``bid`` in :func:`pretrained_dir` and list it in the manifest.

    Give ``source_run`` (a finished run folder: its model and results are copied) for a model, or
    ``members`` (bundled ids) for a soft-voting ensemble with ``tta`` (and ``temperature``, fitted
    on validation faces; 1 = off). ``card`` is written as
    ``card.json``/``card.md``; ``record`` adds fields to ``run.json``; ``predictions`` (the keyword
    arguments of :func:`~fer_core.evaluation.evalset.save_predictions` but the path) writes the
    test predictions an ensemble is scored from. Every file is checksummed
    into the manifest. This is a maintainer's tool (it changes the repository's bundled models).
    """
    import re
    import shutil

    from .evaluation.ensemble import save_ensemble
    from .io import atomic_path, atomic_write_json
    from .modelcard import write_card

    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,63}", bid) or bid == DEFAULT_ALIAS:
        raise BundledError(f"bundled id {bid!r} must be 2-64 lower-case letters, digits, '.', '_' or '-' "
                           f"(and not {DEFAULT_ALIAS!r}).")
    if (source_run is None) == (members is None):
        raise BundledError("install_bundled needs exactly one of source_run (a model) or members (an ensemble).")
    root = pretrained_dir()
    folder = root / bid
    folder.mkdir(parents=True, exist_ok=True)
    rec: dict[str, Any] = {"id": bid, "name": title, "status": "done", "bundled": True}
    if source_run is not None:
        src = Path(source_run)
        if not (src / "model.keras").is_file():
            raise BundledError(f"{src} holds no model.keras: give a finished run folder.")
        for name in RUN_FILES:
            if (src / name).is_file():
                with atomic_path(folder / name) as tmp:
                    shutil.copyfile(src / name, tmp)
        src_rec = json.loads((src / "run.json").read_text()) if (src / "run.json").is_file() else {}
        metrics = json.loads((src / "metrics.json").read_text()) if (src / "metrics.json").is_file() else {}
        rec.update(model=src_rec.get("model"), dataset=src_rec.get("dataset"), created=src_rec.get("created"),
                   config=src_rec.get("config"), source_run=src.name,
                   test_accuracy=metrics.get("accuracy"), macro_f1=metrics.get("macro_f1"))
        kind = "model"
    else:
        known = {b.id for b in list_bundled()}
        bad = [m for m in members if m not in known]
        if bad:
            raise BundledError(f"ensemble members {bad} are not bundled ids (bundled: {sorted(known)}).")
        save_ensemble(folder / "ensemble.json", members, tta=tta, name=title, temperature=temperature)
        rec.update(model="ensemble", members=list(members), tta=tta)
        kind = "ensemble"
    if predictions is not None:
        from .evaluation.evalset import save_predictions

        save_predictions(folder / "predictions.npz", **predictions)
    if card is not None:
        write_card(folder, card)
        figs = card.get("figures") or {}
        rec.setdefault("test_accuracy", figs.get("accuracy"))
        if rec.get("test_accuracy") is None:
            rec["test_accuracy"] = figs.get("accuracy")
        if rec.get("macro_f1") is None:
            rec["macro_f1"] = figs.get("macro_f1")
    rec.update(record or {})
    atomic_write_json(folder / "run.json", rec)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    manifest = _read_manifest(root)
    entries = [e for e in manifest["models"] if e.get("id") != bid]
    entries.append({"id": bid, "kind": kind, "sha256": {n: _sha256(folder / n) for n in files}})
    manifest["models"] = entries
    if make_default or not manifest.get("default"):
        manifest["default"] = bid
    atomic_write_json(root / MANIFEST, manifest)
    return get_bundled(bid)


def set_default(ref: str) -> str:
    """Make the bundled entry ``ref`` what ``default`` names and return its id; :class:`BundledError`
    when nothing by that id is bundled. A maintainer's tool, like :func:`install_bundled`."""
    from .io import atomic_write_json

    bid = get_bundled(ref).id
    root = pretrained_dir()
    manifest = _read_manifest(root)
    manifest["default"] = bid
    atomic_write_json(root / MANIFEST, manifest)
    return bid


def update_card(ref: str, card: dict[str, Any]) -> BundledModel:
    """Rewrite the card of bundled entry ``ref`` (``card.json`` and ``card.md``) and its checksums in
    the manifest, leaving its place there and every other file as they are (a maintainer's tool,
    like :func:`install_bundled`: for a figure added to every card)."""
    from .io import atomic_write_json
    from .modelcard import CARD_JSON, CARD_MD, write_card

    b = get_bundled(ref)
    verify(b)
    write_card(b.path, card)
    root = pretrained_dir()
    manifest = _read_manifest(root)
    for entry in manifest["models"]:
        if entry.get("id") == b.id:
            entry["sha256"].update({n: _sha256(b.path / n) for n in (CARD_JSON, CARD_MD)})
    atomic_write_json(root / MANIFEST, manifest)
    return get_bundled(b.id)


def uninstall_bundled(bid: str) -> None:
    """Remove bundled model ``bid`` from :func:`pretrained_dir` (a maintainer's tool, like
    :func:`install_bundled`). Refused while it is ``default`` or a member of a bundled ensemble;
    the manifest is rewritten first, so an interrupted removal leaves at worst an unlisted folder."""
    import shutil

    from .io import atomic_write_json

    b = get_bundled(bid)
    root = pretrained_dir()
    manifest = _read_manifest(root)
    if manifest.get("default") == b.id:
        raise BundledError(f"{b.id} is `default`: bundle a better entry (or pick another default) before removing it.")
    users = [e.id for e in list_bundled() if b.id in (e.record.get("members") or [])]
    if users:
        raise BundledError(f"{b.id} is a member of the bundled ensemble(s) {users}: remove those first.")
    manifest["models"] = [e for e in manifest["models"] if e.get("id") != b.id]
    atomic_write_json(root / MANIFEST, manifest)
    shutil.rmtree(root / b.id)


__all__ = ["BundledError", "BundledModel", "DEFAULT_ALIAS", "default_id", "get_bundled", "is_bundled",
           "list_bundled", "load_bundled", "pretrained_dir", "install_bundled", "refuse_change", "uninstall_bundled",
           "update_card", "verify"]
