"""Compare's sweep section: a sweep's trials as a sortable table, settings against validation
accuracy (parallel coordinates), and the best trial opened like any run."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state
from fer_core.sweeps import best_trial, list_sweeps, setting_columns, sweep_table


def _open(run_id: str) -> None:
    picked = [k for k in st.session_state.get("cmp_pick", []) if k != f"run:{run_id}"]
    st.session_state["cmp_pick"] = [f"run:{run_id}", *picked][:4]


def sweeps_panel() -> None:
    """Nothing when there is no sweep; else a picker and the chosen sweep's trials."""
    sweeps = list_sweeps(state.home())
    if not sweeps:
        st.caption("No sweep yet: launch one from **Train** (*Sweep*) or `python -m fer_core sweep`.")
        return
    st.subheader("Sweeps")
    labels = {s["id"]: f"{s['name']} · {len(s.get('trials', []))} trials · {s.get('status')} · {s['id']}" for s in sweeps}
    sid = st.selectbox("Sweep", list(labels), format_func=labels.get, key="cmp_sweep")
    sweep = next(s for s in sweeps if s["id"] == sid)
    grid = ", ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in sweep.get("grid", {}).items())
    st.caption(f"Grid: {grid} · samples {sweep.get('samples', 1)} · scheduler {sweep.get('scheduler')} · "
               f"{'Ray cluster ' + sweep['ray_address'] if sweep.get('ray_address') else 'local Ray'}")
    table = sweep_table(sweep, state.store())
    st.dataframe(table, hide_index=True, key="cmp_sweep_table")
    st.plotly_chart(charts.sweep_parallel(table, setting_columns(sweep)), key="cmp_sweep_parallel")
    best = best_trial(table)
    if best is None:
        st.info("No trial has finished yet; its best run can be opened here once one has.")
    else:
        st.button(f"Open the best trial (trial {best['trial']}, val_accuracy {best['best val_accuracy']:.3f})",
                  key="cmp_sweep_best", on_click=_open, args=(best["run"],),
                  help="adds its run to the runs compared above")
