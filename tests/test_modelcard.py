"""Model cards: figures equal a fresh evaluation, FER+ agreement, rendering, atomic files."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fer_core.data.synthetic import make_synthetic
from fer_core.evaluation import evaluate_model
from fer_core.modelcard import CARD_JSON, CARD_MD, FER2013_LIMITS, card_figures, render_card, write_card


@pytest.fixture(scope="module")
def small():
    from fer_core.models import create_model

    import keras

    ds = make_synthetic(300, seed=3)
    keras.utils.set_random_seed(0)  # the same untrained model every time
    model = create_model("five_layer", input_shape=(48, 48, 1), num_classes=len(ds.classes))
    return model, ds


def test_figures_match_a_fresh_evaluation(small):
    model, ds = small
    fig = card_figures(model, ds, "test", tta="flip", n_bootstrap=200)
    rep = evaluate_model(model, ds, "test", tta="flip", n_bootstrap=200)
    assert fig["n"] == rep.n == len(ds.split("test"))
    assert fig["accuracy"] == pytest.approx(rep.accuracy)
    assert fig["macro_f1"] == pytest.approx(rep.macro_f1)
    lo, hi = fig["accuracy_ci"]
    assert lo <= fig["accuracy"] <= hi
    counts = np.array(fig["confusion"]["counts"])
    assert counts.sum() == fig["n"]
    assert np.trace(counts) / counts.sum() == pytest.approx(fig["accuracy"])
    assert set(fig["per_class_f1"]) == set(fig["confusion"]["classes"])
    assert fig["tta"] == "flip" and fig["ferplus_agreement"] is None
    json.dumps(fig)  # plain JSON


def test_ferplus_agreement_counts_only_voted_faces(small):
    model, ds = small
    test = ds.split("test")
    pred = np.asarray(evaluate_model(model, ds, "test", n_bootstrap=0).y_pred)
    soft = np.zeros((len(ds), len(ds.classes)), np.float32)
    idx = np.flatnonzero(ds.splits == "test")
    half = len(test) // 2
    soft[idx[:half], 0] = 1.0  # half the test faces voted "class 0", the rest unvoted
    fig = card_figures(model, replace(ds, soft_labels=soft), "test", n_bootstrap=0)
    assert fig["ferplus_agreement"] == pytest.approx(float((pred[:half] == 0).mean()))
    # votes that always agree with the model: 100%, which counting the unvoted faces (as class 0) would spoil
    assert (pred[half:] != 0).any(), np.bincount(pred)
    soft[idx[:half]] = 0.0
    soft[idx[:half], pred[:half]] = 1.0
    assert card_figures(model, replace(ds, soft_labels=soft), "test", n_bootstrap=0)["ferplus_agreement"] == 1.0


def test_card_files_render_every_figure(tmp_path, small):
    model, ds = small
    fig = card_figures(model, ds, "test", n_bootstrap=100)
    card = {"id": "demo", "title": "Demo card", "kind": "model", "figures": fig,
            "latency_ms": {"keras": 1.5, "onnx": "unavailable: no onnx"}, "limits": list(FER2013_LIMITS)}
    path = write_card(tmp_path / "demo", card)
    assert json.loads(path.read_text())["figures"]["accuracy"] == fig["accuracy"]
    md = (tmp_path / "demo" / CARD_MD).read_text()
    assert f"{100 * fig['accuracy']:.1f}%" in md and "macro-F1" in md and "Confusion matrix" in md
    assert "Licence" in md and "keras: 1.5" in md
    assert not list((tmp_path / "demo").glob("*.tmp*"))
    assert render_card({"id": "bare"}).startswith("# bare")
    assert (tmp_path / "demo" / CARD_JSON).is_file()


def test_latency_per_face_times_models_and_whole_ensembles(small):
    from fer_core.evaluation import Ensemble
    from fer_core.modelcard import latency_per_face

    model, _ = small
    single = latency_per_face(model, runtimes=("keras", "coreml"), repeats=3)
    assert isinstance(single["keras"], float) and single["keras"] > 0
    assert single["coreml"].startswith("unavailable:")  # reported, not fatal
    calls = []

    class Counted(Ensemble):
        def predict_probs(self, images, **kw):
            calls.append(len(images))
            return super().predict_probs(images, **kw)

    ens = Counted([model, model], tta="flip")
    timed = latency_per_face(ens, runtimes=("keras", "onnx"), repeats=3)
    assert isinstance(timed["keras"], float) and timed["keras"] > 0
    assert calls == [1] * 4  # one face per call: a warm-up and the 3 timed runs
    assert "Keras only" in timed["onnx"]
