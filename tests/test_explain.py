"""Grad-CAM, Grad-CAM++ and occlusion maps: shapes, options, and that they look at the right place."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core.data.synthetic import feature_boxes, make_synthetic
from fer_core.errors import ConfigError
from fer_core.explain import explain, find_cam_layer, gradcam, occlusion_map, overlay, spatial_layers

pytestmark = pytest.mark.slow  # every test uses a model trained for 12 epochs

CLASSES3 = ["happy", "sad", "surprise"]


@pytest.fixture(scope="module")
def mouth_model():
    """fer_net trained on synthetic faces whose three classes differ ONLY in the mouth.

    The faces are frontal and centred (``pose=False``), so the mouth box of ``feature_boxes`` is
    exact for every image."""
    import keras

    from fer_core.models import create_model

    ds = make_synthetic(1500, seed=3, vary=("mouth",), balance=dict.fromkeys(CLASSES3, 1), noise=0.3, pose=False)
    ds = ds.with_classes(CLASSES3)
    tr, te = ds.split("train"), ds.split("test")
    keras.utils.set_random_seed(0)
    model = create_model("fer_net", (48, 48, 1), 3, width=16)  # the 6x6 CAM grid of any width, a quarter of the FLOPs
    steps = 12 * int(np.ceil(len(tr) / 64))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  "sparse_categorical_crossentropy")
    model.fit(tr.images[..., None].astype("float32"), tr.labels, batch_size=64, epochs=12, verbose=0)
    pred = model.predict_on_batch(te.images[..., None].astype("float32")).argmax(1)
    return model, te, pred


def _mass(maps: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return maps[:, y0:y1, x0:x1].sum((1, 2)) / np.maximum(maps.sum((1, 2)), 1e-9)


def _cell_mass(maps: np.ndarray, box, cells: int) -> np.ndarray:
    """Share of each map's heat in the CAM cells (``cells`` x ``cells`` grid) centred in ``box``."""
    n, h, w = maps.shape
    blocks = maps.reshape(n, cells, h // cells, cells, w // cells).mean(axis=(2, 4))
    x0, y0, x1, y1 = box
    cy, cx = (np.arange(cells) + 0.5) * h / cells, (np.arange(cells) + 0.5) * w / cells
    inside = np.outer((cy >= y0) & (cy < y1), (cx >= x0) & (cx < x1))
    return blocks[:, inside].sum(axis=1) / np.maximum(blocks.sum(axis=(1, 2)), 1e-9)


def test_most_of_the_heat_is_on_the_mouth(mouth_model):
    """Most of the Grad-CAM mass lies on the mouth, at the map's own resolution (fer_net: 6x6 cells
    of 8x8 pixels; the 12 cells centred in the mouth box are a third of the grid)."""
    model, te, pred = mouth_model
    ok = pred == te.labels
    assert ok.mean() > 0.9, "the model must have learnt the mouth classes"
    cells = int(model.get_layer(find_cam_layer(model)).output.shape[1])
    box = feature_boxes(48)["mouth"]
    mass = _cell_mass(gradcam(model, te.images[ok], te.labels[ok]), box, cells)
    assert mass.mean() > 0.6, mass.mean()
    assert (mass > 0.5).mean() > 0.9, np.sort(mass)[:10]  # nearly every face, not just on average
    for label in range(len(CLASSES3)):  # and for each of the mouth classes
        assert mass[te.labels[ok] == label].mean() > 0.5, (CLASSES3[label], mass[te.labels[ok] == label].mean())


def test_maps_fall_on_the_mouth(mouth_model):
    model, te, pred = mouth_model
    assert (pred == te.labels).mean() > 0.9, "the model must have learnt the mouth classes"
    ok = pred == te.labels
    boxes = feature_boxes(48)
    share = {k: (b[2] - b[0]) * (b[3] - b[1]) / 48**2 for k, b in boxes.items()}
    cams = gradcam(model, te.images[ok], te.labels[ok])
    mouth, upper = _mass(cams, boxes["mouth"]), _mass(cams, boxes["upper"])
    # Concentrated on the mouth: heat per pixel there is at least 1.7x the image average and
    # 1.5x that on the eyes and brows (which carry no class information here).
    density_mouth, density_upper = mouth.mean() / share["mouth"], upper.mean() / share["upper"]
    assert density_mouth > 1.7, (mouth.mean(), share["mouth"])
    assert density_mouth > 1.5 * density_upper, (density_mouth, density_upper)
    occ = np.stack([occlusion_map(model, im, int(c)) for im, c in zip(te.images[ok][:12], te.labels[ok][:12])])
    assert _mass(occ, boxes["mouth"]).mean() > 0.5  # most of the probability drop comes from the mouth
    plus = gradcam(model, te.images[ok], te.labels[ok], plus=True)
    assert _mass(plus, boxes["mouth"]).mean() / share["mouth"] > _mass(plus, boxes["upper"]).mean() / share["upper"]


def test_shapes_options_and_errors(mouth_model):
    model, te, _ = mouth_model
    assert find_cam_layer(model) == "cam_features" and "cam_features" in spatial_layers(model)
    one = gradcam(model, te.images[0])
    assert one.shape == (48, 48) and one.dtype == np.float32 and 0 <= one.min() and one.max() <= 1
    batch = gradcam(model, te.images[:4], 1, layer=spatial_layers(model)[-3])
    assert batch.shape == (4, 48, 48)
    for method in ("gradcam", "gradcam++", "occlusion"):
        heat = explain(model, te.images[1], method, class_index=2)
        assert heat.shape == (48, 48) and np.isfinite(heat).all()
    shown = overlay(te.images[0], one)
    assert shown.shape == (48, 48, 3) and shown.dtype == np.uint8
    with pytest.raises(ConfigError, match="class_index"):
        gradcam(model, te.images[:2], 7)
    with pytest.raises(ConfigError, match="not in model"):
        gradcam(model, te.images[:2], layer="nope")
    with pytest.raises(ConfigError, match="method"):
        explain(model, te.images[0], "lime")
