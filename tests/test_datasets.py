"""The dataset registry (fer_core.data.registry): remembered across processes, atomic, validated."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core.data import write_fer2013_csv
from fer_core.data.synthetic import make_synthetic
from fer_core.data.registry import (REGISTRY_FILE, get_dataset, list_datasets, register_dataset, registry_path,
                               unregister_dataset)
from fer_core.errors import ConfigError, DataError


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "data" / "fer2013.csv"
    path.parent.mkdir()
    write_fer2013_csv(make_synthetic(21, seed=1), path)
    return path


def test_register_list_get_unregister(tmp_path, csv_path):
    home = tmp_path / "home"
    assert list_datasets(home) == []
    entry = register_dataset(csv_path, root=home)
    assert entry.name == "fer2013" and entry.path == str(csv_path.resolve()) and entry.exists
    folder = register_dataset(csv_path.parent, name="my folder", root=home)
    assert [e.name for e in list_datasets(home)] == ["fer2013", "my folder"]
    assert get_dataset("my folder", home) == folder
    ds = get_dataset("fer2013", home).load()
    assert len(ds) == 21 and np.array_equal(ds.images, make_synthetic(21, seed=1).images)
    unregister_dataset("fer2013", home)
    assert [e.name for e in list_datasets(home)] == ["my folder"]
    assert csv_path.is_file()  # forgetting a dataset never deletes its files


def test_registry_survives_a_new_process(tmp_path, csv_path):
    home = tmp_path / "home"
    register_dataset(csv_path, name="fer", options={"on_error": "skip"}, root=home)
    code = ("import sys; from fer_core.data.registry import list_datasets; "
            "e = list_datasets(sys.argv[1])[0]; print(e.name, e.options['on_error'], e.path)")
    out = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.split() == ["fer", "skip", str(csv_path.resolve())]
    raw = json.loads((home / REGISTRY_FILE).read_text())
    assert raw["version"] == 1 and raw["datasets"][0]["name"] == "fer"
    assert [p.name for p in home.iterdir() if p.name.startswith(".datasets.json")] == []  # no temp leftovers


def test_duplicate_names_need_replace(tmp_path, csv_path):
    register_dataset(csv_path, name="a", root=tmp_path)
    with pytest.raises(ConfigError, match="already registered.*replace=True"):
        register_dataset(csv_path.parent, name="a", root=tmp_path)
    entry = register_dataset(csv_path.parent, name="a", replace=True, root=tmp_path)
    assert [e.path for e in list_datasets(tmp_path)] == [entry.path] == [str(csv_path.parent.resolve())]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"path": "nowhere/at/all"}, DataError, "no such file or folder"),
    ({"path": "synthetic:n=100"}, ConfigError, "always available"),
    ({"name": "../evil"}, ConfigError, "Dataset name must be"),
    ({"name": "synthetic faces"}, ConfigError, "reserved"),
    ({"format": "parquet"}, ConfigError, "format must be one of"),
    ({"options": {"size": object()}}, ConfigError, "JSON-serialisable"),
])
def test_bad_input_says_what_was_wrong(tmp_path, csv_path, kwargs, error, match):
    args = {"path": csv_path, "root": tmp_path, **kwargs}
    with pytest.raises(error, match=match):
        register_dataset(**args)
    assert list_datasets(tmp_path) == []


def test_unknown_name_lists_close_matches(tmp_path, csv_path):
    register_dataset(csv_path, name="fer2013", root=tmp_path)
    with pytest.raises(DataError, match="Did you mean 'fer2013'"):
        get_dataset("fer2031", tmp_path)
    with pytest.raises(DataError, match="No registered dataset"):
        unregister_dataset("ckplus", tmp_path)


def test_corrupt_registry_is_reported(tmp_path):
    registry_path(tmp_path).write_text("{not json")
    with pytest.raises(DataError, match="unreadable"):
        list_datasets(tmp_path)


def test_default_root_is_the_data_dir(tmp_path, csv_path, monkeypatch):
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "studio"))
    register_dataset(csv_path, name="x")
    assert registry_path() == tmp_path / "studio" / REGISTRY_FILE and registry_path().is_file()
