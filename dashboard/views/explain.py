"""Explain: where a model looks — Grad-CAM, Grad-CAM++ or occlusion maps on a test image or an
uploaded face, and a gallery of the most confident mistakes with their maps."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts, state
from dashboard.images import enlarge, face_from_upload
from fer_core.errors import FERError
from fer_core.evaluation import most_confident_mistakes
from fer_core.explain import METHODS, explain, overlay


@st.cache_data(show_spinner="Computing the map…", max_entries=256)
def _heatmap(key: str, stamp: float, image: np.ndarray, method: str, class_index: int | None) -> np.ndarray:
    return explain(state.load_model(state.choice_by_key(key)), image, method, class_index)


st.title("Explain")
[choice] = state.pick_models("Model or ensemble", "exp_model", multi=False)
classes = list(state.classes_of(choice))
try:
    es = state.eval_set(choice)
except (FERError, OSError, KeyError) as exc:
    es = None
    st.warning(f"The test images of this model are not available ({exc}); upload a face instead.")

sources = (["Test image"] if es is not None else []) + ["Upload a face"]
c1, c2, c3 = st.columns(3)
source = c1.radio("Image", sources, horizontal=True, key="exp_source")
method = c2.selectbox("Method", METHODS, key="exp_method",
                      help="Grad-CAM / Grad-CAM++: gradients at the last spatial feature map; occlusion: how much "
                           "the probability drops when a grey patch hides each region")
target = c3.selectbox("Explain the class", ["predicted", *classes], key="exp_class")

if source == "Test image":
    i = st.slider(f"Test image (0–{len(es.images) - 1})", 0, len(es.images) - 1, 0, key="exp_index")
    image, true = es.images[i], es.classes[es.labels[i]]
    where = es.describe(i)
else:
    up = st.file_uploader("A face photo (the largest face is cropped)", type=["png", "jpg", "jpeg", "bmp", "webp"],
                          key="exp_upload")
    if up is None:
        st.info("Upload a photo of a face to explain the model's prediction on it.")
        st.stop()
    size = es.images.shape[1:3] if es is not None else (48, 48)
    grey = es is None or es.images.ndim == 3
    try:
        image, note = face_from_upload(up.getvalue(), up.name, tuple(size), grey)
    except FERError as exc:
        st.error(str(exc))
        st.stop()
    true, where = None, f"uploaded {up.name} ({note})"
st.caption(f"Model: **{choice.label}** · image: {where}")

probs = state.predict_fn(choice)(image[None])[0]
pred = int(np.argmax(probs))
class_index = None if target == "predicted" else classes.index(target)
heat = _heatmap(choice.key, choice.stamp, image, method, class_index)
shown = classes[pred] if class_index is None else classes[class_index]
c1, c2, c3 = st.columns([1, 1, 2])
c1.image(enlarge(image, 192), caption=f"true: {true}" if true else "input", width=192)
c2.image(enlarge(overlay(image, heat), 192), caption=f"{method} for '{shown}'", width=192)
c3.plotly_chart(charts.probability_bars({choice.label.split(' · ')[0]: probs}, classes,
                                        f"Predicted: {classes[pred]} ({probs[pred]:.0%})"), key="exp_probs")

st.subheader("Most confident mistakes")
if es is None:
    st.info("Needs the model's test images.")
    st.stop()
report = state.report(choice)
mistakes = most_confident_mistakes(report.per_image(), k=8)
if mistakes.empty:
    st.success("No mistake on the test images.")
    st.stop()
pos = {s: k for k, s in enumerate(es.sources)}
tiles, caps = [], []
for _, row in mistakes.iterrows():
    k = pos.get(row["source"])
    if k is None:
        continue
    m = _heatmap(choice.key, choice.stamp, es.images[k], method, None)
    tiles.append(enlarge(overlay(es.images[k], m), 128))
    caps.append(f"#{k} true {row['true']} → {row['pred']} ({row['confidence']:.0%})")
st.image(tiles, caption=caps, width=128)
st.caption(f"The {len(tiles)} wrong predictions made with the highest confidence on the {es.split} split, "
           f"with the {method} map of the predicted class.")
