"""Video: faces in an uploaded video detected every k-th frame and followed in between, their emotions
over time, a per-face summary, the CSV and the annotated video."""
from __future__ import annotations

import hashlib

import streamlit as st

from dashboard import charts, state, widgets
from fer_core.errors import FERError
from fer_core.inference import Predictor
from fer_core.video.analyze import analyze_upload, temp_folder
from fer_core.video.reader import MAX_VIDEO_MB, VIDEO_EXTENSIONS


@st.cache_resource(show_spinner="Preparing the detector and model…", max_entries=4)
def _predictor(key: str, stamp: float, home: str) -> Predictor:
    choice = state.choice_by_key(key)
    return state.predictor(choice)


st.title("Video")
[choice] = state.pick_models("Model or ensemble", "video_model", multi=False)
c1, c2 = st.columns(2)
every = c1.slider("Detect faces every k-th frame", 1, 10, 3, key="video_every",
                  help="Faces are followed between detections and classified on every frame; a larger k is faster.")
annotate = c2.toggle("Make the annotated video", True, key="video_annotate")
st.caption(f"Model: **{choice.label}**" + (" — trained on synthetic faces: predictions on real videos are not "
                                           "meaningful" if choice.synthetic else ""))
widgets.tta_note(choice)
widgets.model_card(choice.run_id)
up = st.file_uploader("A video", type=[e.lstrip(".") for e in VIDEO_EXTENSIONS], key="video_file",
                      max_upload_size=MAX_VIDEO_MB)
if up is None:
    st.info(f"Upload a video ({', '.join(VIDEO_EXTENSIONS)}, up to {MAX_VIDEO_MB} MB): every face gets a number "
            "it keeps while in view, and its emotions over time.")
    st.stop()

data = up.getvalue()
run_key = (hashlib.sha1(data).hexdigest(), choice.key, choice.stamp, every, annotate)
if st.session_state.get("video_result_key") != run_key:
    try:
        predictor = _predictor(choice.key, choice.stamp, state.home())
        bar = st.progress(0.0, text=f"Analysing {up.name}…")

        def progress(done: int, total: int | None) -> None:
            if total and (done % 5 == 0 or done >= total):
                bar.progress(min(done / total, 1.0), text=f"Analysing {up.name}: frame {done} of {total}")

        result, video = analyze_upload(data, up.name, predictor, every=every, annotate=annotate, progress=progress,
                                       folder=temp_folder(), max_mb=MAX_VIDEO_MB)
        bar.empty()
    except FERError as exc:
        st.error(str(exc))  # the same line the command line prints
        st.stop()
    st.session_state["video_result_key"], st.session_state["video_result"] = run_key, (result, video)
result, video = st.session_state["video_result"]

speed = f", {result.speed:.1f}x real time" if result.speed else ""
st.markdown(f"**{up.name}** — {result.info.describe()}; analysed {result.frames} frames in "
            f"{result.seconds:.1f} s{speed}; **{len(result.summary)} face(s)**")
if result.table.empty:
    st.warning("No face was found in this video. Faces smaller than about 30 pixels, turned away or in the dark "
               "are missed; try a smaller k or another video.")
    st.stop()
st.plotly_chart(charts.emotion_timeline(result.timeline(), title="Emotion probabilities over time, per face"),
                key="video_timeline")
st.subheader("Share of time per emotion, per face")
st.dataframe(result.summary, hide_index=True, key="video_summary",
             column_config={c: st.column_config.ProgressColumn(c, format="percent", min_value=0, max_value=1)
                            for c in result.classes})
d1, d2 = st.columns(2)
d1.download_button("Download every frame and face (CSV)", result.csv_bytes(), file_name=f"{up.name}.csv",
                   mime="text/csv", key="video_csv")
if video is not None:
    d2.download_button("Download the annotated video (MP4)", video, file_name=f"{up.name.rsplit('.', 1)[0]}_annotated.mp4",
                       mime="video/mp4", key="video_mp4")
    st.video(video, format="video/mp4")
