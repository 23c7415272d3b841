"""Evaluation: metrics against scikit-learn and known values, prediction with TTA, ensembles, cross-dataset."""
from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

from fer_core import CLASSES
from fer_core.data import FERDataset, resize_batch, to_grey, to_rgb
from fer_core.errors import ConfigError, DataError
from fer_core.evaluation import (Ensemble, align_classes, align_labels, augment, confused_pairs, evaluate_model,
                                 evaluate_predictions, evaluate_probs, expected_calibration_error, load_ensemble,
                                 mcnemar, most_confident_mistakes, paired_bootstrap, per_image, predict_probs,
                                 save_ensemble, tta_views, TTA_MODES, apply_temperature, fit_temperature,
                                 is_ensemble, member_views, parse_tta, predict_views, SPREAD_PAIRS)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fake_predictions(n: int = 300, C: int = 7, signal: float = 1.5, seed: int = 0):
    """Labels and softmax probabilities that favour the true class (no ties)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    z = rng.normal(size=(n, C))
    z[np.arange(n), y] += signal
    return y, softmax(z)


def two_class(scores, labels):
    """probs (n, 2) whose class-1 column is ``scores``."""
    s = np.asarray(scores, float)
    return np.asarray(labels), np.column_stack([1 - s, s])


# --- metrics against scikit-learn ------------------------------------------------------------

def test_metrics_match_scikit_learn():
    y, P = fake_predictions()
    pred = P.argmax(1)
    r = evaluate_probs(y, P, CLASSES, n_bootstrap=0)
    assert r.n == len(y) and r.classes == CLASSES
    assert r.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        p, rc, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        assert getattr(r, f"{avg}_precision") == pytest.approx(p)
        assert getattr(r, f"{avg}_recall") == pytest.approx(rc)
        assert getattr(r, f"{avg}_f1") == pytest.approx(f)
    p, rc, f, s = skm.precision_recall_fscore_support(y, pred, labels=range(7), zero_division=0)
    np.testing.assert_allclose(r.per_class[["precision", "recall", "f1"]].to_numpy(), np.c_[p, rc, f])
    np.testing.assert_array_equal(r.per_class["support"], s)
    np.testing.assert_array_equal(r.per_class["predicted"], np.bincount(pred, minlength=7))
    cm = skm.confusion_matrix(y, pred, labels=range(7))
    np.testing.assert_array_equal(r.confusion.to_numpy(), cm)
    assert list(r.confusion.index) == list(CLASSES) == list(r.confusion.columns)
    np.testing.assert_allclose(r.confusion_normalized.to_numpy(), cm / cm.sum(1, keepdims=True))
    assert r.auc["macro"] == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovr", average="macro"))
    onehot = np.eye(7)[y]
    assert r.auc["micro"] == pytest.approx(skm.roc_auc_score(onehot, P, average="micro"))
    np.testing.assert_allclose(r.per_class["auc"], skm.roc_auc_score(onehot, P, average=None))
    np.testing.assert_allclose(r.per_class["average_precision"], skm.average_precision_score(onehot, P, average=None))
    assert r.average_precision["macro"] == pytest.approx(skm.average_precision_score(onehot, P, average="macro"))
    assert r.average_precision["micro"] == pytest.approx(skm.average_precision_score(onehot, P, average="micro"))
    assert r.top2_accuracy == pytest.approx(skm.top_k_accuracy_score(y, P, k=2, labels=range(7)))
    assert r.top2_accuracy > r.accuracy
    assert r.log_loss == pytest.approx(skm.log_loss(y, P, labels=range(7)))
    assert 0.55 < r.accuracy < 0.8  # the fixture is a real, imperfect classifier


def test_roc_auc_known_values():
    y, P = two_class([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])  # the textbook case: AUC 3/4
    r = evaluate_probs(y, P, ["neg", "pos"], n_bootstrap=0)
    assert r.auc["pos"] == pytest.approx(0.75) and r.auc["neg"] == pytest.approx(0.75)
    assert r.average_precision["pos"] == pytest.approx((1 + 2 / 3) / 2)  # hits at ranks 1 and 3
    np.testing.assert_allclose(r.roc["pos"]["fpr"][[0, -1]], [0, 1])
    np.testing.assert_allclose(r.roc["pos"]["tpr"][[0, -1]], [0, 1])

    y = np.repeat(np.arange(3), 4)
    perfect = np.full((12, 3), 0.1)
    perfect[np.arange(12), y] = 0.8
    r = evaluate_probs(y, perfect, n_bootstrap=0)
    assert r.accuracy == 1 and r.auc["macro"] == 1 and r.auc["micro"] == 1 and r.average_precision["macro"] == 1
    assert r.ece == pytest.approx(0.2)  # always right with confidence 0.8

    y, P = two_class([0.9, 0.8, 0.3, 0.1], [0, 0, 1, 1])  # scores reversed: every ranking wrong
    r = evaluate_probs(y, P, n_bootstrap=0)
    assert r.auc["0"] == 0 and r.auc["1"] == 0 and r.auc["macro"] == 0 and r.accuracy == 0


def test_top2_on_a_hand_made_case():
    P = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    r = evaluate_probs([0, 1, 2, 0], P, n_bootstrap=0)
    assert r.accuracy == pytest.approx(0.25) and r.top2_accuracy == pytest.approx(0.5)


def test_ece_on_a_constructed_case():
    # 10 images at confidence 0.9 with 6 right (gap 0.3), 10 at 0.55 with 5 right (gap 0.05)
    y = np.array([1] * 6 + [0] * 4 + [1] * 5 + [0] * 5)
    P = np.array([[0.1, 0.9]] * 10 + [[0.45, 0.55]] * 10)
    r = evaluate_probs(y, P, n_bootstrap=0)
    assert r.ece == pytest.approx(0.5 * 0.3 + 0.5 * 0.05)
    assert r.mce == pytest.approx(0.3)
    assert expected_calibration_error(y, P) == pytest.approx(r.ece)
    rel = r.reliability
    assert len(rel) == 15 and rel["count"].sum() == 20
    assert set(rel.loc[rel["count"] > 0].index) == {8, 13}  # (0.533, 0.6] and (0.867, 0.933]
    assert rel.loc[13, "confidence"] == pytest.approx(0.9) and rel.loc[13, "accuracy"] == pytest.approx(0.6)
    assert rel.loc[8, "accuracy"] == pytest.approx(0.5)
    assert rel["confidence"].isna().sum() == 13  # empty bins have no confidence
    # perfectly calibrated: confidence 0.75 and 3 of 4 right
    assert expected_calibration_error([1, 1, 1, 0], [[0.25, 0.75]] * 4) == pytest.approx(0.0)


def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_images():
    small = evaluate_probs(*fake_predictions(150, seed=1), n_bootstrap=500, seed=0)
    big = evaluate_probs(*fake_predictions(3000, seed=1), n_bootstrap=500, seed=0)
    for r in (small, big):
        for key, value in (("accuracy", r.accuracy), ("macro_f1", r.macro_f1)):
            lo, hi = r.ci[key]
            assert lo <= value <= hi and lo < hi
    for key in ("accuracy", "macro_f1"):  # 20x the images: about 1/sqrt(20) of the width
        assert big.ci[key][1] - big.ci[key][0] < 0.5 * (small.ci[key][1] - small.ci[key][0])
    again = evaluate_probs(*fake_predictions(150, seed=1), n_bootstrap=500, seed=0)
    assert again.ci == small.ci  # seeded
    none = evaluate_probs(*fake_predictions(50), n_bootstrap=0)
    assert all(math.isnan(v) for v in none.ci["accuracy"])


def test_paired_bootstrap_detects_a_better_model_and_not_a_copy():
    y, good = fake_predictions(400, signal=3.0, seed=2)
    _, weak = fake_predictions(400, signal=0.3, seed=3)
    weak = weak[:, np.random.default_rng(4).permutation(7)]  # unrelated to y
    res = paired_bootstrap(y, good, weak, n=500)
    assert res["a"] > res["b"] and res["diff"] == pytest.approx(res["a"] - res["b"])
    assert res["p_a_better"] > 0.99 and res["ci_low"] > 0
    assert res["mcnemar_p_exact"] < 1e-6 and res["mcnemar_p_chi2"] < 1e-6
    rev = paired_bootstrap(y, weak, good, metric="macro_f1", n=500)
    assert rev["p_a_better"] < 0.01 and rev["ci_high"] < 0
    same = paired_bootstrap(y, good, good.copy(), n=300)
    assert same["diff"] == 0 and same["p_a_better"] == 0 and same["ci_low"] == same["ci_high"] == 0
    assert same["mcnemar_p_exact"] == 1 and same["a_only_correct"] == same["b_only_correct"] == 0
    json.dumps(res)
    with pytest.raises(ConfigError, match="metric must be one of"):
        paired_bootstrap(y, good, weak, metric="auc")
    with pytest.raises(DataError, match="same shape"):
        paired_bootstrap(y, good, np.full((400, 3), 1 / 3))


def test_mcnemar_on_a_known_table():
    # both right 20, only A right 10 (b), only B right 2 (c), both wrong 8
    a = np.array([1] * 20 + [1] * 10 + [0] * 2 + [0] * 8, bool)
    b = np.array([1] * 20 + [0] * 10 + [1] * 2 + [0] * 8, bool)
    res = mcnemar(a, b)
    assert (res["both_correct"], res["a_only_correct"], res["b_only_correct"], res["both_wrong"]) == (20, 10, 2, 8)
    assert res["mcnemar_p_exact"] == pytest.approx(2 * (1 + 12 + 66) / 2 ** 12)  # 2 P(X <= 2), X ~ B(12, 1/2)
    assert res["mcnemar_chi2"] == pytest.approx((10 - 2 - 1) ** 2 / 12)
    assert res["mcnemar_p_chi2"] == pytest.approx(0.04330, abs=1e-4)
    assert mcnemar(b, a)["mcnemar_p_exact"] == pytest.approx(res["mcnemar_p_exact"])


def test_absent_classes_do_not_crash_and_follow_scikit_learn():
    # class 2 has no image and is never predicted; class 3 has no image but is predicted once
    y = np.array([0, 0, 1, 1, 4, 4, 0, 1])
    pred = np.array([0, 1, 1, 1, 4, 3, 0, 0])
    P = np.full((8, 5), 0.1)
    P[np.arange(8), pred] = 0.6
    r = evaluate_probs(y, P, list("abcde"), n_bootstrap=200)
    pc = r.per_class
    assert pc.loc["c", "support"] == 0 and pc.loc["c", "predicted"] == 0
    assert pc.loc[["c"], ["precision", "recall", "f1", "auc", "average_precision"]].isna().all(axis=None)
    assert pc.loc["d", "support"] == 0 and pc.loc["d", "precision"] == 0 and math.isnan(pc.loc["d", "auc"])
    assert r.macro_f1 == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert r.macro_f1 == pytest.approx(pc["f1"].mean())  # NaN rows left out, predicted-absent row counts
    assert r.weighted_f1 == pytest.approx(skm.f1_score(y, pred, average="weighted", zero_division=0))
    present = [0, 1, 4]
    assert r.auc["macro"] == pytest.approx(np.mean([skm.roc_auc_score(y == k, P[:, k]) for k in present]))
    assert r.confusion_normalized.loc["c"].isna().all()
    d = r.to_dict()
    json.dumps(d, allow_nan=False)  # NaN became None
    assert d["per_class"]["c"]["auc"] is None and d["roc"]["c"]["fpr"] == []
    assert "c" in r.format_text()
    assert r.ci["macro_f1"][0] <= r.macro_f1 <= r.ci["macro_f1"][1]


def test_report_views_and_json():
    y, P = fake_predictions(2000, seed=5)
    src = np.array([f"img{i}.png" for i in range(2000)])
    r = evaluate_probs(y, P, CLASSES, sources=src, n_bootstrap=100, meta={"dataset": "fake", "split": "test"})
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    for key, curve in d["roc"].items():
        assert 2 <= len(curve["fpr"]) <= 200 and len(curve["fpr"]) == len(curve["tpr"])
        assert curve["fpr"][0] == 0 and curve["fpr"][-1] == 1 and curve["tpr"][-1] == 1
    assert len(r.roc["micro"]["fpr"]) > 200  # the report keeps the full curves
    for curve in d["pr"].values():
        assert len(curve["precision"]) <= 200
    assert d["accuracy"] == r.accuracy and d["meta"]["dataset"] == "fake"
    assert set(r.summary()) >= {"accuracy", "accuracy_ci_low", "top2_accuracy", "macro_f1", "auc_macro", "ece"}
    text = r.format_text()
    assert "fake" in text and "accuracy" in text and "neutral" in text
    # per image views
    df = r.per_image()
    assert list(df.columns) == ["source", "true", "pred", "confidence", "correct", "p_true"]
    assert df["correct"].mean() == pytest.approx(r.accuracy) and df["source"].iloc[3] == "img3.png"
    assert df["true"].iloc[0] == CLASSES[y[0]]
    worst = most_confident_mistakes(df, 5)
    assert len(worst) == 5 and not worst["correct"].any()
    assert worst["confidence"].is_monotonic_decreasing
    assert worst["confidence"].iloc[0] == df.loc[~df["correct"], "confidence"].max()
    pairs = confused_pairs(r.confusion, 3)
    off = r.confusion.to_numpy().copy()
    np.fill_diagonal(off, 0)
    assert len(pairs) == 3 and pairs["count"].iloc[0] == off.max()
    i, j = np.unravel_index(off.argmax(), off.shape)
    assert pairs["rate"].iloc[0] == pytest.approx(off[i, j] / r.confusion.to_numpy()[i].sum())
    assert r.confused_pairs(3).equals(pairs)
    # a run's predictions.npz scores the same
    again = evaluate_predictions({"probs": P.astype(np.float32), "labels": y, "classes": np.array(CLASSES),
                                  "sources": src, "split": np.array("test")}, n_bootstrap=0)
    assert again.accuracy == r.accuracy and again.meta["split"] == "test"
    clone = pickle.loads(pickle.dumps(r))  # st.cache_data pickles what it caches
    assert clone.to_dict() == d


def test_per_image_hand_case():
    df = per_image([0, 1], [[0.7, 0.3], [0.9, 0.1]], ["x", "y"], ["a.png", "b.png"])
    assert df.to_dict("list") == {"source": ["a.png", "b.png"], "true": ["x", "y"], "pred": ["x", "x"],
                                  "confidence": [0.7, 0.9], "correct": [True, False], "p_true": [0.7, 0.1]}


@pytest.mark.parametrize("y, probs, classes, match", [
    ([0, 1], [0.5, 0.5], None, r"shape \(n_samples, n_classes\).*predicted labels"),
    ([0, 1, 0], [[0.5, 0.5]] * 2, None, "y_true has 3 labels but probs has 2 rows"),
    ([0, 2], [[0.5, 0.5]] * 2, None, r"values must lie in 0..1 .*got values in 0..2"),
    ([0, -1], [[0.5, 0.5]] * 2, None, r"must lie in 0..1"),
    ([0, 1], [[2.0, 1.0]] * 2, None, "must lie in \\[0, 1\\].*softmax"),
    ([0, 1], [[0.5, 0.4]] * 2, None, "row 0 sums to 0.9.*softmax"),
    ([0, 1], [[np.nan, 1.0]] * 2, None, "NaN"),
    ([0, 1], [[0.5, 0.5]] * 2, ["a", "b", "c"], "3 class names for 2 probability columns"),
    ([0, 1], [[0.5, 0.5]] * 2, ["a", "a"], "unique"),
    (["a", "b"], [[0.5, 0.5]] * 2, None, "integer class indices"),
    ([0.5, 1], [[0.5, 0.5]] * 2, None, "non-integer"),
    ([], np.zeros((0, 2)), None, "0 samples"),
    ([0, 0], [[1.0], [1.0]], None, "at least 2 classes"),
    ([0, 1], [[0.5, 0.5]] * 2, ["macro", "b"], "reserved"),
])
def test_validation_errors_say_what_and_how(y, probs, classes, match):
    with pytest.raises(DataError, match=match):
        evaluate_probs(y, probs, classes)


def test_option_errors():
    y, P = fake_predictions(20)
    with pytest.raises(ConfigError, match="n_bootstrap must be an int >= 0, got -1"):
        evaluate_probs(y, P, n_bootstrap=-1)
    with pytest.raises(DataError, match=r"sources must have shape \(20,\)"):
        evaluate_probs(y, P, sources=["a"])


# --- cross-dataset ---------------------------------------------------------------------------

def test_align_classes_reports_unpredictable():
    mapping, missing = align_classes(CLASSES, CLASSES + ("contempt",))
    np.testing.assert_array_equal(mapping, list(range(7)) + [-1])
    assert missing == ("contempt",)
    mapping, missing = align_classes(CLASSES, ["Happiness", "anger", "contempt", "neutral"])
    np.testing.assert_array_equal(mapping, [3, 0, -1, 6])
    y, keep, counts = align_labels([0, 2, 2, 3, 1, 2], ["Happiness", "anger", "contempt", "neutral"], CLASSES)
    np.testing.assert_array_equal(y, [3, 6, 0])
    np.testing.assert_array_equal(keep, [True, False, False, True, True, False])
    assert counts == {"contempt": 3}
    with pytest.raises(DataError, match="more than once"):
        align_classes(["happy", "happiness"], CLASSES)


class BrightnessModel:
    """A numpy stand-in for a 7-class Keras model: the class is the mean brightness band."""

    input_shape = (None, 48, 48, 1)
    output_shape = (None, 7)
    name = "brightness"

    def __init__(self):
        self.calls = 0

    def predict_on_batch(self, x):
        self.calls += 1
        band = np.clip((x.mean(axis=(1, 2, 3)) / 256 * 7).astype(int), 0, 6)
        out = np.full((len(x), 7), 0.04, np.float32)
        out[np.arange(len(x)), band] = 0.76
        return out


def face_dataset(classes, labels, splits=None, size=48):
    """Flat images whose brightness encodes the label's canonical class (band CLASSES.index of 7)."""
    labels = np.asarray(labels)
    band = [CLASSES.index(c) if c in CLASSES else 0 for c in classes]
    level = np.array([int((band[k] + 0.5) * 256 / 7) for k in labels], np.uint8)
    images = np.broadcast_to(level[:, None, None], (len(labels), size, size)).copy()
    return FERDataset(images=images, labels=labels, classes=tuple(classes),
                      splits=splits if splits is not None else ["test"] * len(labels),
                      sources=[f"f{i}.png" for i in range(len(labels))], name="toy", synthetic=True)


def test_evaluate_model_across_datasets():
    model = BrightnessModel()
    # a dataset with contempt (label 7): its images are counted, not scored
    ds = face_dataset(CLASSES + ("contempt",), [0, 1, 2, 3, 4, 5, 6, 7, 7, 3], splits=["test"] * 9 + ["train"])
    r = evaluate_model(model, ds, n_bootstrap=50)
    assert r.unpredictable == {"contempt": 2} and r.n_unpredictable == 2
    assert r.n == 7 and r.accuracy == 1.0 and r.classes == CLASSES
    assert list(r.sources) == [f"f{i}.png" for i in range(7)]
    assert r.meta["dataset"] == "toy (synthetic)" and r.meta["split"] == "test" and r.meta["tta"] == "none"
    assert "contempt 2" in r.format_text() and r.to_dict()["unpredictable"] == {"contempt": 2}
    # a dataset lacking model classes: predictions into them are errors
    small = face_dataset(["happy", "sad"], [0, 0, 1, 1])
    small.images[1] = small.images[0] // 3  # predicted as a darker class the dataset lacks
    r = evaluate_model(model, small, classes=CLASSES, n_bootstrap=0)
    assert r.n == 4 and r.unpredictable == {} and r.accuracy == pytest.approx(0.75)
    assert r.per_class.loc["disgust", "support"] == 0 and math.isnan(r.per_class.loc["disgust", "auc"])
    assert r.per_class.loc["happy", "support"] == 2 and r.per_class.loc["happy", "recall"] == 0.5
    assert r.macro_f1 < 1
    with pytest.raises(DataError, match="no images in the 'val' split"):
        evaluate_model(model, ds, split="val")
    only_contempt = face_dataset(["contempt"], [0, 0])
    with pytest.raises(DataError, match="has a class the model can predict"):
        evaluate_model(model, only_contempt, classes=CLASSES)
    with pytest.raises(ConfigError, match="3 class names"):
        evaluate_model(model, ds, classes=["a", "b", "c"])


# --- prediction with Keras -------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_models():
    """Two tiny softmax models: grey 48x48 and RGB 40x40 (random but fixed weights)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)

    def tiny(shape, name):
        inputs = keras.Input(shape=shape)
        x = layers.Rescaling(1 / 255)(inputs)
        x = layers.Flatten()(x)
        return keras.Model(inputs, layers.Dense(7, activation="softmax")(x), name=name)

    return tiny((48, 48, 1), "grey48"), tiny((40, 40, 3), "rgb40")


def direct(model, x):
    """model(x) on float32 pixels, the reference for predict_probs."""
    import keras

    return keras.ops.convert_to_numpy(model(np.asarray(x, np.float32)))


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 48, 48), dtype=np.uint8)


def test_predict_probs_matches_the_model(keras_models, faces):
    grey, rgb = keras_models
    seen = []
    probs = predict_probs(grey, faces, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert probs.dtype == np.float32 and probs.shape == (7, 7)
    np.testing.assert_allclose(probs, direct(grey, faces[..., None]), atol=1e-6)
    assert seen == [(3, 7), (6, 7), (7, 7)]
    # RGB in, grey model: converted to grey; bigger images are resized
    colour = np.stack([faces, faces[:, ::-1], faces.T.transpose(2, 0, 1)], axis=-1)
    np.testing.assert_allclose(predict_probs(grey, colour), direct(grey, to_grey(colour)[..., None]), atol=1e-6)
    big = resize_batch(faces, 64)
    np.testing.assert_allclose(predict_probs(grey, big), direct(grey, resize_batch(big, 48)[..., None]), atol=1e-6)
    # grey in, RGB model of another size
    np.testing.assert_allclose(predict_probs(rgb, faces), direct(rgb, to_rgb(resize_batch(faces, 40))), atol=1e-6)
    # (n, h, w, 1) and float pixels are accepted
    np.testing.assert_allclose(predict_probs(grey, faces[..., None].astype(np.float32)), probs, atol=1e-6)
    assert predict_probs(grey, faces[:0]).shape == (0, 7)


def test_predict_probs_errors(keras_models, faces):
    grey, _ = keras_models
    with pytest.raises(DataError, match=r"For one image pass images\[None\]"):
        predict_probs(grey, faces[0])
    with pytest.raises(DataError, match="multiply by 255"):
        predict_probs(grey, faces / 255.0 * 2 - 1)
    with pytest.raises(ConfigError, match="Unknown tta mode.*'mirror'"):
        predict_probs(grey, faces, tta="mirror")
    with pytest.raises(ConfigError, match="batch_size must be an int >= 1"):
        predict_probs(grey, faces, batch_size=0)
    with pytest.raises(ConfigError, match="Keras model"):
        predict_probs(object(), faces)


def test_tta_views_and_shift():
    assert tta_views("none") == ["identity"]
    assert tta_views("flip") == ["identity", "flip"]
    assert len(tta_views("shift")) == 5 and tta_views(["shift", "flip"]) == tta_views(["flip", "shift"])
    assert len(tta_views(["flip", "shift"])) == 6
    x = np.arange(16).reshape(1, 4, 4)
    np.testing.assert_array_equal(augment(x, "flip")[0, 0], [3, 2, 1, 0])
    down = augment(x, "shift(+2,+0)")[0]  # content moves down 2, the top row repeated
    np.testing.assert_array_equal(down[:, 0], [0, 0, 0, 4])
    left = augment(x, "shift(+0,-2)")[0]  # content moves left 2, the right column repeated
    np.testing.assert_array_equal(left[0], [2, 3, 3, 3])


def test_tencrop_views():
    views = tta_views("tencrop")
    assert len(views) == 11 and views[0] == "identity" and len(set(views)) == 11
    assert tta_views(["tencrop", "flip"]) == ["identity", "flip"] + views[1:]
    x = np.zeros((2, 48, 48, 1), np.float32)
    x[:, :2, :2] = 255  # a bright top-left corner: only crops that keep the top-left hold it
    x[1, 46:, 46:] = 100
    for view in views[1:]:
        out = augment(x, view)
        assert out.shape == x.shape and out.dtype == x.dtype, view
    centre, top_left = augment(x, "crop(centre)"), augment(x, "crop(top-left)")
    assert centre.max() == 0  # the 44x44 centre crop starts at pixel 2: the 2x2 corner is gone
    assert top_left[0, 0, 0, 0] == 255 and top_left[0, :2, :2].mean() == 255  # kept and enlarged
    mirrored = augment(x, "crop(top-left,flip)")  # the mirror's top-left is the image's top-right
    assert mirrored.max() == 0
    np.testing.assert_array_equal(augment(x, "crop(bottom-right)")[1, -1, -1], [100])
    rgb = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3)).astype(np.float32)
    assert augment(rgb, "crop(bottom-left,flip)").shape == rgb.shape
    for bad in ("crop(middle)", "crop(centre,mirror)", "crop()"):
        with pytest.raises(ConfigError, match="Unknown TTA view"):
            augment(x, bad)


def test_tta_flip_and_shift_average_the_views(keras_models, faces):
    grey, _ = keras_models
    x = faces[..., None].astype(np.float32)
    plain = direct(grey, x)
    flipped = direct(grey, x[:, :, ::-1])
    tta = predict_probs(grey, faces, tta="flip", batch_size=4)
    np.testing.assert_allclose(tta, (plain + flipped) / 2, atol=1e-6)
    assert np.abs(tta - plain).max() > 1e-3  # the flip really changes the prediction
    both = predict_probs(grey, faces, tta=["flip", "shift"])
    views = [direct(grey, augment(x, v)) for v in tta_views(["flip", "shift"])]
    np.testing.assert_allclose(both, np.mean(views, axis=0), atol=1e-6)
    ten = predict_probs(grey, faces, tta="tencrop", batch_size=22)  # 2 faces x 11 views per call
    views = [direct(grey, augment(x, v)) for v in tta_views("tencrop")]
    np.testing.assert_allclose(ten, np.mean(views, axis=0), atol=1e-6)
    for v in ("flip", "crop(centre,flip)"):  # one view alone is that view, not the face as it is
        np.testing.assert_allclose(predict_views(grey, faces, [v]), direct(grey, augment(x, v)), atol=1e-6)


def test_ensemble_with_tta_equals_the_weighted_average_of_member_tta(keras_models, faces):
    grey, rgb = keras_models
    ens = Ensemble([(grey, 3.0), (rgb, 1.0)], name="pair", tta="flip")
    np.testing.assert_allclose(ens.weights, [0.75, 0.25])
    xg = faces[..., None].astype(np.float32)
    xr = to_rgb(resize_batch(faces, 40)).astype(np.float32)
    member_tta = [(direct(grey, xg) + direct(grey, xg[:, :, ::-1])) / 2,
                  (direct(rgb, xr) + direct(rgb, xr[:, :, ::-1])) / 2]
    expected = 0.75 * member_tta[0] + 0.25 * member_tta[1]
    np.testing.assert_allclose(ens.predict_probs(faces), expected, atol=1e-6)
    np.testing.assert_allclose(predict_probs(ens, faces), expected, atol=1e-6)  # same interface
    np.testing.assert_allclose(ens.predict_probs(faces, tta="none"),
                               0.75 * direct(grey, xg) + 0.25 * direct(rgb, xr), atol=1e-6)
    seen = []
    ens.predict_probs(faces, batch_size=4, progress=lambda d, t: seen.append((d, t)))
    # 2 views per face -> 2 faces per call of 4 -> 4 calls per member, counted in member-images
    assert seen == [(2, 14), (4, 14), (6, 14), (7, 14), (9, 14), (11, 14), (13, 14), (14, 14)]
    # equal weights by default; an ensemble evaluates like a model
    eq = Ensemble([grey, rgb], tta="none")
    np.testing.assert_allclose(eq.weights, [0.5, 0.5])
    ds = FERDataset(images=faces, labels=np.arange(7), classes=CLASSES, splits=["test"] * 7,
                    sources=[str(i) for i in range(7)], synthetic=True)
    r = evaluate_model(ens, ds, n_bootstrap=0)
    np.testing.assert_allclose(r.probs, expected, atol=1e-6)
    assert r.meta["tta"] == "flip" and r.meta["name"] == "pair"


def test_fused_ensemble_call_gives_the_members_own_probabilities(keras_models, faces):
    """Few faces go through all members in one compiled call; the result is the per-member path's."""
    import keras
    from keras import layers

    grey, _ = keras_models
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(48, 48, 1))
    x = layers.Conv2D(4, 3, activation="relu")(layers.Rescaling(1 / 255)(inputs))
    other = keras.Model(inputs, layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(x)))
    fused = Ensemble([(grey, 2.0), other], tta=["flip", "shift"], temperature=0.8)
    plain = Ensemble([(grey, 2.0), other], tta=["flip", "shift"], temperature=0.8, fuse=False)
    assert fused._fusable_shape() == (48, 48, 1) and plain._fusable_shape() is None
    for n in (1, 3):  # one face, and a few (shapes retrace once)
        got, want = fused.member_probs(faces[:n]), plain.member_probs(faces[:n])
        assert fused._fused is not None and plain._fused is None
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6)
        np.testing.assert_allclose(fused.predict_probs(faces[:n]), plain.predict_probs(faces[:n]), atol=1e-6)
    seen = []
    fused.predict_probs(faces[:2], progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 4)]
    # more views than one batch holds: the per-member path, same answer
    np.testing.assert_allclose(fused.predict_probs(faces, batch_size=8), plain.predict_probs(faces), atol=1e-6)
    # members of different input sizes, or a nested ensemble, are not fused
    _, rgb = keras_models
    assert Ensemble([grey, rgb])._fusable_shape() is None
    assert Ensemble([grey, plain])._fusable_shape() is None


def test_spread_gives_member_k_the_kth_mirror_pair_fused_or_not(keras_models, faces):
    """tta='spread': member k of an ensemble averages pair k mod 6 of SPREAD_PAIRS; a single model sees
    pair 0 (flip); it takes no other mode."""
    import keras
    from keras import layers

    assert SPREAD_PAIRS[0] == ("identity", "flip") and len(SPREAD_PAIRS) == 6
    assert {v for pair in SPREAD_PAIRS for v in pair} == set(tta_views(["flip", "tencrop"]))
    assert tta_views("spread") == ["identity", "flip"] and member_views("spread", 7) == list(SPREAD_PAIRS[1])
    assert member_views("tencrop", 3) == tta_views("tencrop")
    with pytest.raises(ConfigError, match="spread"):
        parse_tta(["spread", "flip"])
    assert parse_tta("tencrop+flip") == parse_tta(["flip", "tencrop"]) == ("flip", "tencrop")
    assert tta_views("flip+shift") == tta_views(["flip", "shift"]) and parse_tta("none") == ()
    with pytest.raises(ConfigError, match="spread"):
        parse_tta("spread+flip")
    with pytest.raises(ConfigError, match="blur"):
        parse_tta("flip+blur")
    grey, rgb = keras_models
    members = [grey]
    for seed in range(1, 7):  # seven grey members: the 7th wraps round to pair 0
        keras.utils.set_random_seed(seed)
        inputs = keras.Input(shape=(48, 48, 1))
        x = layers.Conv2D(4, 3, activation="relu")(layers.Rescaling(1 / 255)(inputs))
        members.append(keras.Model(inputs, layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(x))))
    x = faces[..., None].astype(np.float32)
    want = [np.mean([direct(m, augment(x, v)) for v in SPREAD_PAIRS[k % 6]], axis=0) for k, m in enumerate(members)]
    for fuse in (True, False):
        ens = Ensemble(members, tta="spread", fuse=fuse)
        for n in (1, len(faces)):  # a photo's few faces (fused when fuse=True) and a batch
            for got, w in zip(ens.member_probs(faces[:n], batch_size=64), want):
                np.testing.assert_allclose(got, w[:n], atol=1e-6)
        assert (ens._fused is not None) == fuse
    np.testing.assert_allclose(Ensemble(members, tta="spread").predict_probs(faces),
                               np.mean(want, axis=0), atol=1e-6)
    np.testing.assert_allclose(predict_probs(grey, faces, tta="spread"), predict_probs(grey, faces, tta="flip"))
    # members of other sizes (not fused): each still gets its pair, at its own input size
    mixed = Ensemble([grey, rgb], tta="spread")
    xr = to_rgb(resize_batch(faces, 40)).astype(np.float32)
    crop = np.mean([direct(rgb, augment(xr, v)) for v in SPREAD_PAIRS[1]], axis=0)
    np.testing.assert_allclose(mixed.member_probs(faces)[1], crop, atol=1e-6)
    # a wrapper offering predict_views (e.g. a cache) is asked for its own pair, not run fused or as a nested ensemble
    wrapped = [_Views(m) for m in members[:3]]
    ens = Ensemble(wrapped, tta="spread")
    assert ens._fusable_shape() is None
    for got, w in zip(ens.member_probs(faces), want):
        np.testing.assert_allclose(got, w, atol=1e-6)
    assert [w.seen for w in wrapped] == [[list(SPREAD_PAIRS[k])] for k in range(3)]


class _Views:
    """A member that computes its views itself (as a caching wrapper does) and records what it was asked."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def predict_views(self, images, views, *, batch_size=256, progress=None):
        self.seen.append(list(views))
        return predict_views(self.model, images, views, batch_size=batch_size, progress=progress)

    def predict_probs(self, images, *, batch_size=256, tta=None, progress=None):
        raise AssertionError("an Ensemble must ask a member with predict_views for its views")


def test_ensemble_errors(keras_models):
    grey, _ = keras_models
    with pytest.raises(ConfigError, match="non-empty list"):
        Ensemble([])
    with pytest.raises(ConfigError, match="not a model"):
        Ensemble([grey, "runs/x"])
    with pytest.raises(ConfigError, match="finite, >= 0 and not all 0"):
        Ensemble([(grey, -1.0)])
    with pytest.raises(ConfigError, match="Unknown tta"):
        Ensemble([grey], tta="rotate")
    with pytest.raises(ConfigError, match="disagree on the number of classes"):
        Ensemble([grey, BrightnessModel(), _ThreeClass()])


def test_is_ensemble_tells_ensembles_from_models(keras_models):
    grey, _ = keras_models
    assert is_ensemble(Ensemble([grey])) and is_ensemble(Ensemble([Ensemble([grey])]))
    assert not is_ensemble(grey) and not is_ensemble(BrightnessModel()) and not is_ensemble(None)


def test_fit_temperature_recovers_the_over_confidence_it_was_given():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(6000, 7))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(7, p=p) for p in true])  # labels drawn from the calibrated probabilities
    over = apply_temperature(true.astype(np.float32), 0.5)  # twice as sharp: over-confident
    t = fit_temperature(y, over)
    assert t == pytest.approx(2.0, rel=0.1)
    fixed = apply_temperature(over, t)
    assert expected_calibration_error(y, fixed) < 0.5 * expected_calibration_error(y, over)
    assert (fixed.argmax(1) == over.argmax(1)).all()  # confidences change, classes do not
    np.testing.assert_allclose(fixed.sum(1), 1, atol=1e-5)
    assert apply_temperature(over, 1.0) is over
    assert fit_temperature(y, true.astype(np.float32)) == pytest.approx(1.0, rel=0.1)


def test_ensemble_temperature_softens_saves_and_is_checked(faces, tmp_path):
    plain = Ensemble([BrightnessModel()], tta="none")
    warm = Ensemble([BrightnessModel()], tta="none", temperature=2.0)
    p, q = plain.predict_probs(faces), warm.predict_probs(faces)
    np.testing.assert_allclose(q, apply_temperature(p, 2.0), atol=1e-6)
    assert (q.max(1) < p.max(1)).all() and (q.argmax(1) == p.argmax(1)).all()
    assert "temperature=2" in repr(warm) and "temperature" not in repr(plain)
    path = save_ensemble(tmp_path / "t.json", ["run-a"], temperature=2.0)
    assert json.loads(path.read_text())["temperature"] == 2.0
    assert "temperature" not in json.loads(save_ensemble(tmp_path / "p.json", ["run-a"]).read_text())
    loaded = load_ensemble(path, resolve=lambda ref: BrightnessModel())
    assert loaded.temperature == 2.0 and json.loads(loaded.save(tmp_path / "c.json").read_text())["temperature"] == 2.0
    for bad in (0, -1.0, float("nan"), True, "2"):
        with pytest.raises(ConfigError, match="temperature must be a finite number > 0"):
            Ensemble([BrightnessModel()], temperature=bad)
    entry = json.loads(path.read_text())
    entry["temperature"] = "hot"
    (tmp_path / "hot.json").write_text(json.dumps(entry))
    with pytest.raises(DataError, match="hot.json: load_ensemble: temperature"):
        load_ensemble(tmp_path / "hot.json", resolve=lambda ref: BrightnessModel())


class _ThreeClass(BrightnessModel):
    output_shape = (None, 3)


def test_save_and_load_ensemble_round_trip(keras_models, faces, tmp_path, monkeypatch):
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    grey, rgb = keras_models
    store = RunStore()
    ids = []
    for name, model in (("grey", grey), ("rgb", rgb)):
        run = store.create({"name": name, "model": {"name": name}, "data": {"path": "synthetic"}})
        model.save(run.model_path)
        ids.append(run.id)
    path = save_ensemble(tmp_path / "ens" / "pair.json", ids, weights=[3, 1], tta=["shift", "flip"], name="pair")
    entry = json.loads(path.read_text())
    assert entry["name"] == "pair" and entry["tta"] == ["flip", "shift"]
    assert [m["weight"] for m in entry["members"]] == [0.75, 0.25]
    assert not list(path.parent.glob(".*tmp"))  # atomic write left nothing behind
    loaded = load_ensemble(path)
    assert loaded.name == "pair" and loaded.tta == ["flip", "shift"]
    assert loaded.refs == ids
    np.testing.assert_allclose(loaded.weights, [0.75, 0.25])
    in_memory = Ensemble([(grey, 3), (rgb, 1)], tta=["flip", "shift"])
    np.testing.assert_allclose(loaded.predict_probs(faces), in_memory.predict_probs(faces), atol=1e-5)
    # a custom resolver (e.g. run ids -> models already in memory)
    save_ensemble(tmp_path / "ids.json", ["run-a", "run-b"], name="by id")
    byid = load_ensemble(tmp_path / "ids.json", resolve={"run-a": grey, "run-b": rgb}.__getitem__)
    assert byid.members == [grey, rgb] and byid.tta == "none"
    assert json.loads(byid.save(tmp_path / "copy.json").read_text()) == json.loads((tmp_path / "ids.json").read_text())
    with pytest.raises(ConfigError, match="built from models in memory"):
        in_memory.save(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text('{"kind": "something else"}')
    with pytest.raises(DataError, match="not an ensemble file"):
        load_ensemble(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="2 weight"):
        save_ensemble(tmp_path / "w.json", ["a"], weights=[1, 2])


def test_load_ensemble_resolves_run_ids(keras_models, faces, tmp_path, monkeypatch):
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))  # a run store of its own
    grey, _ = keras_models
    store = RunStore()
    run = store.create({"name": "tiny", "model": {"name": "grey48"}, "data": {"path": "synthetic"}})
    grey.save(run.model_path)
    path = save_ensemble(tmp_path / "one.json", [run.id], name="solo")
    ens = load_ensemble(path)
    np.testing.assert_allclose(ens.predict_probs(faces), predict_probs(grey, faces), atol=1e-6)
    with pytest.raises(Exception, match="No run with id"):
        load_ensemble(save_ensemble(tmp_path / "missing.json", ["20990101-000000-nothing-0000"]))


def test_tta_modes_have_captions_and_the_cli_checks_them_without_importing_evaluation():
    from fer_core.evaluation.predict import TTA_HELP
    assert set(TTA_HELP) == set(TTA_MODES)  # every mode has its caption
    code = ("import sys; from fer_core.cli import build_parser; "
            "assert build_parser().parse_args(['predict', 'm.keras', 'p.jpg', '--tta', 'flip+tencrop']).tta "
            "== 'flip+tencrop'; print(sorted(m for m in sys.modules if m.startswith(('fer_core.evaluation', 'keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # fer_core.tta holds the modes: the CLI stays light to import


