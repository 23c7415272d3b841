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
