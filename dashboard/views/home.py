"""Home: datasets, runs and jobs at a glance, the leaderboard, and where to go next."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state
from fer_core.paths import PROJECT_ROOT
from fer_core.errors import FERError
from fer_core.jobs.progress import job_fraction, job_progress_text
from fer_core.jobs import JobManager
from fer_core.leaderboard import leaderboard
from fer_core.tables import datasets_table, runs_table

FIRST_CONFIG = PROJECT_ROOT / "experiments" / "synthetic_quick.toml"

st.title("FER Studio")
st.write("Facial expression recognition research: datasets, training, comparison, explanation, "
         "robustness and prediction — every number computed by the `fer_core` library.")

jm = JobManager()
runs, jobs, reg = state.all_runs(), jm.list(), state.registered()
active = [j for j in jobs if j.status in ("queued", "running")]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Datasets", 1 + len(reg), help="the embedded synthetic set + registered datasets")
c2.metric("Runs", len(runs), help=f"{sum(r.status == 'done' for r in runs)} finished")
c3.metric("Jobs running or queued", len(active))
c4.metric("Saved ensembles", len(state.saved_ensembles()))
key = state.current_dataset_key()
st.caption(f"Current dataset: **{state.dataset_options()[key]}** (change it on the Data page)")

if not runs:
    st.info("No model has been trained yet. Next step: train the first one — a five-layer CNN on the "
            "synthetic faces, about a minute on a laptop CPU, in the background — or configure your own on "
            "the **Train** page.")
    if st.button("Train a first model (about a minute)", type="primary", key="home_first_run"):
        try:
            job = jm.submit(FIRST_CONFIG)
        except FERError as exc:
            st.error(f"Could not submit {FIRST_CONFIG.name}: {exc}")
        else:
            st.success(f"Submitted job **{job.id}** ({job.status}) from `experiments/{FIRST_CONFIG.name}`. "
                       "Follow its progress on the Train page.")
            st.page_link("views/train.py", label="Watch it on Train", icon=":material/model_training:")

if active:
    st.subheader("Jobs in progress")
    for job in active:
        frac = job_fraction(job.progress, job.status)
        where = f" · Ray {job.ray_address}" if job.ray_address else ""
        st.progress(frac, text=f"{job.id} · {job.status}{where} · {job_progress_text(job.progress, job.status)}")

st.subheader("Leaderboard")
finished = state.finished_runs() + state.bundled_runs()
if not finished:
    st.info("The leaderboard lists finished runs with their test accuracy and macro-F1 (95% CIs). "
            "Next step: train a model.")
else:
    board = leaderboard(finished, lambda run: state.run_report(run.id), errors=(FERError, OSError, KeyError))
    for run, exc in board.skipped:
        st.warning(f"Run {run.id}: its predictions could not be scored ({exc}).")
    if not board.table.empty:
        st.dataframe(board.display(), hide_index=True, key="home_leaderboard")
        st.caption("Scores on each run's test split; CIs are 95% percentile bootstrap intervals (1,000 resamples) "
                   "recomputed from the saved predictions. Runs on different datasets are not comparable; "
                   "results on synthetic faces say nothing about real faces.")
        st.plotly_chart(charts.leaderboard(board.table), key="home_leaderboard_chart")

st.subheader("Go to")
links = [("views/data.py", "Data: class balance, samples, audit", ":material/dataset:"),
         ("views/train.py", "Train: configure and watch background jobs", ":material/model_training:"),
         ("views/compare.py", "Compare runs and ensembles", ":material/compare:"),
         ("views/explain.py", "Explain: Grad-CAM and occlusion maps", ":material/visibility:"),
         ("views/robustness.py", "Robustness: what-if sliders and corruption sweeps", ":material/shield:"),
         ("views/predict.py", "Predict on your photos or the camera", ":material/photo_camera:")]
cols = st.columns(3)
for i, (page, label, icon) in enumerate(links):
    with cols[i % 3]:
        st.page_link(page, label=label, icon=icon)

with st.expander(f"All runs ({len(runs)})"):
    if runs:
        st.dataframe(runs_table(runs), hide_index=True)
    else:
        st.write("No run yet.")

with st.expander(f"Registered datasets ({len(reg)})"):
    if reg:
        st.dataframe(datasets_table(reg), hide_index=True)
    else:
        st.write("None yet: register a folder, a FER2013 CSV or a .zip on the Data page. "
                 "The synthetic set is always available.")
