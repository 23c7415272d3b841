"""The embedded synthetic FER dataset: shape, determinism, balance, splits, features, learnability."""
from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fer_core import CLASSES
from fer_core.data import SPLITS, FERDataset, load_dataset
from fer_core.data.synthetic import (
    FEATURES,
    FER2013_TRAIN_COUNTS,
    MOUTH_BOX,
    FaceParams,
    class_counts,
    feature_boxes,
    make_synthetic,
    render_face,
    sample_face_params,
)
from fer_core.errors import ConfigError

CHANCE = 1 / len(CLASSES)
HOLDOUT = (0.7, 0.0, 0.3)  # train/test only, for the quick linear probes


@pytest.fixture(scope="module")
def small() -> FERDataset:
    return make_synthetic(300, seed=3)


@pytest.fixture(scope="module")
def uniform_all() -> FERDataset:
    return make_synthetic(2000, seed=0, balance="uniform", split_fractions=HOLDOUT)


@pytest.fixture(scope="module")
def uniform_mouth() -> FERDataset:
    return make_synthetic(2000, seed=0, balance="uniform", vary=("mouth",), split_fractions=HOLDOUT)


def probe_accuracy(ds: FERDataset, box: tuple[int, int, int, int] | None = None) -> float:
    """Held-out accuracy of a linear classifier on raw pixels (24x24, or the pixels in ``box``)."""
    if box is None:
        x = np.stack([cv2.resize(im, (24, 24), interpolation=cv2.INTER_AREA) for im in ds.images])
    else:
        x0, y0, x1, y1 = box
        x = ds.images[:, y0:y1, x0:x1]
    x = x.reshape(len(ds), -1).astype(np.float32)
    train, test = ds.splits == "train", ds.splits == "test"
    clf = make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.0)).fit(x[train], ds.labels[train])
    return float(clf.score(x[test], ds.labels[test]))


# -- the dataset object -------------------------------------------------------------------
def test_shape_dtype_and_metadata(small):
    assert isinstance(small, FERDataset)
    assert small.images.shape == (300, 48, 48) and small.images.dtype == np.uint8
    assert small.labels.shape == (300,) and small.labels.dtype == np.int64
    assert small.classes == CLASSES
    assert small.name == "synthetic" and small.synthetic is True and small.root == ""
    assert "synthetic" in small.display_name and small.describe().startswith(small.display_name)
    assert set(small.splits) == set(SPLITS)
    assert list(small.sources) == [f"synthetic#seed=3#i={i}" for i in range(300)]
    # the images use the grey range, they are not blank or saturated
    assert 40 < small.images.mean() < 215 and small.images.std() > 30


def test_size_option():
    ds = make_synthetic(14, size=64, balance="uniform")
    assert ds.images.shape == (14, 64, 64)


def test_splits_follow_the_fractions_per_class():
    ds = make_synthetic(1400, balance="uniform", split_fractions=(0.6, 0.2, 0.2))
    table = ds.counts()
    assert (table["total"] == 200).all()
    assert (table["train"] == 120).all() and (table["val"] == 40).all() and (table["test"] == 40).all()


def test_labels_are_shuffled_not_sorted(small):
    assert np.any(np.diff(small.labels) < 0)


# -- determinism --------------------------------------------------------------------------
def test_same_seed_same_data_other_seed_other_data(small):
    again = make_synthetic(300, seed=3)
    np.testing.assert_array_equal(small.images, again.images)
    np.testing.assert_array_equal(small.labels, again.labels)
    np.testing.assert_array_equal(small.splits, again.splits)
    other = make_synthetic(300, seed=4)
    assert not np.array_equal(small.labels, other.labels)
    assert np.mean(small.images != other.images) > 0.5


def test_each_image_is_reproducible_from_its_source_id(small):
    for i in (0, 17, 299):
        rng = np.random.default_rng([3, i])
        params = sample_face_params(CLASSES[small.labels[i]], rng)
        np.testing.assert_array_equal(render_face(params, 48, rng), small.images[i])


# -- balance and splits -------------------------------------------------------------------
def test_fer2013_balance_matches_fer2013_proportions():
    total = sum(FER2013_TRAIN_COUNTS.values())
    counts = class_counts(total, "fer2013")
    assert counts.tolist() == [FER2013_TRAIN_COUNTS[c] for c in CLASSES]
    counts = class_counts(4000, "fer2013")
    assert counts.sum() == 4000
    expected = np.array([FER2013_TRAIN_COUNTS[c] for c in CLASSES]) / total * 4000
    assert np.all(np.abs(counts - expected) <= 1)
    assert counts[CLASSES.index("disgust")] == counts.min() < 0.02 * 4000  # rare, as in FER2013
    assert counts[CLASSES.index("happy")] == counts.max()


def test_uniform_and_mapping_balance():
    counts = class_counts(1003, "uniform")
    assert counts.sum() == 1003 and counts.max() - counts.min() <= 1
    ds = make_synthetic(80, balance={"happy": 3, "sad": 1})
    table = ds.counts()["total"]
    assert table["happy"] == 60 and table["sad"] == 20 and table.sum() == 80
    assert table.drop(["happy", "sad"]).eq(0).all()  # classes left out of the mapping get nothing


def test_dataset_counts_follow_class_counts(small):
    np.testing.assert_array_equal(np.bincount(small.labels, minlength=7), class_counts(300, "fer2013"))


@pytest.mark.parametrize("n, balance", [(300, "fer2013"), (21, "uniform"), (40, "fer2013")])
def test_every_class_in_every_split(n, balance):
    ds = make_synthetic(n, balance=balance, seed=1)
    table = ds.counts()
    assert list(table.columns[:3]) == list(SPLITS)
    assert (table[list(SPLITS)] >= 1).all().all(), table


def test_minimum_sizes_are_accepted():
    ds = make_synthetic(7)
    assert sorted(ds.labels.tolist()) == list(range(7))


# -- colour -------------------------------------------------------------------------------
def test_rgb_mode():
    ds = make_synthetic(28, balance="uniform", rgb=True, seed=5)
    assert ds.images.shape == (28, 48, 48, 3) and ds.images.dtype == np.uint8
    assert ds.channels == 3
    rgb = ds.images.astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 5  # really coloured, not grey in 3 channels
    grey = make_synthetic(28, balance="uniform", seed=5)
    np.testing.assert_array_equal(grey.labels, ds.labels)  # same people and labels, in colour


def test_rgb_skin_tones_vary():
    skins = [sample_face_params("neutral", np.random.default_rng(s), rgb=True).skin for s in range(200)]
    luma = np.array(skins) @ (0.299, 0.587, 0.114)
    assert luma.min() < 90 and luma.max() > 200  # dark to light skin
    assert all(r >= g >= b for r, g, b in skins)  # skin hues, not arbitrary colours


# -- which features carry the class -------------------------------------------------------
def _zero_pose(p: FaceParams) -> FaceParams:
    return replace(p, roll=0.0, yaw=0.0, scale=1.0, shift=(0.0, 0.0))


@pytest.mark.parametrize("feature", FEATURES)
def test_a_feature_changes_only_pixels_inside_its_box(feature):
    """Same person (same generator state), one feature varied: pixels differ only in its box."""
    x0, y0, x1, y1 = feature_boxes(48)[feature]
    inside = np.zeros((48, 48), bool)
    inside[y0:y1, x0:x1] = True
    changed = np.zeros((48, 48), bool)
    for s in range(60):
        ref = _zero_pose(sample_face_params("neutral", s, vary=(feature,), noise=0.0))
        for cls in CLASSES[:6]:
            p = _zero_pose(sample_face_params(cls, s, vary=(feature,), noise=0.0))
            diff = render_face(p) != render_face(ref)
            assert not diff[~inside].any(), f"{cls} ({feature}) changed pixels outside {feature_boxes(48)[feature]}"
            changed |= diff
    assert changed[inside].mean() > 0.3  # the box is not much larger than where the feature moves


@pytest.mark.parametrize("size", [32, 48, 96])
def test_feature_boxes_hold_at_the_extremes_of_every_parameter(size):
    """Every corner of a feature's parameter ranges (as the sampler clips them) stays in its box."""
    from fer_core.data.synthetic import _RANGE, FEATURE_PARAMS  # the sampler's clip ranges

    boxes = feature_boxes(size)
    for person in (dict(gaze=-0.9, eye_dx=-0.5, face_width=0.92, face_height=0.94),
                   dict(gaze=0.9, eye_dx=0.5, face_width=1.06, face_height=1.04)):
        base = FaceParams(skin=(250.0, 250.0, 250.0), background=(0.0, 0.0, 0.0), **person)
        ref = render_face(base, size)
        for feature, names in FEATURE_PARAMS.items():
            x0, y0, x1, y1 = boxes[feature]
            outside = np.ones((size, size), bool)
            outside[y0:y1, x0:x1] = False
            for values in itertools.product(*(_RANGE[name] for name in names)):
                img = render_face(replace(base, **dict(zip(names, values))), size)
                assert not (img != ref)[outside].any(), f"{feature} {dict(zip(names, values))} leaves {boxes[feature]}"


def test_feature_boxes_scale_with_size():
    b48, b96 = feature_boxes(48), feature_boxes(96)
    assert set(b48) >= {"mouth", "eyes", "brows"}
    assert MOUTH_BOX == b48["mouth"]
    for name, (x0, y0, x1, y1) in b48.items():
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
        assert all(abs(v96 - 2 * v) <= 2 for v, v96 in zip(b48[name], b96[name]))
    assert b48["mouth"][1] > b48["eyes"][3] - 1  # mouth below the eyes (at most 1 px overlap)


def test_mouth_only_classes_leave_the_upper_face_identical(uniform_mouth):
    """With pose, light and noise on: a linear probe finds no class in the upper face, only the mouth.

    (Per-pixel class means are too noisy a statistic under random pose; the exact check is
    ``test_a_feature_changes_only_pixels_inside_its_box``.)
    """
    boxes = feature_boxes(48)
    assert probe_accuracy(uniform_mouth, boxes["upper"]) < CHANCE + 0.05
    assert probe_accuracy(uniform_mouth, boxes["mouth"]) > CHANCE + 0.1


def test_no_varied_feature_means_no_signal():
    ds = make_synthetic(2000, seed=0, balance="uniform", vary=(), split_fractions=HOLDOUT)
    assert probe_accuracy(ds) < CHANCE + 0.08


def test_learnable_from_raw_pixels(uniform_all):
    # a linear classifier on raw pixels; chance is 1/7 = 0.14 (a small CNN reaches ~0.85-0.9)
    assert probe_accuracy(uniform_all) > 2 * CHANCE
    assert probe_accuracy(uniform_all, feature_boxes(48)["upper"]) > CHANCE + 0.05  # brows/eyes carry signal too


def test_learnable_from_hog_features():
    """HOG features + a linear classifier: a weak learner must already beat chance by far."""
    ds = make_synthetic(1400, seed=5, balance="uniform")
    tr, te = ds.split("train"), ds.split("test")
    hog = cv2.HOGDescriptor((48, 48), (16, 16), (8, 8), (8, 8), 9)
    feats = lambda d: np.stack([hog.compute(im).ravel() for im in d.images])  # noqa: E731
    clf = make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.0)).fit(feats(tr), tr.labels)
    assert clf.score(feats(te), te.labels) > 3 * CHANCE


# -- noise and rendering ------------------------------------------------------------------
def test_noise_scales_pixel_noise():
    def roughness(ds):  # mean absolute difference between horizontal neighbours
        return np.abs(np.diff(ds.images.astype(float), axis=2)).mean()
    quiet, normal, loud = (make_synthetic(70, noise=v, seed=2) for v in (0.0, 1.0, 3.0))
    np.testing.assert_array_equal(quiet.labels, loud.labels)
    assert roughness(quiet) < roughness(normal) < roughness(loud)


def test_render_face_defaults_and_options():
    img = render_face(FaceParams())
    assert img.shape == (48, 48) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, render_face(FaceParams()))  # rng=None is repeatable
    assert render_face(FaceParams(), size=32).shape == (32, 32)
    colour = render_face(FaceParams(rgb=True), size=64)
    assert colour.shape == (64, 64, 3)
    # the face is lighter than its dark-grey surround when the skin is light
    face = render_face(FaceParams(skin=(240.0, 200.0, 170.0), background=(30.0, 30.0, 30.0)))
    assert face[20:30, 18:30].mean() > face[:4, :4].mean() + 100


def test_expressions_differ_where_expected():
    neutral = render_face(FaceParams()).astype(int)
    x0, y0, x1, y1 = MOUTH_BOX
    happy = render_face(FaceParams(mouth_curve=1.0, mouth_open=0.4)).astype(int)
    assert np.abs(happy - neutral)[y0:y1, x0:x1].sum() > 0
    assert np.abs(happy - neutral)[:y0].sum() == 0


# -- bad arguments ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 6}, r"n must be an int >= 7.*got 6"),
        ({"n": 100.0}, r"n must be an int"),
        ({"balance": {"happy": 1, "hapy": 2}}, r"Unknown class 'hapy'.*did you mean 'happy'"),
        ({"balance": {"happy": -1}}, r"weight for 'happy' must be a finite number >= 0"),
        ({"balance": {"happy": 0}}, r"at least one positive weight"),
        ({"balance": "fer"}, r"balance must be 'fer2013', 'uniform'"),
        ({"vary": ("mouth", "nose")}, r"Unknown feature 'nose' in vary"),
        ({"vary": ("brow",)}, r"did you mean 'brows'"),
        ({"split_fractions": (0.8, 0.1, 0.2)}, r"must sum to 1.*sum 1\.1"),
        ({"split_fractions": (0.8, 0.2)}, r"3 non-negative numbers"),
        ({"split_fractions": (0.0, 0.5, 0.5)}, r"positive train fraction"),
        ({"size": 31}, r"size must be an int >= 32.*got 31"),
        ({"noise": -1.0}, r"noise must be a finite number >= 0"),
        ({"seed": -1}, r"seed must be a non-negative int"),
        ({"rgb": "yes"}, r"rgb must be True or False"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_synthetic(**{"n": 14, **kwargs})


def test_bad_render_arguments():
    with pytest.raises(ConfigError, match="FaceParams"):
        render_face({"mouth_curve": 1.0})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="size must be"):
        render_face(FaceParams(), size=16)
    with pytest.raises(ConfigError, match="Unknown class 'happpy'.*did you mean 'happy'"):
        sample_face_params("happpy")
    with pytest.raises(ConfigError, match=r"n must be"):
        class_counts(3)


def test_load_dataset_inline_options():
    ds = load_dataset("synthetic:n=70,seed=9")
    assert len(ds) == 70 and ds.sources[0] == "synthetic#seed=9#i=0"
