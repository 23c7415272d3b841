"""Compare: runs and ensembles side by side — metrics with CIs, per-class F1, confusion matrices,
ROC/PR, calibration, training curves, a paired test, and the ensemble builder; sweeps' trials."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state, widgets
from dashboard.sweeps_panel import sweeps_panel
from fer_core.errors import FERError
from fer_core.evaluation import save_ensemble
from fer_core.evaluation.evalset import check_ensemble_members
from fer_core.evaluation.verdict import compare_reports
from fer_core.names import slug
from fer_core.tables import UNSEEN_COLUMN, accuracy_text, evaluated_on, macro_f1_text, metrics_table
from fer_core.tta import TTA_HELP, TTA_MODES

st.title("Compare")
choices = state.model_choices()
if not choices:
    state.no_models_stop("the comparison")
labels = {c.key: c.label for c in choices}
picked_keys = st.multiselect("Runs and ensembles to compare", list(labels), default=list(labels)[:2],
                             format_func=labels.get, key="cmp_pick")
picked = [c for c in choices if c.key in picked_keys]
with st.container(border=True):
    sweeps_panel()
if not picked:
    st.info("Pick at least one run or ensemble above (two or more to compare them).")
    st.stop()

reports: dict[str, object] = {}
by_name: dict[str, state.ModelChoice] = {}
for c in picked:
    name = state.short_label(c)
    try:
        reports[name] = state.report(c)
        by_name[name] = c
    except (FERError, OSError, KeyError) as exc:
        st.warning(f"{c.label}: cannot be scored ({exc}).")
if not reports:
    st.info("None of the picked models could be scored. Next step: pick a finished run.")
    st.stop()
for c in by_name.values():
    widgets.model_card(c.run_id)
where = evaluated_on(reports.values())
synthetic = any(c.synthetic for c in by_name.values())
st.caption(f"Evaluated on: **{'; '.join(where)}** · models: **{', '.join(reports)}**"
           + (" · synthetic faces (not real people)" if synthetic else ""))
if len(where) > 1:
    st.warning("These models were scored on different data: their numbers are not directly comparable.")

# -- headline metrics -------------------------------------------------------------------------
st.subheader("Metrics")
twins = {n: state.store().get(c.run_id).train_twins() for n, c in by_name.items() if c.kind == "run"}
leaky = any(f and f.get("n_twins") for f in twins.values())  # some test face has a copy in train
st.dataframe(metrics_table(reports, twins if leaky else None), hide_index=True, key="cmp_metrics")
if leaky:
    st.caption(f"*{UNSEEN_COLUMN}*: the accuracy on the test faces that have no pixel-identical copy among the "
               "images the model trained on (the others it has, in effect, seen; FER2013 PublicTest has 280 such "
               "copies in its 3,589 faces).")
cols = st.columns(len(reports))
for col, (name, r) in zip(cols, reports.items()):
    col.metric(name, f"{r.accuracy:.1%}", help="test accuracy")
    col.caption(f"macro-F1 {r.macro_f1:.3f} · {r.n} images")

st.plotly_chart(charts.per_class_f1(reports), key="cmp_f1")

st.subheader("Confusion matrices")
normalised = st.toggle("Normalise rows (share of each true class)", False, key="cmp_norm")
cols = st.columns(min(len(reports), 3))
for i, (name, r) in enumerate(reports.items()):
    with cols[i % len(cols)]:
        st.plotly_chart(charts.confusion(r, normalised, name), key=f"cmp_cm_{i}")

st.subheader("ROC and precision-recall (one-vs-rest)")
classes = list(next(iter(reports.values())).classes)
which = st.selectbox("Curve of", ["macro", "micro", *classes], key="cmp_curve_class",
                     help="a class against the rest, or the micro/macro average")
c1, c2 = st.columns(2)
c1.plotly_chart(charts.curves(reports, "roc", which), key="cmp_roc")
c2.plotly_chart(charts.curves(reports, "pr", "micro" if which == "macro" else which), key="cmp_pr")
st.plotly_chart(charts.reliability(reports), key="cmp_reliability")

histories = {n: state.store().get(c.run_id).history() for n, c in by_name.items() if c.kind == "run"}
histories = {n: h for n, h in histories.items() if h}
if histories:
    st.subheader("Training curves")
    metrics = st.multiselect("Curves", ["accuracy", "val_accuracy", "loss", "val_loss", "lr"],
                             default=["val_accuracy"], key="cmp_hist_metrics")
    st.plotly_chart(charts.training_curves(histories, metrics), key="cmp_history")

# -- paired test --------------------------------------------------------------------------------
st.subheader("Is A really better than B?")
if len(reports) < 2:
    st.info("Pick two models above to test whether their difference is more than chance.")
else:
    names = list(reports)
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("A", names, index=0, key="cmp_a")
    b = c2.selectbox("B", names, index=1, key="cmp_b")
    metric = c3.radio("Metric", ["accuracy", "macro_f1"], horizontal=True, key="cmp_metric")
    verdict = compare_reports(reports[a], reports[b], metric=metric, n=2000) if a != b else None
    if a == b:
        st.info("Pick two different models.")
    elif verdict is None:
        st.warning("A and B were not scored on the same images with the same classes, so a paired test is not "
                   "possible.")
    else:
        st.markdown(verdict.text)

# -- ensemble builder -------------------------------------------------------------------------
st.subheader("Build an ensemble")
runs = [c for c in choices if c.kind == "run"]
if len(runs) < 2:
    st.info("An ensemble averages the probabilities of two or more runs. Next step: train a second model.")
else:
    run_labels = {c.key: c.label for c in runs}
    members = st.multiselect("Members", list(run_labels), format_func=run_labels.get, key="ens_members",
                             default=[c.key for c in runs[:2]])
    weights = []
    wcols = st.columns(max(len(members), 1))
    for col, key in zip(wcols, members):
        weights.append(col.number_input(f"weight of {run_labels[key].split(' · ')[0]}", 0.0, 10.0, 1.0, 0.5,
                                        key=f"ens_w_{key}"))
    c1, c2 = st.columns(2)
    tta = c1.multiselect("Test-time augmentation", [m for m in TTA_MODES if m != "none"], key="ens_tta",
                         help="; ".join(f"{m}: {TTA_HELP[m]}" for m in TTA_MODES if m != "none")
                         + ". Probabilities are averaged over the views; spread takes no other mode.")
    ens_name = c2.text_input("Name", "ensemble", key="ens_name")
    if st.button("Save and evaluate the ensemble", key="ens_save", disabled=len(members) < 2):
        path = state.ensembles_dir() / f"{slug(ens_name)}.json"
        try:
            run_of = {c.key: c.run_id for c in runs}  # in the order of the members, as the weights are
            member_runs, classes = check_ensemble_members([run_of[k] for k in members], state.store())
            save_ensemble(path, [r.id for r in member_runs], weights, tta=tta or "none",
                          name=ens_name.strip() or "ensemble", classes=list(classes))
            choice = next(c for c in state.model_choices() if c.path == str(path))
            r = state.report(choice)
        except (FERError, StopIteration) as exc:
            st.error(f"Ensemble not saved or not evaluated: {exc}")
        else:
            st.success(f"Saved **{ens_name}** ({path.name}): accuracy {accuracy_text(r)}, "
                       f"macro-F1 {macro_f1_text(r)} on {r.n} images. "
                       "It is now in the pickers of every page.")
