"""The Train page's job list: one card per job (progress, ETA, learning curves, cancel, resume, failures)."""
from __future__ import annotations

import streamlit as st

from dashboard import charts
from fer_core.choices import run_label
from fer_core.curves import curve_gap, reference_runs
from fer_core.errors import FERError
from fer_core.jobs.progress import job_fraction, job_progress_text
from fer_core.jobs import JobManager

STATUS_ICON = {"queued": "⏳", "running": "🏃", "done": "✅", "failed": "❌", "cancelled": "⏹️", "paused": "⏸️"}


def _act(verb: str, ident: str, method: str, **kwargs) -> None:
    """A button's callback: ``JobManager().<method>(ident, **kwargs)``; an error shows on the next run."""
    try:
        getattr(JobManager(), method)(ident, **kwargs)
    except FERError as exc:
        st.session_state["train_flash"] = f"Could not {verb} {ident}: {exc}"


def _job_card(jm: JobManager, job) -> None:
    run, name = None, job.run_id or f"sweep {job.sweep_id}"
    if job.run_id:
        try:
            run = jm.store.get(job.run_id)
            name = run.name
        except FERError:
            pass
    prog = (jm.progress(job.id) if job.status == "running" else job.progress) or {}
    with st.container(border=True):
        where = f" · on Ray `{job.ray_address}`" if job.ray_address else (" · local Ray" if job.sweep_id else "")
        st.markdown(f"{STATUS_ICON.get(job.status_text, '')} **{name}** · job `{job.id}` · **{job.status_text}**{where}"
                    f"{' (cancel requested)' if job.cancel_requested and job.status == 'running' else ''}"
                    f"{' (pausing at the end of this epoch)' if job.stop_requested and not job.cancel_requested and job.status == 'running' else ''}")
        frac = job_fraction(prog, job.status)
        st.progress(frac, text=job_progress_text(prog, job.status))
        hist = prog.get("history") or (run.history() if run is not None else [])
        if hist and job.status in ("running", "queued"):
            _curves(jm, job, name, hist, ["accuracy", "val_accuracy"])
        elif hist:
            with st.expander("Learning curves"):
                _curves(jm, job, name, hist, ["accuracy", "val_accuracy", "loss", "val_loss"])
        b1, b2, _ = st.columns([1, 2, 3])
        if job.status in ("queued", "running") and not job.cancel_requested:
            b1.button("Cancel", key=f"cancel_{job.id}", on_click=_act, args=("cancel", job.id, "cancel"),
                      help="stop after the current batch (the epoch under way is lost); the best model so far is "
                           "kept and evaluated")
        if (job.status == "running" and job.kind == "train" and not job.ray_address and not job.stop_requested
                and not job.cancel_requested):
            b2.button("Pause after this epoch", key=f"stop_{job.id}", on_click=_act, args=("stop", job.id, "cancel"),
                      kwargs={"at_epoch_end": True},
                      help="finish and save the epoch under way, then stop; resume it to go on (nothing lost). "
                           "The test split is evaluated once, when the run finishes")
        if job.resumable:
            b2.button("Resume", key=f"resume_{job.id}", on_click=_act, args=("resume", job.id, "resume"),
                      help="continue from the last saved epoch, as a new job")
        if job.status == "failed":
            st.error(f"Failed: {job.error}")
            st.code(job.log_tail or jm.log_tail(job.id, 30) or "(no log)", language="text")


@st.cache_data(ttl=60, show_spinner=False)
def _references(root: str, exclude: str | None) -> dict[str, str]:
    """``{run id: label}`` of the runs a job's curves can be held against (re-listed once a minute)."""
    return {r.id: f"{r.id} · bundled" if r.bundled else run_label(r)
            for r in reference_runs(JobManager(root).store, exclude=exclude)}


def _curves(jm: JobManager, job, name: str, hist: list, metrics: list[str]) -> None:
    """The job's learning curves, and another run's beside them at the same epochs when one is picked."""
    refs = _references(str(jm.root), job.run_id) if job.run_id else {}
    ref = st.selectbox("Hold against", [None, *refs], format_func=lambda r: "(no other run)" if r is None else refs[r],
                       key=f"train_ref_{job.id}", help="another run, or a bundled model, at the same epochs: is this "
                       "recipe ahead? (python -m fer_core runs show RUN --against OTHER)") if refs else None
    curves = {name: hist}
    if ref is not None:
        other = jm.store.get(ref).history()
        curves[ref] = other
        gap = curve_gap(hist, other)
        st.caption(gap.text if gap else "No epoch in common with that run yet.")
    st.plotly_chart(charts.training_curves(curves, metrics, "Learning curves"), key=f"train_curve_{job.id}")


def _runs_without_job(jm: JobManager) -> None:
    runs = jm.runs_without_job()
    if not runs:
        return
    st.markdown("**Runs to resume** (a checkpoint and no job here: unpacked from another machine with "
                "`runs unpack`, or a stopped foreground `train`)")
    for run in runs[:8]:
        done = len(run.history())
        epochs = (run.config().get("train") or {}).get("epochs", "?")
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"⏸️ **{run.name}** · run `{run.id}` · {run.status} · {done}/{epochs} epochs saved")
        c2.button("Resume", key=f"resume_run_{run.id}", on_click=_act, args=("resume", run.id, "resume_run"),
                  help="continue from the last saved epoch as a background job")


def _jobs() -> None:
    if msg := st.session_state.pop("train_flash", None):
        st.error(msg)
    jm = JobManager()
    _runs_without_job(jm)
    jobs = jm.list()
    if not jobs:
        st.info("No job yet. Next step: set the options above and press **Submit training job**.")
        return
    for job in jobs[:8]:
        _job_card(jm, job)
    if len(jobs) > 8:
        st.caption(f"{len(jobs) - 8} older job(s) not shown (`python -m fer_core jobs list` lists all).")


def jobs_panel() -> None:
    """Every job, newest first, refreshed every 2 s (a fragment) while one is queued or running."""
    polling = any(j.status in ("queued", "running") for j in JobManager().list())
    st.fragment(run_every=2 if polling else None)(_jobs)()
