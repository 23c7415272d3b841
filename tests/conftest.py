"""Shared fixtures: an isolated data directory per test session, small generated data, shared data."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Test-only job kinds (sleep_steps), imported on demand here and in every worker process.
os.environ["FER_STUDIO_JOB_KINDS"] = "tests.jobkinds"
#: The models shipped in the repository. Tests see no bundled model unless they ask for this shelf
#: (tests/test_pretrained.py) or build their own, so "empty studio" states stay testable.
SHIPPED_SHELF = ROOT / "fer_core" / "pretrained"
os.environ["FER_STUDIO_PRETRAINED"] = str(ROOT / "tests" / "no_bundled_models")
# The Live page's WebRTC library must be loaded before TensorFlow (fer_core.video.live.preload_webrtc).
from fer_core.video.live import preload_webrtc  # noqa: E402

preload_webrtc()


@pytest.fixture(autouse=True, scope="session")
def _studio_home(tmp_path_factory):
    """Runs, jobs and caches of the tests go to a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("fer_home")
    old = os.environ.get("FER_STUDIO_HOME")
    os.environ["FER_STUDIO_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("FER_STUDIO_HOME", None)
    else:
        os.environ["FER_STUDIO_HOME"] = old


@pytest.fixture(scope="session")
def fer2013_root():
    """The shared FER2013 image folders, or a clean skip when they are absent."""
    from fer_core.paths import shared_data_dir

    base = shared_data_dir()
    root = base / "fer2013" if base else None
    if root is None or not (root / "train").is_dir():
        pytest.skip("shared FER2013 data (../shared/data/fer2013) is not present on this machine")
    return root


@pytest.fixture(scope="session")
def fer_faces() -> list:
    """The real FER2013 faces of ``photos.FACE_FILES`` (grey 48x48), or a clean skip without shared data."""
    import cv2

    from fer_core.paths import shared_data_dir
    from photos import FACE_FILES

    root = shared_data_dir()
    if root is None or not (root / "fer2013").is_dir():
        pytest.skip("shared FER2013 data not found (../shared/data/fer2013 or $FER_SHARED_DATA); "
                    "detection tests need real faces")
    faces = []
    for name in FACE_FILES:
        path = Path(root) / "fer2013" / name
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert img is not None and img.shape == (48, 48), f"cannot read {path}"
        faces.append(img)
    return faces


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> str:
    """A tiny untrained 48x48 grey classifier saved as ``.keras`` (7 softmax outputs): for tests that
    need a model that loads and predicts, not one that is right."""
    import keras

    inp = keras.Input((48, 48, 1))
    out = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inp)))
    path = tmp_path_factory.mktemp("model") / "ok.keras"
    keras.Model(inp, out).save(path)
    return str(path)


#: Fixtures whose tests get a marker: real FER2013 data, or training in worker processes
#: (``trainer`` of test_jobs.py). Other slow tests carry ``@pytest.mark.slow`` / ``pytestmark``.
SHARED_DATA_FIXTURES = {"fer2013_root", "fer_faces"}
SLOW_FIXTURES = {"trainer"}


def pytest_collection_modifyitems(items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SHARED_DATA_FIXTURES:
            item.add_marker(pytest.mark.shared_data)
        if used & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
