"""FER Studio dashboard: the router. Run with ``streamlit run dashboard/Home.py``."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # make fer_core importable
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402

from fer_core.video.live import preload_webrtc  # noqa: E402

preload_webrtc()  # before any page loads TensorFlow (see its docstring: a segfault otherwise)

VIEWS = Path(__file__).resolve().parent / "views"

# A local icon: ":material/..." or emoji favicons make the browser fetch them from Google / a CDN
ICON = Path(__file__).resolve().parent / "favicon.png"
st.set_page_config(page_title="FER Studio", page_icon=str(ICON), layout="wide")
pages = {
    "Studio": [
        st.Page(VIEWS / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(VIEWS / "data.py", title="Data", icon=":material/dataset:"),
    ],
    "Models": [
        st.Page(VIEWS / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(VIEWS / "compare.py", title="Compare", icon=":material/compare:"),
    ],
    "Insight": [
        st.Page(VIEWS / "explain.py", title="Explain", icon=":material/visibility:"),
        st.Page(VIEWS / "robustness.py", title="Robustness", icon=":material/shield:"),
    ],
    "Use": [
        st.Page(VIEWS / "predict.py", title="Predict", icon=":material/photo_camera:"),
        st.Page(VIEWS / "video.py", title="Video", icon=":material/movie:"),
        st.Page(VIEWS / "live.py", title="Live", icon=":material/videocam:"),
    ],
}
st.navigation(pages).run()
