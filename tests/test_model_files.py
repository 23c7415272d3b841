"""Model files load only with safe_mode=True, never with code inside; ensembles name runs, not files."""
from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from fer_core.errors import DataError, ModelFileError
from fer_core.evaluation import check_member_ref, load_ensemble, save_ensemble
from fer_core.inference import load_model_ref
from fer_core.models.files import (code_layers, dtype_policy, float32_copy, load_model_file, read_keras_config,
                                   save_float16)
from fer_core.runs import RunStore


def _tiny(name: str = "tiny") -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")], name=name)


def _with_lambda() -> keras.Model:
    inp = keras.Input((4,))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Lambda(lambda t: t * 2.0, name="doubler")(inp))
    return keras.Model(inp, out)


def test_plain_model_loads_and_predicts_the_same(tmp_path):
    model = _tiny()
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(load_model_file(tmp_path / "m.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


def test_float16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    from fer_core.models import create_model

    keras.utils.set_random_seed(0)
    model = create_model("fer_net", input_shape=(48, 48, 1), num_classes=7, width=16)
    faces = np.random.default_rng(0).uniform(0, 255, (32, 48, 48, 1)).astype("float32")
    model.predict(faces, verbose=0)
    model.save(tmp_path / "full.keras")
    save_float16(model, tmp_path / "half.keras")
    half = load_model_file(tmp_path / "half.keras")
    assert {w.dtype for w in half.weights} == {"float32"}
    assert read_keras_config(tmp_path / "half.keras") == read_keras_config(tmp_path / "full.keras")
    full_size, half_size = ((tmp_path / f).stat().st_size for f in ("full.keras", "half.keras"))
    assert 0.45 < half_size / full_size < 0.6  # the config and the file layout stay full size
    for w32, w16 in zip(model.weights, half.weights):
        np.testing.assert_allclose(w16.numpy(), w32.numpy(), rtol=1e-3, atol=1e-4)
    p32, p16 = model.predict(faces, verbose=0), half.predict(faces, verbose=0)
    assert not np.array_equal(p16, p32)  # rounded, not copied
    np.testing.assert_allclose(p16, p32, atol=1e-2)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_model_with_code_inside_is_refused_with_the_reason(tmp_path):
    _with_lambda().save(tmp_path / "code.keras")
    assert code_layers(read_keras_config(tmp_path / "code.keras")) == ["doubler"]
    with pytest.raises(ModelFileError, match=r"code.keras: refused, it contains Python code \(Lambda layer 'doubler'\)"):
        load_model_file(tmp_path / "code.keras")
    with pytest.raises(ModelFileError, match="Lambda layer 'doubler'"):
        RunStore(tmp_path / "home").import_model(tmp_path / "code.keras")
    with pytest.raises(ModelFileError, match="Python code"):
        load_model_ref(tmp_path / "code.keras")


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such model file"),
    (lambda p: p.write_bytes(b"not a zip"), "not a readable Keras 3 .keras archive"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("other.txt", "x"), "not a readable Keras 3"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("config.json", "[1, 2]"), "is not a model configuration"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("config.json", json.dumps({"class_name": "Nonsense", "config": {}})),
     "cannot be loaded as a Keras model"),
])
def test_broken_model_files_give_one_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "broken.keras"
    make(path)
    with pytest.raises(ModelFileError, match=message) as err:
        load_model_file(path)
    assert "broken.keras" in str(err.value)


def test_legacy_formats_are_refused(tmp_path):
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ModelFileError, match="loads Keras 3 '.keras' files only"):
        load_model_ref(tmp_path / "old.h5")


def test_ensembles_name_run_ids_and_bundled_ids_only(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    for ref in ("../x.keras", "/etc/passwd", "runs/a/model.keras", "C:\\\\models\\\\m", ".hidden", "m.h5", ""):
        with pytest.raises(DataError, match="not a run id or bundled id"):
            check_member_ref(ref)
    with pytest.raises(DataError, match="ensembles name runs, not files"):
        save_ensemble(tmp_path / "e.json", ["/tmp/model.keras"])
    # a hand-edited file naming a path is refused before anything is loaded, whatever the resolver
    entry = {"kind": "fer_studio.ensemble", "version": 1, "name": "evil", "tta": "none",
             "members": [{"ref": str(tmp_path / "m.keras"), "weight": 1.0}]}
    (tmp_path / "evil.json").write_text(json.dumps(entry))
    loaded = []
    with pytest.raises(DataError, match="not a run id or bundled id"):
        load_ensemble(tmp_path / "evil.json", resolve=loaded.append)
    assert loaded == []
    store = RunStore()
    run = store.create({"name": "ok", "model": {"name": "tiny"}, "data": {"path": "synthetic"}})
    _tiny().save(run.model_path)
    ens = load_ensemble(save_ensemble(tmp_path / "ok.json", [run.id]))
    assert ens.refs == [run.id]


def test_float32_copy_of_a_mixed_bfloat16_fer_net_predicts_as_it_does(tmp_path):
    """A model built under mixed_bfloat16 (train.precision) is saved for use as a float32 copy: every
    layer float32, the same weights, outputs within bfloat16 rounding; a float32 model is returned as is."""
    from fer_core.models import create_model

    with dtype_policy("mixed_bfloat16"):
        mixed = create_model("fer_net", (48, 48, 1), 7, width=8, deep=True)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in mixed.layers}
    copy = float32_copy(mixed)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    x = np.random.default_rng(0).uniform(0, 255, (6, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(copy.predict_on_batch(x), np.asarray(mixed.predict_on_batch(x), np.float32), atol=0.02)
    copy.save(tmp_path / "m.keras")
    loaded = load_model_file(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict_on_batch(x), copy.predict_on_batch(x), atol=1e-6)
    assert float32_copy(loaded) is loaded
