"""Train twins: test images with a pixel-identical copy in train, and the score with and without them."""
from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from fer_core.data.synthetic import make_synthetic
from fer_core.evaluation.leakage import format_leakage, leakage_figures, train_twins, twin_mask


def _with_twins(ds, k: int):
    """``ds`` with its first ``k`` test images replaced by copies of train images (and their labels)."""
    images, labels = ds.images.copy(), ds.labels.copy()
    train, test = np.flatnonzero(ds.splits == "train"), np.flatnonzero(ds.splits == "test")
    images[test[:k]] = images[train[:k]]
    labels[test[:k]] = labels[train[:k]]
    return replace(ds, images=images, labels=labels), test[:k]


def test_twin_mask_is_exact_pixel_identity():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    near = ref[1].copy()
    near[0, 0] ^= 1  # one grey level off: not a twin
    images = np.stack([ref[3], near, ref[0], rng.integers(0, 256, (8, 8), dtype=np.uint8)])
    assert twin_mask(images, ref).tolist() == [True, False, True, False]
    # a different shape with the same bytes is not a twin
    assert not twin_mask(ref[:1].reshape(1, 4, 16), ref).any()


def test_train_twins_finds_the_copied_images():
    ds, copied = _with_twins(make_synthetic(200, seed=1), 6)
    twins = train_twins(ds, "test")
    test_index = np.flatnonzero(ds.splits == "test")
    assert twins.shape == (len(test_index),)
    assert set(test_index[twins]) == set(copied)
    assert train_twins(ds, "train") is None  # the train split against itself says nothing
    assert train_twins(ds.split("test"), "test") is None  # no train split to compare with


def test_leakage_figures_split_the_accuracy():
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 1, 0, 3, 0, 0])
    twins = np.array([True, True, False, False, False, False])
    fig = leakage_figures(y_true, y_pred, twins)
    assert fig == {"n_twins": 2, "accuracy_twins": 1.0, "n_rest": 4, "accuracy_rest": 0.25}
    assert "2 image(s)" in format_leakage(fig) and "25.0%" in format_leakage(fig)
    none = leakage_figures(y_true, y_pred, np.zeros(6, bool))
    assert none["accuracy_twins"] is None and "no image" in format_leakage(none)
    with pytest.raises(ValueError, match="differ in length"):
        leakage_figures(y_true, y_pred, twins[:3])


@pytest.fixture(scope="module")
def small_model():
    import keras

    from fer_core.models import create_model

    keras.utils.set_random_seed(0)
    return create_model("baseline_cnn", input_shape=(48, 48, 1), num_classes=7)


def test_card_figures_carry_the_train_twins(small_model, tmp_path):
    from fer_core.evaluation import evaluate_model
    from fer_core.modelcard import CARD_MD, card_figures, write_card

    ds, copied = _with_twins(make_synthetic(200, seed=2), 5)
    fig = card_figures(small_model, ds, "test", n_bootstrap=0)
    pred = np.asarray(evaluate_model(small_model, ds, "test", n_bootstrap=0).y_pred)
    test = ds.split("test")
    twins = np.isin(np.flatnonzero(ds.splits == "test"), copied)
    right = pred == test.labels
    assert fig["train_twins"] == {"n_twins": 5, "accuracy_twins": pytest.approx(right[twins].mean()),
                                  "n_rest": len(test) - 5, "accuracy_rest": pytest.approx(right[~twins].mean())}
    json.dumps(fig)
    write_card(tmp_path, {"id": "t", "figures": fig})
    assert "5 image(s) have a pixel-identical twin in the train split" in (tmp_path / CARD_MD).read_text()
    assert card_figures(small_model, ds.split("test"), "test", n_bootstrap=0)["train_twins"] is None


def _write_folders(root, ds) -> None:
    for i, (im, label, split) in enumerate(zip(ds.images, ds.labels, ds.splits)):
        if split == "val":
            continue
        folder = root / split / ds.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(folder / f"{i}.png"), np.asarray(im))


@pytest.mark.slow
def test_cli_evaluate_reports_the_train_twins(small_model, tmp_path, capsys):
    from fer_core.cli import main

    ds, _ = _with_twins(make_synthetic(140, seed=4), 4)
    _write_folders(tmp_path / "data", ds)
    small_model.save(tmp_path / "m.keras")
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tmp_path / "m.keras"), "--data", str(tmp_path / "data"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    twins = report["train_twins"]
    assert twins["n_twins"] == 4 and twins["n_twins"] + twins["n_rest"] == report["n"]
    assert "4 image(s) have a pixel-identical twin in the train split" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "m.keras"), "--data", str(tmp_path / "data"), "--split", "all",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["train_twins"] is None
