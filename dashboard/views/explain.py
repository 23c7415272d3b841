"""Explain: where a model looks — Grad-CAM, Grad-CAM++ or occlusion maps on a test image or an
uploaded face, and a gallery of the most confident mistakes with their maps."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts, state
from dashboard.images import enlarge
from dashboard.widgets import face_input, tta_note
from fer_core.errors import FERError
from fer_core.evaluation.evalset import confident_mistakes
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

c1, c2, c3 = st.columns(3)
method = c2.selectbox("Method", METHODS, key="exp_method",
                      help="Grad-CAM / Grad-CAM++: gradients at the last spatial feature map; occlusion: how much "
                           "the probability drops when a grey patch hides each region")
target = c3.selectbox("Explain the class", ["predicted", *classes], key="exp_class")
face = face_input(es, "exp", "Upload a photo of a face to explain the model's prediction on it.", container=c1)
if face is None:
    st.stop()
image, true, where = face.image, face.true, face.where
st.caption(f"Model: **{choice.label}** · image: {where}")
tta_note(choice, extra=" The map is computed on the face as shown.")

probs = state.predict_fn(choice)(image[None])[0]
pred = int(np.argmax(probs))
# the map of the class shown as predicted (with the model's TTA), not of a re-prediction without it
class_index = pred if target == "predicted" else classes.index(target)
heat = _heatmap(choice.key, choice.stamp, image, method, class_index)
shown = classes[class_index]
c1, c2, c3 = st.columns([1, 1, 2])
c1.image(enlarge(image, 192), caption=f"true: {true}" if true else "input", width=192)
c2.image(enlarge(overlay(image, heat), 192), caption=f"{method} for '{shown}'", width=192)
c3.plotly_chart(charts.probability_bars({choice.label.split(' · ')[0]: probs}, classes,
                                        f"Predicted: {classes[pred]} ({probs[pred]:.0%})"), key="exp_probs")

st.subheader("Most confident mistakes")
if es is None:
    st.info("Needs the model's test images.")
    st.stop()
mistakes = confident_mistakes(state.report(choice), es, k=8)
if not mistakes:
    st.success("No mistake on the test images.")
    st.stop()
tiles = [enlarge(overlay(es.images[i], _heatmap(choice.key, choice.stamp, es.images[i], method, pred_i)), 128)
         for i, _, pred_i in mistakes]
caps = [cap for _, cap, _ in mistakes]
st.image(tiles, caption=caps, width=128)
st.caption(f"The {len(tiles)} wrong predictions made with the highest confidence on the {es.split} split, "
           f"with the {method} map of the predicted class.")
