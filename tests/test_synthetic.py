"""The embedded synthetic dataset: shape, determinism, balance, learnability, options."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core import CLASSES
from fer_core.data import load_dataset
from fer_core.data.synthetic import feature_boxes, make_synthetic
from fer_core.errors import ConfigError


def test_canonical_form_and_labelling():
    ds = make_synthetic(300, seed=1)
    assert ds.images.shape == (300, 48, 48) and ds.images.dtype == np.uint8
    assert ds.classes == CLASSES and ds.synthetic and ds.name == "synthetic"
    assert "synthetic" in ds.display_name
    assert ds.sources[7] == "synthetic#seed=1#i=7"
    assert set(ds.splits) == {"train", "val", "test"}
    # Every class is present in every split, even the rare one.
    assert (ds.counts()[["train", "val", "test"]] > 0).all().all()


def test_deterministic_for_a_seed():
    a, b, c = make_synthetic(60, seed=2), make_synthetic(60, seed=2), make_synthetic(60, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert (a.images != c.images).any()


def test_balance():
    fer = make_synthetic(2000, seed=0).counts()["total"]
    assert fer["happy"] > 10 * fer["disgust"]  # FER2013-like imbalance
    assert fer["disgust"] >= 3
    uniform = make_synthetic(700, seed=0, balance="uniform").counts()["total"]
    assert (uniform == 100).all()
    only = make_synthetic(100, seed=0, balance={"happy": 1, "sad": 1}).counts()["total"]
    assert only["happy"] == only["sad"] == 50 and only.drop(["happy", "sad"]).sum() == 0


def test_rgb_and_size():
    ds = make_synthetic(30, seed=0, rgb=True, size=64)
    assert ds.images.shape == (30, 64, 64, 3)
    assert (ds.images[..., 0] != ds.images[..., 2]).any()  # real colour, not repeated grey


def test_mouth_only_classes_differ_only_in_the_mouth():
    ds = make_synthetic(1400, seed=4, vary=("mouth",), balance="uniform", noise=0.0)
    mx0, my0, mx1, my1 = feature_boxes(48)["mouth"]
    ux0, uy0, ux1, uy1 = feature_boxes(48)["upper"]
    img = ds.images.astype(float)
    upper = img[:, uy0:uy1, ux0:ux1].mean(axis=(1, 2))
    mouth = img[:, my0:my1, mx0:mx1]
    happy, sad = ds.labels == CLASSES.index("happy"), ds.labels == CLASSES.index("sad")
    # Upper face: class means within noise of each other; mouth region: clearly different.
    spread = upper.std() / np.sqrt(happy.sum())
    assert abs(upper[happy].mean() - upper[sad].mean()) < 4 * spread
    diff = np.abs(mouth[happy].mean(0) - mouth[sad].mean(0)).max()
    assert diff > 10


def test_learnable_well_above_chance():
    """HOG features + logistic regression: a weak learner must already beat chance by far."""
    import cv2
    from sklearn.linear_model import LogisticRegression

    ds = make_synthetic(1400, seed=5, balance="uniform")
    tr, te = ds.split("train"), ds.split("test")
    hog = cv2.HOGDescriptor((48, 48), (16, 16), (8, 8), (8, 8), 9)
    feats = lambda d: np.stack([hog.compute(im).ravel() for im in d.images])  # noqa: E731
    clf = LogisticRegression(max_iter=500).fit(feats(tr), tr.labels)
    assert clf.score(feats(te), te.labels) > 3.0 / 7  # chance is 1/7


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n": 5}, "n"),
        ({"balance": {"joy": 1.0}}, "joy"),
        ({"vary": ("nose",)}, "nose"),
        ({"split_fractions": (0.5, 0.1, 0.1)}, "sum"),
        ({"size": 16}, "size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments(kw, match):
    with pytest.raises(ConfigError, match=match):
        make_synthetic(**{"n": 50, **kw})


def test_load_dataset_inline_options():
    ds = load_dataset("synthetic:n=70,seed=9")
    assert len(ds) == 70 and ds.sources[0] == "synthetic#seed=9#i=0"
