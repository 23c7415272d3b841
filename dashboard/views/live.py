"""Live: the browser's camera streamed to this server (WebRTC, no STUN/TURN server), faces boxed and
labelled on the returned video, the frame rate, and each face's emotions over the last seconds."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state, widgets
from fer_core.errors import FERError
from fer_core.inference import Predictor
from fer_core.video.live import FAST_MODEL_ID, LiveProcessor, live_default_ref, preload_webrtc

#: Only host candidates: works on this machine and its network, never asks a server on the internet.
RTC_CONFIGURATION = {"iceServers": []}
NO_CAMERA = ("No camera found. Connect one (or close the other program using it) and press START again; "
             "recorded videos work on the Video page.")
DENIED = ("Camera access denied. Allow this page to use the camera (the camera icon in the address bar) and "
          "press START again.")
NO_MEDIA_API = ("This browser gives no camera access to this page: browsers allow cameras on https:// pages and "
                "on http://localhost only. Open the dashboard at http://localhost:8501 (an SSH tunnel works).")


@st.cache_resource(show_spinner="Preparing the detector and model…", max_entries=4)
def _predictor(key: str, stamp: float, home: str) -> Predictor:
    choice = state.choice_by_key(key)
    return state.predictor(choice)


st.title("Live")
options = {c.key: c for c in state.model_choices(ensembles=False)}
if not options:
    state.no_models_stop("the live camera")
keys = list(options)
# the fast bundled model when installed, else the bundled default (listed first)
default = next((i for i, c in enumerate(options.values()) if c.run_id == live_default_ref()), 0)
c1, c2, c3 = st.columns([3, 1, 1])
choice = options[c1.selectbox("Model", keys, index=default, format_func=lambda k: options[k].label, key="live_model",
                              help=f"The small fast model ({FAST_MODEL_ID}) is the default when installed: a bigger "
                                   "model lowers the frame rate.")]
widgets.tta_note(choice, c1)
every = c2.slider("Detect every k-th frame", 1, 10, 3, key="live_every")
window = c3.slider("Chart: last seconds", 5, 60, 10, key="live_window")

try:
    preload_webrtc()
    predictor = _predictor(choice.key, choice.stamp, state.home())
except FERError as exc:
    st.error(str(exc))
    st.stop()
proc_key = (choice.key, choice.stamp, window)
if st.session_state.get("live_processor_key") != proc_key:  # one processor per session and model
    st.session_state["live_processor"] = LiveProcessor(predictor, every=every, window_s=window)
    st.session_state["live_processor_key"] = proc_key
processor: LiveProcessor = st.session_state["live_processor"]
processor.set_every(every)

from streamlit_webrtc import WebRtcMode, webrtc_streamer  # noqa: E402  (after the page's own widgets)

ctx = webrtc_streamer(
    key="live_camera", mode=WebRtcMode.SENDRECV, rtc_configuration=RTC_CONFIGURATION,
    media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
    video_frame_callback=processor.video_frame_callback(), async_processing=True,
    translations={"device_not_available": NO_CAMERA, "device_access_denied": DENIED,
                  "media_api_not_available": NO_MEDIA_API},
)
st.caption("Press START and allow the camera. The video goes from this browser to the dashboard's server and "
           "back, on this machine or network only (no STUN/TURN server).")
st.caption("**NotFoundError** or **NotReadableError** in the player: no camera found, or another program uses it. "
           "**NotAllowedError**: camera access denied; allow it (camera icon in the address bar) and press START "
           "again. Recorded videos work on the **Video** page.")


@st.fragment(run_every=1.0 if ctx.state.playing else None)
def live_panel() -> None:
    """Refreshed every second while the camera plays: frame rate, faces, the rolling chart."""
    stats = processor.stats()
    m1, m2, m3 = st.columns(3)
    m1.metric("Frames per second", f"{stats.fps:.1f}")
    m2.metric("Processing per frame", f"{stats.ms_per_frame:.0f} ms")
    m3.metric("Faces", stats.faces)
    st.markdown(f"Live: {stats.frames} frames processed, {stats.fps:.1f} fps, {stats.faces} face(s)"
                + (f" — {', '.join(stats.labels)}" if stats.labels else ""))
    if stats.frames:
        st.plotly_chart(charts.emotion_timeline(processor.timeline(), x="seconds_ago", x_title="seconds ago",
                                                title=f"Emotions over the last {window} s, per face"),
                        key="live_timeline")
    elif not ctx.state.playing:
        st.info("Press START to stream the camera; the frame rate and a chart of each face's emotions appear here.")


live_panel()
