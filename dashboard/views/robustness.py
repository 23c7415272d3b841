"""Robustness: what-if sliders on one face with every selected model's probabilities updating live,
and a dataset-level sweep (accuracy against corruption severity) on a fixed sample."""
from __future__ import annotations

import time

import streamlit as st

from dashboard import charts, state
from dashboard.images import enlarge
from dashboard.widgets import face_input, tta_note
from fer_core.errors import FERError
from fer_core.tables import probability_table
from fer_core.robustness import CORRUPTIONS, OCCLUSIONS, SUBSETS, WhatIf, apply_whatif, sweep, whatif_predict


st.title("Robustness")
picked = state.pick_models("Models", "rob_models", multi=True, default_count=2)
if not picked:
    st.info("Pick at least one model above.")
    st.stop()
first = picked[0]
classes = list(state.classes_of(first))
same = [c for c in picked if list(state.classes_of(c)) == classes]
if len(same) < len(picked):
    st.warning("Some models predict other classes than the first one and are left out: "
               + ", ".join(c.label for c in picked if c not in same))
picked = same
tta_note(picked)
try:
    es = state.eval_set(first)
except (FERError, OSError, KeyError) as exc:
    es = None
    st.warning(f"The test images of {first.label} are not available ({exc}); upload a face instead.")

# -- what if -----------------------------------------------------------------------------------
@st.fragment
def what_if(picked: list, classes: list[str], es) -> None:
    """Face picker, sliders and live probabilities; a slider change reruns only this part."""
    t0 = time.perf_counter()
    st.subheader("What if…")
    face = face_input(es, "rob", "Upload a photo of a face to see how the models react to changes.", label="Face")
    if face is None:
        return
    image, where = face.image, face.where
    st.caption(f"Image: {where} · models: {', '.join(state.short_label(c) for c in picked)}")

    s1, s2, s3 = st.columns(3)
    wi = WhatIf(
        brightness=s1.slider("Brightness", -1.0, 1.0, 0.0, 0.05, key="rob_brightness"),
        gamma=s1.slider("Gamma", 0.2, 5.0, 1.0, 0.1, key="rob_gamma"),
        contrast=s1.slider("Contrast", 0.0, 3.0, 1.0, 0.05, key="rob_contrast"),
        noise=s2.slider("Noise (std, grey levels)", 0.0, 100.0, 0.0, 1.0, key="rob_noise"),
        blur=s2.slider("Blur (sigma, px)", 0.0, 5.0, 0.0, 0.1, key="rob_blur"),
        jpeg_quality=s2.slider("JPEG quality", 1, 100, 100, key="rob_jpeg"),
        rotation=s3.slider("Rotation (degrees)", -90.0, 90.0, 0.0, 1.0, key="rob_rotation"),
        occlusion=s3.selectbox("Occlusion", [None, *OCCLUSIONS], format_func=lambda o: o or "none",
                               key="rob_occlusion"),
    )
    if wi.occlusion is not None:
        o1, o2, o3 = st.columns(3)
        wi.occlusion_size = o1.slider("Occluder size", 0.0, 1.0, 0.3, 0.05, key="rob_occ_size")
        wi.occlusion_x = o2.slider("Occluder x", 0.0, 1.0, 0.5, 0.05, key="rob_occ_x",
                                   disabled=wi.occlusion not in ("patch", "hand"))
        wi.occlusion_y = o3.slider("Occluder y", 0.0, 1.0, 0.5, 0.05, key="rob_occ_y",
                                   disabled=wi.occlusion not in ("patch", "hand"))

    edited = apply_whatif(image, wi)
    probs = {state.short_label(c): whatif_predict(state.predict_fn(c), image, wi)[1] for c in picked}
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.image(enlarge(image, 160), caption="original", width=160)
    c2.image(enlarge(edited, 160), caption="edited" if not wi.is_identity() else "edited (no change)", width=160)
    c3.plotly_chart(charts.probability_bars(probs, classes, "Probabilities on the edited face"), key="rob_bars")
    table = probability_table(probs, classes)
    st.dataframe(table.style.format("{:.3f}", subset=classes), key="rob_probs")
    ms = 1000 * (time.perf_counter() - t0)
    st.session_state["rob_whatif_ms"] = ms
    st.caption(f"What-if updated in {ms:.0f} ms on the server (only this section reruns when a slider moves).")


what_if(picked, classes, es)

# -- sweep ---------------------------------------------------------------------------------------
st.subheader("Dataset-level sweep")
if es is None:
    st.info("The sweep needs the test images of the first model.")
    st.stop()
c1, c2, c3 = st.columns(3)
families = c1.multiselect("Corruption families", list(SUBSETS), default=["lighting", "noise", "blur", "occlusion"],
                          key="rob_families")
extra = c1.multiselect("…or single corruptions", list(CORRUPTIONS), key="rob_corruptions")
severities = c2.multiselect("Severities", [1, 2, 3, 4, 5], default=[1, 3, 5], key="rob_severities")
n_eval = len(es.images)
sample = (c3.slider("Images (fixed stratified sample)", 20, min(1000, n_eval), min(150, n_eval), key="rob_sample")
          if n_eval > 20 else n_eval)
seed = int(c3.number_input("Seed", 0, 10_000, 0, key="rob_seed"))
st.caption(f"Images: a fixed stratified sample of {es.describe()}; every model sees the same corrupted images.")
if st.button("Run the sweep", key="rob_sweep", disabled=not (families or extra) or not severities):
    bar = st.progress(0.0, text="clean images")
    fns = {state.short_label(c): state.predict_fn(c) for c in picked}
    try:
        result = sweep(fns, es.images, es.labels, corruptions=[*families, *extra], severities=sorted(severities),
                       sample=sample, seed=seed, batch_size=256,
                       progress=lambda ev: bar.progress(ev["step"] / ev["steps"], text=ev["message"]))
    except FERError as exc:
        st.error(str(exc))
    else:
        st.session_state["rob_result"] = result
        bar.empty()
result = st.session_state.get("rob_result")
if result is not None and set(result.table["model"]) <= {state.short_label(c) for c in picked}:
    st.plotly_chart(charts.sweep_curves(result.table), key="rob_sweep_chart")
    st.dataframe(result.summary.round(3), hide_index=True, key="rob_summary")
    st.caption("mCA: mean accuracy over every corruption and severity; relative drop: (clean − mCA) / clean.")
elif result is None:
    st.caption("Press *Run the sweep*: a few seconds per model for 150 images without TTA; each TTA view "
               "(flip 2, ten-crop 11, per member of an ensemble) multiplies that.")
