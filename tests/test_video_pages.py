"""The Video and Live pages, headless (AppTest), over the bundled model the repository ships: a video
upload gives the timeline, the summary, the CSV and the annotated video; a bad one the CLI's line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.video.synthetic import moving_faces, write_clip
from tests.conftest import SHIPPED_SHELF

ROUTER = Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"
pytestmark = pytest.mark.skipif(not (SHIPPED_SHELF / "manifest.json").is_file(), reason="no bundled model shipped")


@pytest.fixture
def shipped(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(SHIPPED_SHELF))
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    return tmp_path


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROUTER), default_timeout=300).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_video_page_upload_gives_timeline_summary_csv_and_video(shipped):
    clip = write_clip(shipped / "two.avi", moving_faces(12, step=12), fps=10).read_bytes()
    at = open_page("views/video.py")
    assert at.title[0].value == "Video" and "Upload a video" in at.info[0].value
    at.file_uploader(key="video_file").set_value(("two.avi", clip, "video/x-msvideo")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "**2 face(s)**" in " ".join(m.value for m in at.markdown)
    summary = next(d.value for d in at.dataframe if "face_id" in d.value.columns)
    assert list(summary["face_id"]) == [1, 2] and list(summary["frames"]) == [12, 12]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["legendgroup"] for t in spec["data"]} >= {"happy", "neutral"}  # a line per emotion
    assert len({t["yaxis"] for t in spec["data"]}) == 2  # a panel per face
    assert at.get("download_button") and len(at.get("download_button")) == 2
    assert at.get("video")
    # a bad file: the command line's one line, nothing else
    at.file_uploader(key="video_file").set_value(("bad.mp4", b"hello, I am text", "video/mp4")).run()
    assert not at.exception
    assert at.error[0].value.startswith("bad.mp4: not a video OpenCV can decode")
    assert not list((shipped / "home" / "uploads").glob("*"))  # the temporary copies are gone


def test_live_page_renders_with_the_default_model(shipped, monkeypatch):
    import streamlit_webrtc.component as component

    # AppTest's runtime is a mock without a session manager; the component copes with "no session info"
    monkeypatch.setattr(component, "get_this_session_info", lambda: None)
    at = open_page("views/live.py")
    assert at.title[0].value == "Live"
    from fer_core.video.live import FAST_MODEL_ID

    if (SHIPPED_SHELF / FAST_MODEL_ID).is_dir():  # the fast model when shipped, else the first listed
        assert at.selectbox(key="live_model").value == f"run:{FAST_MODEL_ID}"
    assert "Press START" in " ".join(i.value for i in at.info)
    assert "no STUN/TURN server" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("page", ["views/video.py", "views/live.py"])
def test_pages_without_a_model_say_what_to_do(page, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))  # no run, and conftest's empty shelf
    at = open_page(page)
    assert "No trained model yet" in " ".join(i.value for i in at.info)
