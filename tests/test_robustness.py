"""Corruptions, what-if edits, the robustness sweep and corruption augmentation."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_core.errors import ConfigError, DataError
from fer_core.robustness import (CORRUPTIONS, OCCLUSIONS, SUBSETS, SweepResult, WhatIf, apply_whatif,
                                 augment_batch, corrupt, corrupt_batch, describe, make_augmenter,
                                 resolve_names, stratified_sample, subset_of, sweep, whatif_predict)

NAMES = list(CORRUPTIONS)
#: Corruptions that draw random numbers (the others are deterministic functions of the image).
RANDOM = {"shadow", "gaussian_noise", "low_light_noise", "motion_blur", "rotation", "random_patch", "hand_blob"}


def _drawn_face(rgb: bool) -> np.ndarray:
    """A 48x48 cartoon face drawn with cv2 (independent of the synthetic-data module)."""
    img = np.full((48, 48, 3), (120, 140, 160), np.uint8)
    cv2.ellipse(img, (24, 25), (16, 20), 0, 0, 360, (225, 180, 140), -1, cv2.LINE_AA)
    for x in (17, 31):
        cv2.ellipse(img, (x, 20), (4, 2), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(img, (x, 20), 1, (40, 30, 20), -1, cv2.LINE_AA)
        cv2.line(img, (x - 5, 14), (x + 4, 15), (60, 40, 30), 2, cv2.LINE_AA)
    cv2.line(img, (24, 22), (23, 30), (170, 120, 90), 1, cv2.LINE_AA)
    cv2.ellipse(img, (24, 36), (7, 3), 0, 0, 180, (150, 50, 60), 2, cv2.LINE_AA)
    return img if rgb else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


@pytest.fixture(scope="module", params=["grey", "rgb"])
def faces(request) -> np.ndarray:
    """Three face-like 48x48 test images: two synthetic faces (when available) and a drawn one."""
    rgb = request.param == "rgb"
    out = [_drawn_face(rgb)]
    try:
        from fer_core.data.synthetic import make_synthetic
    except ImportError:  # the synthetic-data module is optional for these tests
        out.append(np.ascontiguousarray(_drawn_face(rgb)[:, ::-1]))
    else:
        out.extend(make_synthetic(7, seed=11, rgb=rgb, balance="uniform").images[[0, 3]])
    return np.stack(out)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


# -- registry ------------------------------------------------------------------------------
def test_subsets_partition_the_registry():
    assert set(SUBSETS) == {"lighting", "noise", "blur", "digital", "geometric", "occlusion"}
    listed = [n for names in SUBSETS.values() for n in names]
    assert sorted(listed) == sorted(NAMES) and len(listed) == len(set(listed))
    required = {"brightness_down", "brightness_up", "gamma", "contrast", "gaussian_noise", "low_light_noise",
                "gaussian_blur", "motion_blur", "jpeg", "downscale", "rotation", "eye_band", "lower_face",
                "random_patch", "hand_blob"}
    assert required <= set(NAMES)
    for n in NAMES:
        assert n in SUBSETS[subset_of(n)]
        assert CORRUPTIONS[n].__name__ == n and describe(n)


def test_resolve_names_expands_subsets_and_lists_choices():
    assert resolve_names(None) == tuple(NAMES) == resolve_names("all")
    assert resolve_names(["noise", "jpeg", "gaussian_noise"]) == ("gaussian_noise", "low_light_noise", "jpeg")
    with pytest.raises(ConfigError, match=r"'gausian_noise'.*did you mean 'gaussian_noise'.*brightness_down"):
        resolve_names(["gausian_noise"])
    with pytest.raises(ConfigError, match="No corruption selected"):
        resolve_names([])


# -- every corruption at every severity ----------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_corruption_shape_dtype_determinism_and_monotone_strength(name, faces):
    for face in faces:
        outs = [corrupt(face, name, s, seed=3) for s in range(6)]
        for s, out in enumerate(outs):
            assert out.dtype == np.uint8 and out.shape == face.shape, (name, s)
        assert np.array_equal(outs[0], face) and outs[0] is not face
        again = [CORRUPTIONS[name](face, s, rng=3) for s in range(6)]  # the per-function form agrees
        assert all(np.array_equal(a, b) for a, b in zip(outs, again)), name
        mad = [_mad(o, face) for o in outs]
        assert mad[1] > 0, f"{name} severity 1 changed nothing"
        assert all(b >= a for a, b in zip(mad, mad[1:])), f"{name}: strength not monotone {np.round(mad, 2)}"
        assert mad[5] > mad[1] + 1.0, f"{name}: severity 5 barely stronger than 1 {np.round(mad, 2)}"


@pytest.mark.parametrize("name", NAMES)
def test_corrupt_batch_matches_shapes_and_seeds(name, faces):
    for batch in (faces, faces[..., None] if faces.ndim == 3 else faces):
        out = corrupt_batch(batch, name, 3, seed=5)
        assert out.dtype == np.uint8 and out.shape == batch.shape
        assert np.array_equal(out, corrupt_batch(batch, name, 3, seed=5))
        # the first image of a batch is corrupted as the image alone (same seed)
        assert np.array_equal(out[0], corrupt(batch[0], name, 3, seed=5))
    assert corrupt_batch(faces[:0], name, 2).shape == faces[:0].shape
    if name in RANDOM:
        outs = {corrupt(faces[0], name, 3, seed=s).tobytes() for s in range(4)}
        assert len(outs) > 1, f"{name} ignores its seed"


def test_randomness_is_coupled_across_severities():
    face = _drawn_face(False)
    pos = [np.argwhere(corrupt(face, "random_patch", s, seed=9) != face).mean(axis=0) for s in (1, 3, 5)]
    assert np.allclose(pos[0], pos[1], atol=1.0) and np.allclose(pos[1], pos[2], atol=1.5)
    changed = [corrupt(face, "random_patch", s, seed=9) != face for s in (1, 2, 3, 4, 5)]
    assert all(np.all(b[a]) for a, b in zip(changed, changed[1:])), "larger patches must cover the smaller ones"


def test_occlusions_hit_the_face_regions():
    face = _drawn_face(False)
    rows_changed = {n: np.flatnonzero(np.any(corrupt(face, n, 3) != face, axis=1)) for n in ("eye_band", "lower_face")}
    eye, low = rows_changed["eye_band"], rows_changed["lower_face"]
    assert 0.3 * 48 <= eye.min() and eye.max() <= 0.56 * 48  # around the eye line (0.43)
    assert low.min() >= 0.6 * 48 and low.max() >= 0.85 * 48  # from the mouth/nose down to the chin
    assert corrupt(face, "eye_band", 5)[20, 10:38].mean() < 40  # dark glasses over the eyes


def test_corruptions_work_at_other_sizes():
    img = cv2.resize(_drawn_face(True), (96, 80))
    for name in NAMES:
        out = corrupt(img, name, 4, seed=1)
        assert out.shape == img.shape and _mad(out, img) > 0.5, name


def test_bad_input_is_refused_with_choices():
    face = _drawn_face(False)
    with pytest.raises(ConfigError, match=r"Unknown corruption 'jepg'.*did you mean 'jpeg'.*\('brightness_down'"):
        corrupt(face, "jepg")
    for bad in (6, -1, 2.5, True, "3", None):
        with pytest.raises(ConfigError, match=rf"severity must be an int in 0..5.*got {bad!r}"):
            corrupt(face, "jpeg", bad)
    with pytest.raises(DataError, match="uint8.*got dtype float64"):
        corrupt(face.astype(float), "jpeg")
    with pytest.raises(DataError, match=r"got shape \(48, 48, 4\)"):
        corrupt(np.zeros((48, 48, 4), np.uint8), "jpeg")
    with pytest.raises(DataError, match="batch"):
        corrupt(np.zeros((2, 48, 48, 3), np.uint8), "jpeg")
    with pytest.raises(DataError, match=r"image\[None\]"):
        corrupt_batch(_drawn_face(True), "jpeg")  # one RGB image is not a batch
    with pytest.raises(ConfigError, match="seed must be an int >= 0"):
        corrupt(face, "jpeg", 1, seed=-1)


# -- what-if -------------------------------------------------------------------------------
def test_whatif_defaults_are_identity():
    for rgb in (False, True):
        face = _drawn_face(rgb)
        assert WhatIf().is_identity()
        out = apply_whatif(face, WhatIf())
        assert np.array_equal(out, face) and out is not face and out.dtype == np.uint8


def _sharpness(img: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(img.astype(np.float32), cv2.CV_32F)).mean())


def test_whatif_knobs_move_the_image_the_expected_way():
    face = _drawn_face(False)
    f = face.astype(float)

    def edit(**kw) -> np.ndarray:
        p = WhatIf(**kw)
        assert not p.is_identity()
        out = apply_whatif(face, p)
        assert out.shape == face.shape and out.dtype == np.uint8
        return out.astype(float)

    assert edit(brightness=0.2).mean() > f.mean() + 30
    assert edit(brightness=-0.2).mean() < f.mean() - 30
    assert edit(gamma=2.0).mean() < f.mean() < edit(gamma=0.5).mean()
    assert edit(contrast=0.5).std() < f.std() < edit(contrast=1.5).std()
    assert _sharpness(edit(blur=1.5)) < 0.7 * _sharpness(face)
    assert _mad(edit(noise=30.0), f) > _mad(edit(noise=10.0), f) > 3
    assert _mad(edit(jpeg_quality=5), f) > _mad(edit(jpeg_quality=60), f) > 0
    assert np.array_equal(edit(noise=10.0, blur=0.0), edit(noise=10.0))  # repeatable (seed 0)
    # rotation: positive turns counter-clockwise as displayed (a dot right of centre moves up)
    dot = np.zeros((48, 48), np.uint8)
    dot[23:25, 36:38] = 255
    y, x = np.argwhere(apply_whatif(dot, WhatIf(rotation=90.0)) > 100).mean(axis=0)
    assert y < 16 and abs(x - 23.5) < 3
    # occluders: the eye band darkens the eye line, the mask covers the lower face only
    assert edit(occlusion="eye_band")[20, 12:36].mean() < 40
    low = np.flatnonzero(np.any(edit(occlusion="lower_face", occlusion_size=0.3) != f, axis=1))
    assert low.min() >= 0.6 * 48
    # patch and hand land where they are put
    for occ in ("patch", "hand"):
        out = edit(occlusion=occ, occlusion_x=0.25, occlusion_y=0.75, occlusion_size=0.25)
        ys, xs = np.nonzero(np.abs(out - f) > 5)
        assert abs(xs.mean() - 12) < 4 and abs(ys.mean() - 36) < 5, occ
        assert np.array_equal(out[:, 30:], f[:, 30:])  # the right side is untouched


def test_whatif_rgb_and_validation():
    face = _drawn_face(True)
    out = apply_whatif(face, WhatIf(brightness=0.1, noise=5, occlusion="hand"))
    assert out.shape == face.shape and out.dtype == np.uint8
    assert set(OCCLUSIONS) == {"eye_band", "lower_face", "patch", "hand"}
    for kw, field in (({"brightness": 1.5}, "brightness"), ({"gamma": 0.0}, "gamma"),
                      ({"jpeg_quality": 50.5}, "jpeg_quality"), ({"occlusion": "scarf"}, "occlusion"),
                      ({"noise": float("nan")}, "noise"), ({"occlusion_x": -0.1}, "occlusion_x")):
        with pytest.raises(ConfigError, match=rf"WhatIf\.{field}"):
            apply_whatif(face, WhatIf(**kw))
    with pytest.raises(ConfigError, match="lower_face"):
        apply_whatif(face, WhatIf(occlusion="mask"))  # the message lists the choices
    with pytest.raises(ConfigError, match="must be a WhatIf"):
        apply_whatif(face, {"brightness": 0.1})


def test_whatif_predict_returns_image_and_probabilities():
    face = _drawn_face(False)
    seen = []

    def predict(x):
        seen.append(x.shape)
        p = np.full((len(x), 7), 0.1)
        p[:, 3] = 0.4 if x.mean() > 100 else 0.0
        return p

    img, probs = whatif_predict(predict, face, WhatIf(brightness=0.3))
    assert seen == [(1, 48, 48)] and img.shape == face.shape and probs.shape == (7,)
    assert np.argmax(probs) == 3 and np.array_equal(img, apply_whatif(face, WhatIf(brightness=0.3)))
    with pytest.raises(DataError, match=r"shape \(1, n_classes\).*got shape \(7,\)"):
        whatif_predict(lambda x: np.ones(7), face, WhatIf())


# -- sweep ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled():
    """28 faces in 4 unbalanced classes (10, 8, 6, 4): four variants of the drawn face plus pixel noise."""
    rng = np.random.default_rng(0)
    base = [_drawn_face(False), _drawn_face(False)[:, ::-1], np.rot90(_drawn_face(False)), 255 - _drawn_face(False)]
    labels = np.repeat(np.arange(4), [10, 8, 6, 4])
    images = np.stack([np.clip(base[c] + rng.normal(0, 6, (48, 48)), 0, 255).astype(np.uint8) for c in labels])
    return images, labels


def _nearest_neighbour(images: np.ndarray, labels: np.ndarray):
    """1-NN on the clean images: exact on clean images, degrades as images change."""
    ref = images.reshape(len(images), -1).astype(np.float32)

    def predict(x):
        d = ((x.reshape(len(x), -1).astype(np.float32)[:, None, :] - ref[None]) ** 2).sum(-1)
        return np.eye(int(labels.max()) + 1)[labels[np.argmin(d, axis=1)]]

    return predict


def test_sweep_table_summary_and_math(labelled):
    images, labels = labelled
    events = []
    fns = {"nn": _nearest_neighbour(images, labels), "const": lambda x: np.tile([0.7, 0.1, 0.1, 0.1], (len(x), 1))}
    names = ["gaussian_noise", "lower_face", "rotation"]
    res = sweep(fns, images, labels, corruptions=names, severities=(1, 3, 5), seed=2, progress=events.append)
    t = res.table
    assert list(t.columns) == ["model", "corruption", "subset", "severity", "accuracy", "n"]
    assert len(t) == 2 * (1 + 3 * 3) and set(t["n"]) == {28}
    clean = t[t["severity"] == 0]
    assert list(clean["model"]) == ["nn", "const"] and set(clean["corruption"]) == {"clean"}
    assert clean.set_index("model")["accuracy"].to_dict() == {"nn": 1.0, "const": 10 / 28}
    assert t.loc[t["model"] == "const", "accuracy"].nunique() == 1
    s = res.summary.set_index("model")
    for m in fns:
        rows = t[(t["model"] == m) & (t["severity"] > 0)]
        mca = rows["accuracy"].mean()
        assert s.loc[m, "mCA"] == pytest.approx(mca)
        assert s.loc[m, "relative_drop"] == pytest.approx((s.loc[m, "clean"] - mca) / s.loc[m, "clean"])
        assert s.loc[m, "occlusion"] == pytest.approx(rows.loc[rows["corruption"] == "lower_face", "accuracy"].mean())
    assert s.loc["const", "relative_drop"] == pytest.approx(0.0)
    assert set(s.columns) >= {"clean", "mCA", "relative_drop", "worst", "noise", "occlusion", "geometric"}
    assert "lighting" not in s.columns  # only families that were swept
    # each cell is the model's accuracy on corrupt_batch(images, name, severity, seed)
    nn = fns["nn"]
    for name, sev in (("rotation", 5), ("gaussian_noise", 3)):
        x = corrupt_batch(images[res.indices], name, sev, seed=2)
        expect = np.mean(np.argmax(nn(x), 1) == labels[res.indices])
        got = t[(t["model"] == "nn") & (t["corruption"] == name) & (t["severity"] == sev)]["accuracy"].item()
        assert got == pytest.approx(expect)
    assert [e["step"] for e in events] == list(range(1, 11)) and events[-1]["steps"] == 10
    pv = res.pivot("nn")
    assert pv.shape == (3, 4) and list(pv.columns) == [0, 1, 3, 5] and (pv[0] == 1.0).all()


def test_sweep_sample_is_reproducible_and_stratified(labelled):
    images, labels = labelled
    fns = {"nn": _nearest_neighbour(images, labels)}
    a = sweep(fns, images, labels, corruptions="noise", severities=(2, 4), sample=12, seed=1)
    b = sweep(fns, images, labels, corruptions="noise", severities=(2, 4), sample=12, seed=1)
    c = sweep(fns, images, labels, corruptions="noise", severities=(2, 4), sample=12, seed=2)
    assert np.array_equal(a.indices, b.indices) and a.table.equals(b.table)
    assert not np.array_equal(a.indices, c.indices)
    assert len(a.indices) == 12 and set(a.table["n"]) == {12}
    counts = np.bincount(labels[a.indices], minlength=4)
    assert counts.tolist() == [4, 3, 3, 2]  # shares 4.29, 3.43, 2.57, 1.71 by largest remainder
    assert np.array_equal(stratified_sample(labels, 100, 0), np.arange(28))
    small = stratified_sample(labels, 4, 0)
    assert sorted(labels[small]) == [0, 1, 2, 3]  # every class present when there is room


def test_sweep_result_round_trips_through_json(labelled):
    images, labels = labelled
    res = sweep({"zero": lambda x: np.zeros((len(x), 4))}, images[labels != 0], labels[labels != 0],
                corruptions=["jpeg"], severities=[1])
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["summary"][0]["relative_drop"] is None  # clean accuracy 0: drop undefined, not NaN
    back = SweepResult.from_dict(d)
    assert back.table.equals(res.table) and back.corruptions == ("jpeg",) and back.severities == (1,)
    assert np.array_equal(back.indices, res.indices)


def test_sweep_validation(labelled):
    images, labels = labelled
    fns = {"nn": _nearest_neighbour(images, labels)}
    with pytest.raises(ConfigError, match="severities must be ints in 1..5"):
        sweep(fns, images, labels, severities=(0,))
    with pytest.raises(ConfigError, match="severities"):
        sweep(fns, images, labels, severities=(1, 7))
    with pytest.raises(ConfigError, match="did you mean 'motion_blur'"):
        sweep(fns, images, labels, corruptions=["motionblur"])
    with pytest.raises(DataError, match=r"labels must be an int array of shape \(28,\)"):
        sweep(fns, images, labels[:-1])
    with pytest.raises(ConfigError, match="non-empty dict"):
        sweep({}, images, labels)
    with pytest.raises(DataError, match=r"Model 'bad' returned an array of shape \(3,\)"):
        sweep({"bad": lambda x: np.zeros(3)}, images, labels, corruptions="jpeg", severities=[1])
    with pytest.raises(ConfigError, match="sample must be None"):
        sweep(fns, images, labels, sample=0)


# -- augmentation --------------------------------------------------------------------------
def test_augment_batch_shapes_dtypes_and_probability(faces):
    for batch in (faces, faces.astype(np.float32)):
        out = augment_batch(batch, ["gaussian_noise"], p=1.0, max_severity=2, seed=0)
        assert out.shape == batch.shape and out.dtype == batch.dtype
        assert all(_mad(o, b) > 1 for o, b in zip(out, batch))  # p=1: every image corrupted
        assert np.array_equal(augment_batch(batch, "all", p=0.0, seed=0), batch)
        assert np.array_equal(augment_batch(batch, "occlusion", seed=4), augment_batch(batch, "occlusion", seed=4))
    big = np.repeat(faces, 20, axis=0)
    changed = np.mean([_mad(o, b) > 0 for o, b in zip(augment_batch(big, "noise", p=0.5, seed=1), big)])
    assert 0.3 < changed < 0.7
    if faces.ndim == 3:
        assert augment_batch(faces[..., None], "blur", seed=0).shape == faces.shape + (1,)


def test_make_augmenter_draws_fresh_corruptions_reproducibly(faces):
    f, g = make_augmenter("noise", p=1.0, seed=3), make_augmenter("noise", p=1.0, seed=3)
    a1, a2 = f(faces), f(faces)
    assert not np.array_equal(a1, a2)
    assert np.array_equal(a1, g(faces)) and np.array_equal(a2, g(faces))
    with pytest.raises(ConfigError, match=r"p must be a probability in \[0, 1\]"):
        make_augmenter("noise", p=1.5)
    with pytest.raises(ConfigError, match="max_severity must be an int in 1..5"):
        augment_batch(faces, "noise", max_severity=0)
    with pytest.raises(ConfigError, match="Unknown corruption 'fog'"):
        augment_batch(faces, ["fog"])
