"""Train: configure a run, see how long an epoch should take, submit it as a background job, and
watch every job (progress, ETA, learning curves; cancel, resume, log of failures)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts, state, tables, throughput
from fer_core.data.synthetic import class_counts
from fer_core.errors import FERError
from fer_core.jobs import JobManager
from fer_core.models import list_models, model_info
from fer_core.robustness import CORRUPTIONS, SUBSETS
from fer_core.training.config import IMBALANCE, OPTIMIZERS, SCHEDULES, load_config

STATUS_ICON = {"queued": "⏳", "running": "🏃", "done": "✅", "failed": "❌", "cancelled": "⏹️"}

st.title("Train")
st.write("Every job runs in its own process: you can leave this page, or restart the dashboard, "
         "and the job goes on. One job runs at a time on 2 cores; more wait in the queue.")

# -- the configuration ------------------------------------------------------------------------
st.subheader("New training job")
left, right = st.columns(2)
with left:
    data_ok = True
    options = state.dataset_options()
    keys = list(options)
    dkey = st.selectbox("Dataset", keys, index=keys.index(state.current_dataset_key()), format_func=options.get,
                        key="train_dataset")
    if dkey == state.SYNTHETIC:
        n_syn = int(st.number_input("Synthetic images (generated; 80% train)", 210, 40000, 3000, step=500,
                                    key="train_syn_n"))
        data_path = f"synthetic:n={n_syn}"
        train_counts = np.round(0.8 * class_counts(n_syn)).astype(int)
        st.caption("Synthetic faces: results show the pipeline works, not how a model does on real faces.")
    else:
        data_path, _, opts = state.dataset_spec(dkey)
        try:
            ds = state.dataset(*state.dataset_spec(dkey))
        except (FERError, OSError) as exc:
            st.error(f"Dataset {dkey!r} cannot be loaded: {exc}. Fix it on the Data page or pick another one.")
            data_ok, train_counts = False, np.zeros(1, int)
        else:
            train_counts = np.bincount(ds.split("train").labels, minlength=len(ds.classes))
            if "val" not in ds.available_splits():
                train_counts = np.round(train_counts * 0.9).astype(int)  # data.val_fraction = 0.1 is carved out
        if opts != "{}":
            st.warning(f"Loading options {opts} of this registered dataset are not part of a training "
                       "configuration; the job loads it with the defaults.")
    subset = int(st.number_input("At most this many images per split (0 = all)", 0, 1_000_000, 0, step=500,
                                 key="train_subset"))
    names = list_models()
    model = st.selectbox("Model", names, index=names.index("five_layer") if "five_layer" in names else 0,
                         key="train_model")
    info = model_info(model)
    st.caption(f"**{info.paper}** — {info.description} Backbone input {info.input_size[0]}x{info.input_size[1]}"
               f"{', RGB' if info.rgb else ''} (48x48 greyscale faces are adapted inside the model).")
    imbalance = st.selectbox("Class imbalance", IMBALANCE, key="train_imbalance",
                             help="class_weight reweights the loss; oversample/smote/adasyn grow every class of "
                                  "the train split to the largest one (val and test are never touched).")
with right:
    optimizer = st.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index("adam"), key="train_optimizer")
    lr = st.number_input("Learning rate", 1e-6, 1.0, 1e-3, format="%.5f", key="train_lr")
    schedule = st.selectbox("Learning-rate schedule", SCHEDULES, index=SCHEDULES.index("cosine"), key="train_schedule")
    epochs = int(st.number_input("Epochs", 1, 1000, 10, key="train_epochs"))
    batch = int(st.number_input("Batch size", 1, 1024, 64, step=16, key="train_batch"))
    st.markdown("**Augmentation** (train split only)")
    aug = st.toggle("Augment", True, key="train_aug")
    a1, a2 = st.columns(2)
    flip = a1.checkbox("Horizontal flips", True, key="train_flip", disabled=not aug)
    rotation = a2.slider("Rotation ± degrees", 0, 45, 10, key="train_rotation", disabled=not aug)
    zoom = a1.slider("Zoom ±", 0.0, 0.5, 0.1, 0.05, key="train_zoom", disabled=not aug)
    shift = a2.slider("Shift ± (fraction)", 0.0, 0.5, 0.1, 0.05, key="train_shift", disabled=not aug)
    corruptions = st.multiselect(
        "Robustness training: corrupt training images with", [*SUBSETS, *CORRUPTIONS], key="train_corruptions",
        disabled=not aug, help="Each training image is corrupted with the probability below by one of the chosen "
                               "corruptions (the ones of the Robustness page), at severity 1-3.")
    corruption_p = st.slider("Share of corrupted training images", 0.0, 1.0, 0.3, 0.05, key="train_corruption_p",
                             disabled=not (aug and corruptions))
run_name = st.text_input("Run name", key="train_name", placeholder=f"{model}_{state.slug(dkey)}").strip() \
    or f"{model}_{state.slug(dkey)}"

n_train = tables.expected_train_size(train_counts, subset or None, imbalance)
done_metrics = [r.metrics() for r in state.finished_runs()]
rate = throughput.expected_rate(model, done_metrics)
if rate is None:
    st.caption(f"≈ {n_train:,} training images per epoch. No measured speed for **{model}** yet: its first run "
               f"will measure it (a benchmark table `{throughput.BENCH_FILE}` in the data folder is read too).")
else:
    fast, slow = rate.epoch_seconds(n_train)
    per_epoch = (throughput.format_seconds(fast) if abs(slow - fast) < 1
                 else f"{throughput.format_seconds(fast)} – {throughput.format_seconds(slow)}")
    st.info(f"Expected time: **{per_epoch} per epoch** for ≈ {n_train:,} training images "
            f"({rate.low:.0f}–{rate.high:.0f} img/s), up to about **{throughput.format_seconds(slow * epochs)}** "
            f"for {epochs} epochs, plus loading and evaluation. Source: {rate.source}.")

config = {
    "name": run_name, "imbalance": imbalance,
    "data": {"path": data_path, **({"subset": subset} if subset else {})},
    "model": {"name": model},
    "train": {"epochs": epochs, "batch_size": batch, "optimizer": optimizer, "lr": float(lr), "schedule": schedule},
    "augment": {"enabled": aug, "flip": flip, "rotation": float(rotation), "zoom": float(zoom), "shift": float(shift),
                "corruptions": corruptions, "corruption_p": float(corruption_p)},
}
if st.button("Submit training job", type="primary", key="train_submit", disabled=not data_ok):
    try:
        load_config(config)
        job = JobManager().submit(config)
    except FERError as exc:
        st.error(f"Not submitted: {exc}")
    else:
        st.success(f"Submitted job **{job.id}** for run **{config['name']}** ({job.status}).")

# -- the jobs -------------------------------------------------------------------------------
st.subheader("Jobs")
polling = any(j.status in ("queued", "running") for j in JobManager().list())


def _cancel(job_id: str) -> None:
    try:
        JobManager().cancel(job_id)
    except FERError as exc:
        st.session_state["train_flash"] = f"Could not cancel {job_id}: {exc}"


def _job_card(jm: JobManager, job) -> None:
    try:
        run = jm.store.get(job.run_id)
        name = run.name
    except FERError:
        run, name = None, job.run_id
    prog = (jm.progress(job.id) if job.status == "running" else job.progress) or {}
    with st.container(border=True):
        st.markdown(f"{STATUS_ICON.get(job.status, '')} **{name}** · job `{job.id}` · **{job.status}**"
                    f"{' (cancel requested)' if job.cancel_requested and job.status == 'running' else ''}")
        frac = tables.job_fraction(prog, job.status)
        eta = throughput.format_seconds(prog["eta_s"]) if prog.get("eta_s") is not None else None
        st.progress(frac, text=tables.job_progress_text(prog, job.status, eta))
        hist = prog.get("history") or (run.history() if run is not None else [])
        if hist and job.status in ("running", "queued"):
            st.plotly_chart(charts.training_curves({name: hist}, ["accuracy", "val_accuracy"], "Learning curves"),
                            key=f"train_curve_{job.id}")
        elif hist:
            with st.expander("Learning curves"):
                st.plotly_chart(charts.training_curves({name: hist}, ["accuracy", "val_accuracy", "loss", "val_loss"],
                                                       "Learning curves"), key=f"train_curve_{job.id}")
        b1, b2, _ = st.columns([1, 1, 4])
        if job.status in ("queued", "running") and not job.cancel_requested:
            b1.button("Cancel", key=f"cancel_{job.id}", on_click=_cancel, args=(job.id,),
                      help="stop after the current batch; the best model so far is kept and evaluated")
        if job.resumable:
            if b2.button("Resume", key=f"resume_{job.id}", help="continue from the last saved epoch, as a new job"):
                try:
                    jm.resume(job.id)
                except FERError as exc:
                    st.error(str(exc))
                else:
                    st.rerun()
        if job.status == "failed":
            st.error(f"Failed: {job.error}")
            st.code(job.log_tail or jm.log_tail(job.id, 30) or "(no log)", language="text")


@st.fragment(run_every=2 if polling else None)
def jobs_panel() -> None:
    if msg := st.session_state.pop("train_flash", None):
        st.error(msg)
    jm = JobManager()
    jobs = jm.list()
    if not jobs:
        st.info("No job yet. Next step: set the options above and press **Submit training job**.")
        return
    for job in jobs[:8]:
        _job_card(jm, job)
    if len(jobs) > 8:
        st.caption(f"{len(jobs) - 8} older job(s) not shown (`python -m fer_core jobs list` lists all).")


jobs_panel()
