"""Cached access to fer_core for the pages: datasets, runs, models, ensembles and their scores.

Caching rules (Streamlit): loaded models, ensembles and datasets are shared read-only objects
(``st.cache_resource``); score reports and image arrays are data (``st.cache_data``, copies).
Every cache key holds the data directory (``FER_STUDIO_HOME`` can differ between sessions and
tests) and the modification time of the file it reads, so a retrained or replaced run is reloaded.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from fer_core import choices
from fer_core.choices import ModelChoice, mtime
from fer_core import paths
from fer_core.paths import data_dir
from fer_core.data import FERDataset, load_dataset
from fer_core.data.registry import DatasetEntry, list_datasets
from fer_core.errors import FERError
from fer_core.evaluation.evalset import EvalSet, load_config_data, run_report as score_run
from fer_core.evaluation.evalset import eval_set as build_eval_set
from fer_core.tta import TTA_HELP, parse_tta
from fer_core.runs import Run, RunStore
from fer_core.run_files import PREDICTIONS_FILE

SYNTHETIC = "synthetic"
DEFAULT_DATASET = SYNTHETIC
SYNTHETIC_LABEL = "Synthetic faces (generated, not real people)"


def home() -> str:
    """The data directory as a string (part of every cache key)."""
    return str(data_dir())


# -- datasets ------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading dataset…", max_entries=6)
def dataset(path: str = DEFAULT_DATASET, format: str = "auto", options_json: str = "{}") -> FERDataset:
    """A loaded dataset, shared between sessions (treat as read-only)."""
    return load_dataset(path, format, **json.loads(options_json))


def registered() -> list[DatasetEntry]:
    """Registered datasets (``fer_core.data.registry``); [] when the registry is unreadable."""
    try:
        return list_datasets()
    except FERError as exc:
        st.warning(f"Dataset registry: {exc}")
        return []


def dataset_options() -> dict[str, str]:
    """{key: label} of every dataset the user can pick: the synthetic set, then registered ones."""
    out = {SYNTHETIC: SYNTHETIC_LABEL}
    for e in registered():
        out[e.name] = f"{e.name}{'' if e.exists else ' (missing!)'}"
    return out


def current_dataset_key() -> str:
    """The dataset picked on the Data page (session state), the synthetic set by default."""
    key = st.session_state.get("dataset_key", DEFAULT_DATASET)
    return key if key in dataset_options() else DEFAULT_DATASET


def dataset_spec(key: str) -> tuple[str, str, str]:
    """(path, format, options JSON) of a dataset key, as :func:`dataset` takes them."""
    if key == SYNTHETIC:
        return SYNTHETIC, "auto", "{}"
    for e in registered():
        if e.name == key:
            return e.path, e.format, json.dumps(e.options, sort_keys=True)
    raise KeyError(key)


def load_or_stop(key: str) -> FERDataset:
    """The dataset ``key``; on a load error, an error and a next step, then ``st.stop()``."""
    try:
        return dataset(*dataset_spec(key))
    except (FERError, OSError, KeyError) as exc:
        st.error(f"Could not load dataset {key!r}: {exc}")
        st.info("Next step: fix the path, or pick another dataset on the **Data** page "
                "(the synthetic set always works).")
        st.stop()


@st.cache_data(show_spinner=False, max_entries=32)
def _train_counts(path: str, format: str, options_json: str, subset: int | None) -> list[int]:
    from fer_core.training.config import DataSpec
    from fer_core.training.sizes import train_counts

    return train_counts(dataset(path, format, options_json), DataSpec(subset=subset)).tolist()


def train_counts(key: str, subset: int | None = None) -> list[int]:
    """Train images per class a job on dataset ``key`` will see (val carve-out and subset as training does)."""
    return _train_counts(*dataset_spec(key), subset)


def dataset_caption(ds: FERDataset, split: str | None = None, model: str | None = None) -> str:
    """What a page is showing: dataset (synthetic clearly marked), split, model."""
    kind = "synthetic — generated faces, not real people" if ds.synthetic else "real images"
    parts = [f"Dataset: **{ds.display_name}** ({kind})"]
    parts.append(f"split: **{split}**" if split else ds.describe().split(": ", 1)[1])
    if model:
        parts.append(f"model: **{model}**")
    return " · ".join(parts)


# -- runs and ensembles --------------------------------------------------------------------
def store() -> RunStore:
    return RunStore()


def all_runs() -> list[Run]:
    """Every run, newest first."""
    return store().list()


def finished_runs() -> list[Run]:
    """Runs that finished with a model and saved test predictions, newest first."""
    return choices.finished_runs(store())


def bundled_runs() -> list[Run]:
    """The models shipped with FER Studio (read-only), listed like finished runs."""
    return [r for r in store().list(status="done") if r.bundled]


def ensembles_dir() -> Path:
    """``<data_dir>/ensembles``: one ``.json`` per saved ensemble."""
    return paths.ensembles_dir()


def saved_ensembles() -> list[Path]:
    return choices.saved_ensembles(ensembles_dir())


def model_choices(ensembles: bool = True) -> list[ModelChoice]:
    """Finished runs (newest first), then saved ensembles."""
    return choices.model_choices(store(), ensembles_dir() if ensembles else None)


def choice_by_key(key: str) -> ModelChoice | None:
    return next((c for c in model_choices() if c.key == key), None)


def no_models_stop(what: str = "this page") -> None:
    """The empty state of model pages: say what to do next, then stop."""
    st.info(f"No trained model yet, so {what} has nothing to show. Next step: train one on the "
            "**Train** page (or press *Train a first model* on **Home** — about a minute on the synthetic faces).")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _keras_model(path: str, stamp: float) -> Any:
    from fer_core.models.files import load_model_file

    return load_model_file(path)  # safe_mode=True; a model with code inside is refused


@st.cache_resource(show_spinner="Loading the bundled model…", max_entries=8)
def _bundled_model(bundled_id: str, stamp: float) -> Any:
    from fer_core.bundled import load_bundled

    return load_bundled(bundled_id)  # checksums verified; an ensemble loads its members


def run_model(run_id: str) -> Any:
    """The Keras model (or, for a bundled ensemble, the Ensemble) of a run, cached by file and
    modification time."""
    run = store().get(run_id)
    if run.bundled:
        from fer_core.bundled import get_bundled

        b = get_bundled(run.id)
        return _bundled_model(b.id, mtime(b.model_path))
    return _keras_model(str(run.model_path), mtime(run.model_path))


def _resolve(ref: str) -> Any:
    """An ensemble member: a run id or bundled id of the store (cached model); anything else is refused."""
    from fer_core.evaluation import check_member_ref

    return run_model(check_member_ref(ref))


@st.cache_resource(show_spinner="Loading ensemble…", max_entries=4)
def _ensemble(path: str, stamp: float, home_dir: str) -> Any:
    from fer_core.evaluation import load_ensemble

    return load_ensemble(path, resolve=_resolve)


def load_model(choice: ModelChoice) -> Any:
    """The model (Keras) or Ensemble behind a choice."""
    if choice.kind == "run":
        return run_model(choice.run_id)
    return _ensemble(choice.path, choice.stamp, home())


def default_tta(choice: ModelChoice) -> str | None:
    """The TTA a single model's reported accuracy used (None for ensembles: they carry their own)."""
    from fer_core.inference import default_tta as tta_of

    return tta_of(choice.path)


def ensemble_members(choice: ModelChoice) -> list[str]:
    return choices.ensemble_members(choice.path)


# -- evaluation sets and reports -------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the run's dataset…", max_entries=4)
def _config_dataset(data_json: str) -> FERDataset:
    return load_config_data(json.loads(data_json))


@st.cache_data(show_spinner="Collecting test images…", max_entries=16)
def _eval_set(run_id: str, stamp: float, home_dir: str) -> EvalSet:
    run = store().get(run_id)
    data = run.config().get("data") or {}
    return build_eval_set(run.predictions(), _config_dataset(json.dumps(data, sort_keys=True, default=str)))


def run_eval_set(run_id: str) -> EvalSet:
    """The test images of a run, in the order of its predictions (raises FERError when unavailable)."""
    run = store().get(run_id)
    return _eval_set(run_id, mtime(run.path / PREDICTIONS_FILE), home())


def eval_set(choice: ModelChoice) -> EvalSet:
    """The images a choice is scored on: its run's test images (an ensemble: its first member's)."""
    if choice.kind == "run":
        return run_eval_set(choice.run_id)
    return run_eval_set(ensemble_members(choice)[0])


@st.cache_data(show_spinner="Scoring predictions (95% bootstrap CIs)…", max_entries=64)
def _run_report(run_id: str, stamp: float, home_dir: str) -> Any:
    return score_run(store().get(run_id))


def run_report(run_id: str) -> Any:
    """EvalReport of a run's saved test predictions (CIs recomputed), cached by run id + mtime."""
    run = store().get(run_id)
    return _run_report(run_id, mtime(run.path / PREDICTIONS_FILE), home())


@st.cache_data(show_spinner="Evaluating the ensemble…", max_entries=16)
def _ensemble_report(path: str, stamp: float, home_dir: str, first_member: str) -> Any:
    from fer_core.evaluation.evalset import score_ensemble

    choice = ModelChoice(f"ens:{Path(path).name}", "", "ensemble", path, None, False)
    return score_ensemble(load_model(choice), run_eval_set(first_member), store().get(first_member).dataset)


def report(choice: ModelChoice) -> Any:
    """EvalReport of a run (saved predictions) or an ensemble (predicted on its first member's test set)."""
    if choice.kind == "run":
        return run_report(choice.run_id)
    return _ensemble_report(choice.path, choice.stamp, home(), ensemble_members(choice)[0])


def classes_of(choice: ModelChoice) -> tuple[str, ...]:
    """The class names of a choice's outputs (from its saved predictions)."""
    if choice.kind == "run":
        return run_report(choice.run_id).classes
    ens = load_model(choice)
    return tuple(ens.classes) if ens.classes else run_report(ensemble_members(choice)[0]).classes


@st.cache_resource(max_entries=16)
def _predict_fn(key: str, stamp: float, home_dir: str):
    from fer_core.evaluation import predict_probs

    choice = choice_by_key(key)
    model, tta = load_model(choice), default_tta(choice)
    return lambda images: predict_probs(model, images, tta=tta)


def predict_fn(choice: ModelChoice):
    """A cached ``images (n, h, w[, 3]) uint8 -> probs (n, C)`` callable (predict_on_batch inside), with
    the test-time augmentation of the model's reported accuracy (as Predict uses), so that every page
    shows the same probabilities for the same face."""
    return _predict_fn(choice.key, choice.stamp, home())


def predictor(choice: ModelChoice, **kwargs: Any) -> Any:
    """A face-detecting :class:`~fer_core.inference.Predictor` for a choice, with its classes and the
    TTA of its reported accuracy; ``kwargs`` go to the Predictor (detector, fallback, ...). Pages
    cache it with ``st.cache_resource``."""
    from fer_core.inference import Predictor

    return Predictor(load_model(choice), classes=classes_of(choice), tta=default_tta(choice), **kwargs)


def tta_modes(choice: ModelChoice) -> tuple[str, ...]:
    """The TTA modes the pages score a choice with: a single model's reported ones, an ensemble's
    own; () for no TTA."""
    tta = default_tta(choice)
    return parse_tta(getattr(load_model(choice), "tta", None) if tta is None else tta)  # an ensemble's (cached)


def tta_name(choice: ModelChoice) -> str | None:
    """:func:`tta_modes` joined by '+', None for no TTA."""
    return "+".join(tta_modes(choice)) or None


def short_label(choice: ModelChoice) -> str:
    """A choice's label without the details after its first ' · '."""
    return choice.label.split(" · ")[0]


def tta_caption(choices: ModelChoice | Sequence[ModelChoice]) -> str:
    """One line saying which test-time augmentation the page's probabilities use ('' when none);
    for a list of choices, each model's by its short label."""
    if isinstance(choices, ModelChoice):
        modes = tta_modes(choices)
        if not modes:
            return ""
        what = "; ".join(TTA_HELP[m] for m in modes)
        return f"Test-time augmentation: **{'+'.join(modes)}** ({what}), as in this model's reported accuracy."
    ttas = [f"{short_label(c)} {t}" for c in choices if (t := tta_name(c))]
    return "Test-time augmentation, as in each model's reported accuracy: " + ", ".join(ttas) + "." if ttas else ""


def pick_models(label: str, key: str, *, multi: bool = True, ensembles: bool = True,
                default_count: int = 1) -> list[ModelChoice]:
    """A model picker (multiselect or selectbox) over finished runs and ensembles; stops when empty."""
    choices = model_choices(ensembles=ensembles)
    if not choices:
        no_models_stop()
    labels = {c.key: c.label for c in choices}
    if multi:
        picked = st.multiselect(label, list(labels), default=list(labels)[:default_count],
                                format_func=labels.get, key=key)
    else:
        picked = [st.selectbox(label, list(labels), format_func=labels.get, key=key)]
    return [c for c in choices if c.key in picked]
