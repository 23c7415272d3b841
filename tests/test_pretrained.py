"""The models shipped in fer_core/pretrained: intact, loadable, their exports agree with them, and
their model cards match a fresh evaluation on FER2013 PublicTest (shared data; skipped when absent).

Skipped as a whole while this copy ships no bundled model."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fer_core import bundled
from fer_core import CLASSES as FER2013_CLASSES
from tests.conftest import SHIPPED_SHELF

_env = os.environ.get("FER_STUDIO_PRETRAINED")
os.environ["FER_STUDIO_PRETRAINED"] = str(SHIPPED_SHELF)
SHIPPED = bundled.list_bundled() if SHIPPED_SHELF.is_dir() else []
os.environ["FER_STUDIO_PRETRAINED"] = _env or ""
pytestmark = pytest.mark.skipif(not SHIPPED, reason="this copy ships no bundled model yet")
IDS = [b.id for b in SHIPPED]
SINGLE = [b.id for b in SHIPPED if b.kind == "model"]


#: every card, single models first: an ensemble's card then finds its members' views computed
#: (:class:`_ScoredOnce`), so the cards stay in this one file and one pytest-xdist worker
CARDS = SINGLE + [b.id for b in SHIPPED if b.kind != "model"]


@pytest.fixture(autouse=True)
def _shipped_shelf(monkeypatch):
    """These tests look at the models the repository ships."""
    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(SHIPPED_SHELF))


def test_manifest_default_and_checksums():
    assert bundled.default_id() in IDS
    for b in SHIPPED:
        bundled.verify(b)
        assert (b.path / "card.json").is_file() and (b.path / "card.md").is_file(), b.id
        assert b.record.get("bundled") is True


def test_every_card_has_its_latency():
    """Issue 12 asks each card for the latency per face: Keras, ONNX and TFLite (ensembles: Keras,
    as the Predict page runs them). ``bundle_models.py --latency`` measures it."""
    for b in SHIPPED:
        card = b.card()
        want = {"keras"} if card.get("kind") == "ensemble" else {"keras", "onnx", "tflite"}
        assert want <= set(card.get("latency_ms") or {}), f"{b.id}: no latency on its card (bundle it with --latency)"
        assert all(v > 0 for v in card["latency_ms"].values()) and card.get("latency_machine"), b.id


def test_size_budget():
    total = sum(p.stat().st_size for p in bundled.pretrained_dir().rglob("*.keras"))
    assert total <= 30 * 2**20, f"bundled weights take {total / 2**20:.1f} MB (budget 30 MB)"


@pytest.mark.parametrize("bid", SINGLE)
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_exports_give_the_same_top1(bid, fmt, tmp_path):
    from fer_core.export import ExportedModel, export_model, top1_agreement

    model = bundled.load_bundled(bid)
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    path = export_model(model, fmt, tmp_path / f"m.{fmt}")
    agree = top1_agreement(model, ExportedModel(path), faces)
    assert agree["top1_agreement"] == 1.0, agree


@pytest.fixture(scope="module")
def fer2013_dataset(fer2013_root):
    """FER2013 decoded once for all the cards (decoding 32,298 JPEGs is most of a card's cost)."""
    from fer_core.data import load_dataset

    return load_dataset(str(fer2013_root))


class _ScoredOnce:
    """A bundled model whose probabilities on given faces are computed once per view and test session.

    The ensembles share members (and each member has its own card), so without this every
    member's ten-crop predictions on PublicTest would be recomputed once per card that uses it.
    An Ensemble calls a member's ``predict_views`` with the views that member sees (under ``spread``
    its own mirror pair: views of its ten-crop card, but for the whole face's mirror); each view's
    probabilities come from the shipped weights through the studio's own predict_views, averaged
    as it averages them."""

    cache: dict[tuple, np.ndarray] = {}

    def __init__(self, model, bid: str):
        from fer_core.evaluation import num_classes

        self.model, self.bid, self.name, self.num_classes = model, bid, model.name, num_classes(model)

    def predict_views(self, images, views, *, batch_size=256, progress=None):
        import hashlib

        from fer_core.evaluation.predict import check_images, mean_over_views, predict_views

        images = check_images(images)
        digest = (images.shape, hashlib.sha1(np.ascontiguousarray(images)).hexdigest())
        per_view = []
        for i, view in enumerate(views):
            key = (self.bid, view) + digest
            if key not in self.cache:
                step = None if progress is None else (
                    lambda done, total, i=i: progress(i * total + done, len(views) * total))
                self.cache[key] = predict_views(self.model, images, [view], batch_size=max(batch_size, 1024),
                                                progress=step)
            per_view.append(self.cache[key])
        return mean_over_views(np.concatenate(per_view), len(views), len(images))

    def predict_probs(self, images, *, batch_size=256, tta=None, progress=None):
        from fer_core.evaluation.predict import tta_views

        return self.predict_views(images, tta_views(tta), batch_size=batch_size, progress=progress)


def _load_scored_once(bid: str):
    """The bundled model ``bid`` (its members, for an ensemble) wrapped in :class:`_ScoredOnce`."""
    from fer_core.evaluation import is_ensemble

    model = bundled.load_bundled(bid)
    if not is_ensemble(model):
        return _ScoredOnce(model, bid)
    assert model.refs and all(r in IDS for r in model.refs), f"{bid} has a member that is not bundled: {model.refs}"
    model.members = [_ScoredOnce(m, ref) for m, ref in zip(model.members, model.refs)]
    return model


@pytest.mark.slow
@pytest.mark.parametrize("bid", CARDS)
def test_card_figures_match_a_fresh_evaluation(bid, fer2013_dataset):
    check_card(bid, fer2013_dataset)


def check_card(bid: str, fer2013_dataset) -> None:
    """The card of ``bid`` holds the figures a fresh evaluation of its shipped weights gives."""
    from fer_core.modelcard import card_figures

    b = bundled.get_bundled(bid)
    card = b.card()["figures"]
    fresh = card_figures(_load_scored_once(bid), fer2013_dataset, card["split"], tta=card["tta"],
                         n_bootstrap=card["n_bootstrap"], seed=card["seed"])
    assert fresh["n"] == card["n"]
    assert fresh["confusion"] == card["confusion"]
    for key in ("accuracy", "macro_f1", "ece"):
        assert fresh[key] == pytest.approx(card[key], abs=1e-6), key
    for key in ("accuracy_ci", "macro_f1_ci"):
        assert fresh[key] == pytest.approx(card[key], abs=1e-6), key
    assert fresh["per_class_f1"] == pytest.approx(card["per_class_f1"], abs=1e-6)
    if card.get("ferplus_agreement") is not None:
        assert fresh["ferplus_agreement"] == pytest.approx(card["ferplus_agreement"], abs=1e-6)
    assert card.get("train_twins"), "the card lacks train_twins (experiments/bundle_models.py --add-train-twins)"
    assert fresh["train_twins"] == pytest.approx(card["train_twins"], abs=1e-6)


@pytest.mark.slow
def test_fresh_install_labels_a_real_photo(tmp_path, monkeypatch, capsys):
    """Empty studio, no dataset registered: `predict default` and the Predict page label real faces."""
    import csv

    from streamlit.testing.v1 import AppTest

    from fer_core.cli import main
    from fer_core.paths import shared_data_dir

    photos = shared_data_dir() / "photos" if shared_data_dir() else None
    if photos is None or not (photos / "obama.jpg").is_file():
        pytest.skip("shared photos (../shared/data/photos) are not present on this machine")
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "fresh"))
    out = tmp_path / "preds.csv"
    assert main(["predict", "default", str(photos / "obama.jpg"), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["ok"] and rows[0]["label"] in FER2013_CLASSES

    at = AppTest.from_file(str(SHIPPED_SHELF.parents[1] / "dashboard" / "Home.py"), default_timeout=300).run()
    at.switch_page("views/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    picked = at.selectbox(key="pred_model")
    assert picked.value == f"run:{bundled.default_id()}" and "default" in picked.format_func(picked.value)
    data = (photos / "obama.jpg").read_bytes()
    at.file_uploader(key="pred_files").set_value([("obama.jpg", data, "image/jpeg")]).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert list(table["status"]) == ["ok"] and table["label"].iloc[0] in FER2013_CLASSES
