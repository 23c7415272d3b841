"""Photo -> faces -> predictions: real detector on composed photos, odd image modes, bad files."""
from __future__ import annotations

import csv
import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_core import CLASSES
from fer_core.errors import ImageReadError
from fer_core.evaluation import predict_probs
from fer_core.inference import Predictor
from photos import compose


@pytest.fixture(scope="module")
def tiny_model():
    """A deterministic 7-class model on 48x48 grey input (pixel statistics -> softmax)."""
    import keras

    inp = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(7, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(seed=1))(x)
    return keras.Model(inp, out)


@pytest.mark.parametrize("n_faces", [0, 1, 3])
def test_photo_with_n_faces(tiny_model, fer_faces, n_faces):
    boxes = [(40, 60, 150, 150), (250, 80, 140, 140), (440, 200, 130, 130)][:n_faces]
    photo = compose(fer_faces[:n_faces], boxes, bg="plain")
    data = io.BytesIO()
    Image.fromarray(photo).save(data, format="JPEG", quality=95)
    result = Predictor(tiny_model).predict_image(data.getvalue(), name="group.jpg")
    assert len(result.faces) == n_faces
    assert result.message == ("no face found" if n_faces == 0 else f"{n_faces} face{'s' if n_faces > 1 else ''} found")
    for f in result.faces:
        assert f.probs.shape == (7,) and abs(float(f.probs.sum()) - 1) < 1e-4
        assert f.label in CLASSES and f.crop.ndim == 3
        # each face's probabilities are the model's on that face's own crop, and its label their argmax
        alone = predict_probs(tiny_model, cv2.resize(f.crop, (48, 48), interpolation=cv2.INTER_AREA)[None])[0]
        np.testing.assert_allclose(f.probs, alone, atol=1e-5)
        assert f.label == CLASSES[int(alone.argmax())]
    annotated = result.annotated()
    assert annotated.shape == photo.shape[:2] + (3,)
    if n_faces:
        assert (annotated != result.image).any()  # boxes were drawn
    rows = result.rows()
    assert len(rows) == max(n_faces, 1) and rows[0]["source"] == "group.jpg"


def test_fallback_classifies_whole_image(tiny_model):
    blank = np.full((100, 120, 3), 128, np.uint8)
    assert not Predictor(tiny_model).predict_image(blank).faces
    res = Predictor(tiny_model, fallback=True).predict_image(blank)
    assert res.whole_image and len(res.faces) == 1 and res.faces[0].box == (0, 0, 120, 100)
    assert res.rows()[0]["status"] == "whole image"


def _encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "make, fmt",
    [
        (lambda a: Image.fromarray(a).convert("RGBA"), "PNG"),
        (lambda a: Image.fromarray(a).convert("P"), "PNG"),
        (lambda a: Image.fromarray(a).convert("CMYK"), "JPEG"),
        (lambda a: Image.fromarray(a).convert("L"), "WEBP"),
        (lambda a: Image.fromarray(a), "BMP"),
        (lambda a: Image.fromarray(a), "TIFF"),
        (lambda a: Image.fromarray((a[..., 0].astype(np.uint16) * 257)), "PNG"),
    ],
    ids=["rgba", "palette", "cmyk", "webp-grey", "bmp", "tiff", "png16"],
)
def test_odd_image_modes(tiny_model, make, fmt):
    arr = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    res = Predictor(tiny_model, fallback=True).predict_image(_encode(make(arr), fmt), name=f"x.{fmt.lower()}")
    assert res.image.shape == (60, 80, 3) and res.image.dtype == np.uint8
    assert res.whole_image and res.faces[0].probs.shape == (7,)


def test_bad_files_give_clear_errors(tiny_model, tmp_path):
    pred = Predictor(tiny_model)
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"GIF89a not really")
    with pytest.raises(ImageReadError, match="photo.jpg"):
        pred.predict_image(bad)
    bomb = _encode(Image.new("L", (3000, 3000)), "PNG")
    with pytest.raises(ImageReadError, match="decompression bomb"):
        Predictor(tiny_model, max_pixels=1_000_000).predict_image(bomb)


def test_predict_cli_writes_csv(tiny_model, fer_faces, tmp_path, capsys):
    from fer_core.cli import main

    model_path = tmp_path / "m.keras"
    tiny_model.save(model_path)
    photo = tmp_path / "one.png"
    Image.fromarray(compose(fer_faces[:1], [(200, 100, 150, 150)])).save(photo)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.full((200, 200), 90, np.uint8)).save(empty)
    out = tmp_path / "preds.csv"
    assert main(["predict", str(model_path), str(photo), str(empty), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["ok", "no face found"]
    assert rows[0]["label"] in CLASSES and float(rows[0]["confidence"]) > 0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    assert main(["predict", str(model_path), str(broken)]) == 2
    out2 = tmp_path / "preds_tflite.csv"  # the same label from the model exported to TFLite
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert main(["predict", str(model_path), str(photo), "--runtime", "tflite", "--csv", str(out2)]) == 0
    assert [r["label"] for r in csv.DictReader(out2.open())] == [rows[0]["label"]]
    said = capsys.readouterr().out  # the predictions only: not the converter's listing or TFLite's deprecation
    assert said.splitlines() == [f"{photo}: 1 face found", said.splitlines()[1], f"wrote {out2}"], said
    assert not [w for w in warned if "deprecated" in str(w.message)], [str(w.message) for w in warned]


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_an_exported_runtime_labels_faces_as_keras_does(tiny_model, fer_faces, tmp_path, monkeypatch, runtime):
    from fer_core.export import ExportedModel

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    photo = compose(fer_faces[:2], [(40, 60, 150, 150), (250, 80, 140, 140)], bg="plain")
    want = Predictor(tiny_model, tta="flip").predict_image(photo)
    pred = Predictor(tiny_model, tta="flip", runtime=runtime)
    assert isinstance(pred.model, ExportedModel) and pred.model.format == runtime and pred.runtime == runtime
    got = pred.predict_image(photo)
    assert len(got.faces) == 2 and [f.box for f in got.faces] == [f.box for f in want.faces]
    for g, w in zip(got.faces, want.faces):
        np.testing.assert_allclose(g.probs, w.probs, atol=1e-5)
        assert g.label == w.label
    [cached] = (tmp_path / "home" / "exports").glob(f"*.{runtime}")  # exported once, under the model's digest
    stamp = cached.stat().st_mtime_ns
    Predictor(tiny_model, runtime=runtime)
    assert [cached] == list((tmp_path / "home" / "exports").glob("*")) and cached.stat().st_mtime_ns == stamp
    cached.write_bytes(b"not a model")  # a damaged cached export is made again, not an error
    np.testing.assert_allclose(Predictor(tiny_model, tta="flip", runtime=runtime).predict_image(photo).faces[0].probs,
                               want.faces[0].probs, atol=1e-5)


def test_an_ensemble_runs_exported_member_by_member(tiny_model, tmp_path):
    import keras

    from fer_core.errors import ConfigError
    from fer_core.evaluation import Ensemble
    from fer_core.export import ExportedModel, runtime_model

    other = keras.models.clone_model(tiny_model)
    other.set_weights([0.5 * w for w in tiny_model.get_weights()])
    ens = Ensemble([(tiny_model, 1.0), (other, 3.0)], name="two", tta="spread", classes=CLASSES, temperature=0.7)
    exported = runtime_model(ens, "onnx", cache=tmp_path)
    assert all(isinstance(m, ExportedModel) for m in exported.members) and len(list(tmp_path.glob("*.onnx"))) == 2
    assert (exported.name, exported.tta, exported.classes, exported.temperature) == ("two", "spread", CLASSES, 0.7)
    np.testing.assert_allclose(exported.weights, ens.weights)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(predict_probs(exported, faces), predict_probs(ens, faces), atol=1e-5)
    fusing = Ensemble(exported.members, tta="flip")  # exported members are never fused (one call each)
    np.testing.assert_allclose(predict_probs(fusing, faces), predict_probs(Ensemble([tiny_model, other], tta="flip"),
                                                                           faces), atol=1e-5)
    assert runtime_model(ens, "keras") is ens
    with pytest.raises(ConfigError, match="runtime must be one of"):
        runtime_model(ens, "torch")
