"""Predict: faces found, boxed and labelled on uploaded photos (or the camera), probabilities per
face, and a CSV of every prediction."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from dashboard import charts, state, widgets
from dashboard.images import enlarge
from fer_core.data.archives import MAX_PHOTO_MB, check_upload_size
from fer_core.errors import FERError
from fer_core.export import RUNTIME_HELP, RUNTIMES
from fer_core.inference import Predictor
from fer_core.tables import predictions_csv


@st.cache_resource(show_spinner="Preparing the detector and model (ONNX or TFLite: exported on first use)…",
                   max_entries=8)
def _predictor(key: str, stamp: float, detector: str, fallback: bool, runtime: str, home: str) -> Predictor:
    choice = state.choice_by_key(key)
    return state.predictor(choice, detector=detector, fallback=fallback, runtime=runtime)


@st.cache_data(show_spinner=False, max_entries=64)
def _predict(_predictor: Predictor, key: str, stamp: float, detector: str, fallback: bool, runtime: str,
             digest: str, _data: bytes, name: str):
    return _predictor.predict_image(_data, name=name)


st.title("Predict")
[choice] = state.pick_models("Model or ensemble", "pred_model", multi=False)
c1, c2, c3 = st.columns(3)
detector = c1.selectbox("Face detector", ["blazeface", "haar", "mtcnn"], key="pred_detector",
                        help="BlazeFace: best recall, no false boxes, aligns the eyes (tens of ms); Haar: fast, boxes "
                             "some clothing (checked by BlazeFace); MTCNN: finds small turned faces, a few hundred ms")
runtime = c2.selectbox("Runtime", RUNTIMES, key="pred_runtime", help=RUNTIME_HELP)
fallback = c3.toggle("Classify the whole photo when no face is found", False, key="pred_fallback")
st.caption(f"Model: **{choice.label}**" + (" — trained on synthetic faces: predictions on real photos are not "
                                           "meaningful" if choice.synthetic else ""))
widgets.model_card(choice.run_id)
try:
    predictor = _predictor(choice.key, choice.stamp, detector, fallback, runtime, state.home())
except FERError as exc:
    st.error(str(exc))
    st.stop()
widgets.tta_note(choice)

uploads = st.file_uploader("Photos", type=["png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"],
                           accept_multiple_files=True, key="pred_files", max_upload_size=MAX_PHOTO_MB)
camera = None
if st.toggle("Use the camera", False, key="pred_camera_on"):
    camera = st.camera_input("Take a photo", key="pred_camera")
    st.caption("No camera, or access denied? The browser asks for permission above; upload photos instead.")
files = [(f.name, f.getvalue()) for f in uploads or []]
if camera is not None:
    files.append(("camera.jpg", camera.getvalue()))
if not files:
    st.info("Upload one or more photos (or turn on the camera): every face is found, boxed and classified.")
    st.stop()

rows = []
for name, data in files:
    digest = hashlib.sha1(data).hexdigest()
    try:
        check_upload_size(len(data), name, MAX_PHOTO_MB)
        res = _predict(predictor, choice.key, choice.stamp, detector, fallback, runtime, digest, data, name)
    except FERError as exc:
        st.error(str(exc))  # the same line the command line prints
        rows.append({"source": name, "face": 0, "status": f"error: {exc}"})
        continue
    rows.extend(res.rows())
    with st.container(border=True):
        st.markdown(f"**{name}** — {res.message}")
        left, right = st.columns([3, 2])
        left.image(res.annotated(), width=min(640, res.image.shape[1]))
        with right:
            for i, face in enumerate(res.faces, 1):
                st.image(enlarge(face.crop, 96) if max(face.crop.shape[:2]) < 96 else face.crop,
                         caption=f"face {i}: {face.label} ({face.confidence:.0%})", width=96)
                st.plotly_chart(charts.probability_bars({f"face {i}": face.probs}, face.classes, f"Face {i}"),
                                key=f"pred_bars_{digest[:8]}_{i}")

st.subheader("All predictions")
st.dataframe(pd.DataFrame(rows), hide_index=True, key="pred_table")
st.download_button("Download all predictions (CSV)", predictions_csv(rows), file_name="predictions.csv",
                   mime="text/csv", key="pred_csv")
