"""Bundled models: manifest, default alias, checksums, safe loading, ensembles, read-only."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fer_core import bundled
from fer_core.bundled import BundledError


@pytest.fixture()
def shelf(tmp_path, monkeypatch):
    """A bundled-model folder with two tiny untrained models and an ensemble of them."""
    import keras

    from fer_core.models import create_model

    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(tmp_path / "pretrained"))
    ids = []
    for i, name in enumerate(("five_layer", "baseline_cnn")):
        run = tmp_path / f"run{i}"
        run.mkdir()
        keras.utils.set_random_seed(i)
        create_model(name, input_shape=(48, 48, 1), num_classes=7).save(run / "model.keras")
        (run / "metrics.json").write_text(json.dumps({"accuracy": 0.5 + i / 10, "macro_f1": 0.4}))
        (run / "run.json").write_text(json.dumps({"model": name, "dataset": "synthetic"}))
        ids.append(bundled.install_bundled(f"m{i}", title=f"model {i}", source_run=run).id)
    bundled.install_bundled("ens", title="both", members=ids, tta="flip", make_default=True)
    return tmp_path / "pretrained"


def test_listing_default_and_loading(shelf):
    found = {b.id: b for b in bundled.list_bundled()}
    assert set(found) == {"m0", "m1", "ens"}
    assert found["m1"].record["test_accuracy"] == pytest.approx(0.6)
    assert found["m0"].record["bundled"] is True and found["ens"].kind == "ensemble"
    assert bundled.default_id() == "ens" and bundled.get_bundled("default").id == "ens"
    assert bundled.is_bundled("default") and bundled.is_bundled("m0") and not bundled.is_bundled("nope")
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    from fer_core.evaluation import predict_probs

    m0, m1 = bundled.load_bundled("m0"), bundled.load_bundled("m1")
    ens = bundled.load_bundled("default")
    expect = (predict_probs(m0, faces, tta="flip") + predict_probs(m1, faces, tta="flip")) / 2
    np.testing.assert_allclose(predict_probs(ens, faces), expect, atol=1e-5)


def test_missing_or_corrupt_file_is_named(shelf):
    target = shelf / "m1" / "model.keras"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundledError, match=r"m1.*model\.keras.*corrupt"):
        bundled.load_bundled("m1")
    with pytest.raises(BundledError, match="m1"):  # the ensemble names its broken member
        bundled.load_bundled("default")
    target.unlink()
    with pytest.raises(BundledError, match=r"model\.keras is missing"):
        bundled.load_bundled("m1")


def test_unknown_ids_and_read_only(shelf, tmp_path, monkeypatch):
    with pytest.raises(BundledError, match="bundled: m0, m1, ens"):
        bundled.get_bundled("m9")
    with pytest.raises(BundledError, match="read-only"):
        bundled.refuse_change("m0")
    bundled.refuse_change("some-user-run")  # not bundled: allowed
    with pytest.raises(BundledError, match="not bundled ids"):
        bundled.install_bundled("bad", title="x", members=["m0", "zzz"])
    with pytest.raises(BundledError, match="must be"):
        bundled.install_bundled("default", title="x", members=["m0"])
    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(tmp_path / "empty"))
    assert bundled.list_bundled() == [] and bundled.default_id() is None
    with pytest.raises(BundledError, match="ships none"):
        bundled.get_bundled("default")


def test_broken_manifest_is_a_clear_error(shelf):
    (shelf / "manifest.json").write_text("{not json")
    with pytest.raises(BundledError, match="manifest.*unreadable"):
        bundled.list_bundled()
