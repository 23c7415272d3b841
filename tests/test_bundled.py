"""Bundled models: manifest, default alias, checksums, safe loading, ensembles, read-only."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from fer_core import CLASSES, bundled
from fer_core.bundled import BundledError
from fer_core.tables import UNSEEN_COLUMN

ROOT = Path(__file__).resolve().parents[1]


def _experiment_script(name: str):
    """experiments/<name>.py loaded as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


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


def test_uninstall_refuses_default_and_members_then_removes(shelf):
    with pytest.raises(BundledError, match="is `default`"):
        bundled.uninstall_bundled("ens")
    with pytest.raises(BundledError, match=r"member of the bundled ensemble\(s\) \['ens'\]"):
        bundled.uninstall_bundled("m0")
    bundled.install_bundled("m1-only", title="m1 alone", members=["m1"], make_default=True)
    bundled.uninstall_bundled("ens")
    bundled.uninstall_bundled("m0")
    assert [b.id for b in bundled.list_bundled()] == ["m1", "m1-only"]
    assert not (shelf / "m0").exists() and not (shelf / "ens").exists()
    with pytest.raises(BundledError, match="bundled: m1, m1-only"):
        bundled.get_bundled("m0")


def test_unknown_run_id_suggests_bundled_ids_too(shelf, tmp_path):
    from fer_core.runs import RunStore, UnknownRunError

    store = RunStore(tmp_path / "home")
    with pytest.raises(UnknownRunError, match=r"No run with id 'm7'\. Did you mean: (m0, m1|m1, m0)\?"):
        store.get("m7")
    with pytest.raises(UnknownRunError, match=r"Known runs: m0, m1, ens, default\."):  # none of the user's yet
        store.get("zzzzzz")
    for i in range(5):
        store.create({"name": f"r{i}", "model": {"name": "five_layer"}})
    with pytest.raises(UnknownRunError, match=r"Known runs: \S+, \S+, \S+, \S+, \S+ and 4 more\."):
        store.get("zzzzzz")


def test_broken_manifest_is_a_clear_error(shelf):
    (shelf / "manifest.json").write_text("{not json")
    with pytest.raises(BundledError, match="manifest.*unreadable"):
        bundled.list_bundled()


def test_store_lists_bundled_read_only(shelf, tmp_path):
    from fer_core.runs import RunStore, UnknownRunError

    store = RunStore(tmp_path / "home")
    runs = {r.id: r for r in store.list()}
    assert {"m0", "m1", "ens"} <= set(runs) and all(runs[i].bundled for i in ("m0", "m1", "ens"))
    assert store.list(bundled=False) == [] and store.list(status="failed") == []
    assert store.get("default").id == "ens" and store.get("m1").test_accuracy == pytest.approx(0.6)
    assert store.get("m0").to_dict()["bundled"] is True
    from fer_core.inference import default_tta

    assert default_tta("ens") is None and default_tta("m0") is None  # ensembles carry theirs; m0 has none
    for action in (lambda: store.delete("m0"), lambda: store.update("m1", name="x"),
                   lambda: store.delete("default")):
        with pytest.raises(BundledError, match="read-only"):
            action()
    assert (shelf / "m0" / "model.keras").is_file()
    with pytest.raises(UnknownRunError):
        store.get("20260101-000000-five_layer-abcd")


def test_cli_lists_evaluates_and_predicts_with_default(shelf, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from fer_core.cli import main

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    assert main(["runs", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["ens"]["bundled"] is True and listed["m0"]["bundled"] is True
    assert main(["runs", "delete", "m0"]) == 2
    assert "read-only" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["evaluate", "default", "--data", "synthetic:n=200,seed=1", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    from fer_core.data import load_dataset
    from fer_core.evaluation import predict_probs

    test = load_dataset("synthetic:n=200,seed=1").split("test")
    default = bundled.load_bundled("default")  # the ensemble, with its own TTA, as the CLI scores it
    assert rep["accuracy"] == pytest.approx(float((predict_probs(default, test.images).argmax(1) == test.labels).mean()))
    photo = tmp_path / "face.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (120, 160), dtype=np.uint8)).save(photo)
    csv_out = tmp_path / "p.csv"
    assert main(["predict", "default", str(photo), "--fallback", "--csv", str(csv_out)]) == 0
    (row,) = list(csv.DictReader(csv_out.open()))  # the whole image, classified by the default
    assert row["status"] == "whole image" and row["label"] in CLASSES
    probs = [float(row[f"p_{c}"]) for c in CLASSES]
    assert row["label"] == CLASSES[int(np.argmax(probs))] and sum(probs) == pytest.approx(1, abs=1e-3)


def test_default_without_bundled_models_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from fer_core.cli import main

    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(tmp_path / "none"))
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    photo = tmp_path / "x.png"
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(photo)  # a photo that opens: the model is loaded
    assert main(["predict", "default", str(photo)]) == 2
    assert "ships none" in capsys.readouterr().err


@pytest.fixture()
def scored_shelf(tmp_path, monkeypatch):
    """Two tiny bundled models and their ensemble with test predictions and cards (synthetic data)."""
    import keras

    from fer_core.data.synthetic import make_synthetic
    from fer_core.evaluation import Ensemble, predict_probs
    from fer_core.modelcard import FER2013_LIMITS, card_figures
    from fer_core.models import create_model

    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    spec = "synthetic:n=300,seed=2"
    ds = make_synthetic(300, seed=2)
    test = ds.split("test")
    models = []
    for i, name in enumerate(("five_layer", "baseline_cnn")):
        run = tmp_path / f"run{i}"
        run.mkdir()
        keras.utils.set_random_seed(i)
        m = create_model(name, input_shape=(48, 48, 1), num_classes=7)
        m.save(run / "model.keras")
        models.append(m)
        (run / "run.json").write_text(json.dumps({"model": name, "dataset": spec,
                                                  "config": {"data": {"path": spec}}}))
        preds = {"probs": predict_probs(m, test.images), "labels": test.labels, "sources": test.sources,
                 "classes": ds.classes, "split": "test"}
        card = {"id": f"m{i}", "title": f"tiny {name}", "figures": card_figures(m, ds, n_bootstrap=50),
                "limits": list(FER2013_LIMITS)}
        bundled.install_bundled(f"m{i}", title=f"tiny {name}", source_run=run, card=card, predictions=preds)
    ens = Ensemble(models, tta="flip")
    preds = {"probs": predict_probs(ens, test.images), "labels": test.labels, "sources": test.sources,
             "classes": ds.classes, "split": "test"}
    card = {"id": "ens", "title": "tiny ensemble", "figures": card_figures(ens, ds, n_bootstrap=50)}
    bundled.install_bundled("ens", title="tiny ensemble", members=["m0", "m1"], tta="flip", card=card,
                            predictions=preds, make_default=True,
                            record={"dataset": spec, "config": {"data": {"path": spec}}})
    return tmp_path


@pytest.mark.slow
def test_dashboard_shows_bundled_models_on_a_fresh_install(scored_shelf):
    from streamlit.testing.v1 import AppTest

    router = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "dashboard" / "Home.py")
    at = AppTest.from_file(router, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    board = next(d.value for d in at.dataframe if "accuracy (95% CI)" in d.value.columns)
    assert any("★ tiny ensemble (ens, bundled)" in str(r) for r in board["run"])
    assert board["run"].str.contains("bundled").sum() == 3
    at.switch_page("views/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    picked = at.selectbox(key="pred_model")
    assert picked.value == "run:ens"  # the id, default and accuracy first; the (long) title last
    assert picked.format_func(picked.value).startswith("★ ens · bundled · default · acc ")
    assert picked.format_func(picked.value).endswith(" · tiny ensemble")
    assert any("Model card: tiny ensemble" in e.label for e in at.get("expander"))
    at.switch_page("views/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "models: **★ ens, ★ m0**" in " ".join(str(e.value) for e in at.get("caption"))  # by their stable ids
    metrics = next(d.value for d in at.dataframe if "accuracy (95% CI)" in d.value.columns)
    assert UNSEEN_COLUMN not in metrics  # synthetic faces: no test face has a twin in train, nothing to say
    card = bundled.get_bundled("m0").card()
    n = card["figures"]["n"]
    card["figures"]["train_twins"] = {"n_twins": 2, "accuracy_twins": 1.0, "n_rest": n - 2, "accuracy_rest": 0.5}
    bundled.update_card("m0", card)  # as if two of its test faces had a copy in train
    at.run()
    metrics = next(d.value for d in at.dataframe if "accuracy (95% CI)" in d.value.columns)
    assert metrics[UNSEEN_COLUMN].tolist() == [f"{bundled.get_bundled('ens').card()['figures']['accuracy']:.1%} of {n}",
                                                f"50.0% of {n - 2}"], metrics
    assert "no pixel-identical copy among the images the model trained on" in " ".join(
        str(e.value) for e in at.get("caption"))


def test_update_card_rewrites_the_card_and_its_checksums_only(scored_shelf):
    before = {b.id: b for b in bundled.list_bundled()}
    card = before["m1"].card()
    assert card["figures"]["train_twins"]["n_twins"] == 0  # synthetic data: no test image has a train twin
    card["figures"]["train_twins"] = {"n_twins": 3, "accuracy_twins": 1.0, "n_rest": 1, "accuracy_rest": 0.0}
    after = bundled.update_card("m1", card)
    bundled.verify(after)  # the manifest's checksums follow the new card
    assert after.card()["figures"]["train_twins"]["n_rest"] == 1
    assert "3 image(s) have a pixel-identical twin" in (after.path / "card.md").read_text()
    assert [b.id for b in bundled.list_bundled()] == list(before)  # its place in the manifest kept
    changed = {n for n, d in after.sha256.items() if d != before["m1"].sha256[n]}
    assert changed == {"card.json", "card.md"}
    (after.path / "model.keras").write_bytes(b"broken")
    with pytest.raises(bundled.BundledError, match="model.keras"):
        bundled.update_card("m1", card)  # never over a damaged entry


def test_train_twins_script_tables_the_accuracy_by_distance_to_train(scored_shelf, monkeypatch, capsys):
    script = _experiment_script("train_twins")
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    assert script.nearest_distance(np.stack([ref[2], 255 - ref[0]]), ref).tolist()[0] == 0
    monkeypatch.setattr("sys.argv", ["train_twins.py", "ens", "m0"])
    script.main()
    lines = capsys.readouterr().out.splitlines()
    assert "pixel-identical (0 faces)" in lines[0] and len(lines) == 4
    for line, bid in zip(lines[2:], ("ens", "m0")):
        accuracy = bundled.get_bundled(bid).card()["figures"]["accuracy"]
        assert line.startswith(f"| {bid} | –") and line.endswith(f"| {accuracy:.1%} |"), line


def test_bundle_script_describes_every_option_that_changes_what_is_learned():
    from fer_core.training.config import config_to_dict, load_config

    script = _experiment_script("bundle_models")
    base = {"name": "r", "data": {"path": "synthetic"}, "model": {"name": "fer_net"}}
    plain = script.recipe_of(config_to_dict(load_config(base)))
    assert plain.startswith("fer_net, adam lr 0.001 (plateau_halve), weight decay 0.0") and ";" in plain
    assert "SWA" not in plain and "teacher" not in plain and "momentum" not in plain
    rich = script.recipe_of(config_to_dict(load_config({
        **base, "model": {"name": "fer_net", "kwargs": {"deep": True}},
        "train": {"optimizer": "sgd", "momentum": 0.8, "swa_epochs": 12, "swa_lr": 2e-4, "ema": 0.999,
                  "teacher": "fer2013-fast", "teacher_weight": 0.25, "early_stopping": 7, "time_limit_min": 30},
        "augment": {"cutmix": 1.0, "corruptions": ["lighting"]}})))
    for part in ("fer_net {'deep': True}, sgd (momentum 0.8)", "cutmix 1.0", "corruptions ['lighting']",
                 "75% labels + 25% the probabilities of teacher fer2013-fast", "EMA of the weights (momentum 0.999)",
                 "12 epochs of SWA at lr 0.0002", "early stopping after 7 epochs", "time budget of 30 min"):
        assert part in rich, part
    assert "augmentation: off" in script.recipe_of(config_to_dict(load_config({**base, "augment": {"enabled": False}})))
    nesterov = load_config({**base, "train": {"optimizer": "sgd", "nesterov": True}})
    assert "sgd (Nesterov momentum 0.9)" in script.recipe_of(config_to_dict(nesterov))
    bf16 = load_config({**base, "train": {"precision": "mixed_bfloat16"}})
    assert "trained in mixed_bfloat16" in script.recipe_of(config_to_dict(bf16))
    assert "trained in" not in script.recipe_of(config_to_dict(nesterov))


def test_bundle_models_script_float16_and_remove(tmp_path, monkeypatch, capsys):
    """experiments/bundle_models.py end to end on a 1-epoch synthetic run: half-size weights whose
    card, predictions and record are all recomputed from what ships; then removal."""
    import sys

    from fer_core.cli import main as cli
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('name = "tiny"\n[data]\npath = "synthetic:n=300,seed=3"\n[model]\nname = "baseline_cnn"\n'
                   '[train]\nepochs = 1\nbatch_size = 32\nseed = 0\n[eval]\ntta = "flip"\n')
    assert cli(["train", str(cfg)]) == 0
    (run,) = [r.path for r in RunStore(tmp_path / "home").list(bundled=False)]
    script = _experiment_script("bundle_models")
    monkeypatch.setattr(sys, "argv", ["bundle_models.py", "--model", str(run), "tiny-a", "Tiny A", "--float16"])
    script.main()
    b = bundled.get_bundled("tiny-a")
    card, metrics = b.card(), json.loads((b.path / "metrics.json").read_text())
    assert card["weights_storage"].startswith("float16") and metrics["weights_storage"] == "float16"
    assert "| weights storage | float16" in (b.path / "card.md").read_text()
    assert b.record["source_run"] == json.loads((run / "run.json").read_text())["id"]
    assert b.record["test_accuracy"] == metrics["accuracy"] == card["figures"]["accuracy"]
    assert metrics["accuracy_run"] == json.loads((run / "metrics.json").read_text())["accuracy"]
    with np.load(b.path / "predictions.npz") as npz:
        assert float((npz["probs"].argmax(1) == npz["labels"]).mean()) == pytest.approx(card["figures"]["accuracy"])
    assert (b.path / "model.keras").stat().st_size < 0.6 * (run / "model.keras").stat().st_size
    assert bundled.default_id() == "tiny-a"
    with pytest.raises(BundledError, match="is `default`"):
        bundled.uninstall_bundled("tiny-a")
    # by name, the model predicts and is scored with the TTA of its card, and reproduces its figure
    from fer_core.inference import Predictor, default_tta

    run_id = json.loads((run / "run.json").read_text())["id"]
    assert default_tta("tiny-a") == default_tta("default") == default_tta(run_id) == default_tta(run) == "flip"
    assert default_tta(b.path / "model.keras") == "flip" and Predictor.from_ref("tiny-a").tta == "flip"
    assert Predictor.from_ref("tiny-a", tta="none").tta == "none"
    (tmp_path / "bare").mkdir()
    assert default_tta(tmp_path / "bare" / "m.keras") is None and default_tta(tmp_path / "e.json") is None
    capsys.readouterr()
    out = tmp_path / "eval.json"
    assert cli(["evaluate", "tiny-a", "--data", "synthetic:n=300,seed=3", "--split", "test", "--json", str(out)]) == 0
    assert "TTA flip (the model's own" in capsys.readouterr().out
    assert json.loads(out.read_text())["accuracy"] == pytest.approx(card["figures"]["accuracy"], abs=1e-9)
    # re-stored from its own folder with the TTA validation chose: the card, record and default follow
    monkeypatch.setattr(sys, "argv", ["bundle_models.py", "--model", str(b.path), "tiny-a", "Tiny A", "--float16",
                                      "--single-tta", "tencrop"])
    script.main()
    b = bundled.get_bundled("tiny-a")
    card = b.card()
    assert card["figures"]["tta"] == default_tta("tiny-a") == "tencrop" and "tencrop (chosen on" in card["recipe"]
    assert b.record["source_run"] == run_id and b.record["test_accuracy"] == card["figures"]["accuracy"]
    assert json.loads((b.path / "metrics.json").read_text())["accuracy_run"] == metrics["accuracy_run"]
    assert cli(["evaluate", "tiny-a", "--data", "synthetic:n=300,seed=3", "--split", "test", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["accuracy"] == pytest.approx(card["figures"]["accuracy"], abs=1e-9)




def test_pick_ensemble_policies_are_scored_on_held_out_faces():
    """experiments/pick_ensemble.py --policies: each way of building the ensemble picks on some
    validation faces and is scored on the others. A member that is right on every face, beside two
    that agree on the same wrong class: picking finds the good one; averaging all of them is outvoted."""
    n, classes = 200, 3
    y = np.arange(n) % classes
    good, wrong = np.eye(classes)[y], np.eye(classes)[(y + 1) % classes] * 0.9 + 0.05
    probs = {"good": good, "bad1": wrong, "bad2": wrong.copy()}
    scores = _experiment_script("pick_ensemble").policy_cv(probs, y, min_size=1, folds=4, repeats=3)
    assert set(scores) == {"best subset", "all", "weighted"}  # top 3 would be all of them
    assert all(len(v) == 12 for v in scores.values())
    assert (scores["best subset"] == 1.0).all() and (scores["all"] == 0.0).all()
    assert (scores["weighted"] == 1.0).all()  # the fitted weights go to the good member
    # with half the faces flipped for "good", the held-out score is that of the picked member on them
    noisy = good.copy()
    noisy[::2] = np.eye(classes)[(y[::2] + 2) % classes]
    scores = _experiment_script("pick_ensemble").policy_cv({**probs, "good": noisy}, y, min_size=1, folds=2, repeats=5)
    assert 0.4 < scores["best subset"].mean() < 0.6 and scores["all"].max() < 0.6


def test_pick_ensemble_fit_weights_minimises_the_log_loss():
    """pick_ensemble.fit_weights: the weights of the vote with the least log-loss. Two members right
    on alternate halves of the faces weigh the same; a member no better than chance weighs ~0."""
    fit_weights = _experiment_script("pick_ensemble").fit_weights
    n, classes = 100, 4
    y = np.arange(n) % classes
    right, other = np.eye(classes)[y] * 0.7 + 0.075, np.eye(classes)[(y + 1) % classes] * 0.7 + 0.075
    even = np.arange(n)[:, None] % 2 == 0
    a, b = np.where(even, right, other), np.where(even, other, right)
    w = fit_weights(np.stack([a, b]), y)
    assert w == pytest.approx([0.5, 0.5], abs=1e-3) and w.sum() == pytest.approx(1.0)
    w = fit_weights(np.stack([right, np.full((n, classes), 1 / classes), b]), y)
    assert w[0] > 0.95 and w.min() >= 0 and w.sum() == pytest.approx(1.0)
    # the least log-loss: no small move of the weights lowers it
    loss = lambda w: -np.log(np.einsum("m,mn->n", w, np.stack([a, right, b])[:, np.arange(n), y])).mean()
    best = fit_weights(np.stack([a, right, b]), y)
    for step in np.eye(3) * 0.01:
        moved = np.clip(best + step, 0, None)
        assert loss(best) <= loss(moved / moved.sum()) + 1e-6  # zero weights are only approached (softmax)


def test_pick_ensemble_spread_vote_gives_the_jth_member_the_jth_pair():
    script = _experiment_script("pick_ensemble")
    ids = [f"m{i}" for i in range(7)]
    pairs = {(m, p): np.full((2, 7), 10.0 * i + p) for i, m in enumerate(ids) for p in range(6)}
    got = script.vote({}, pairs, tuple(ids), "spread")
    np.testing.assert_allclose(got, np.mean([10.0 * i + i % 6 for i in range(7)]))
    # a subset's order, not the member's place among all ids, picks the pair
    np.testing.assert_allclose(script.vote({}, pairs, ("m3", "m5"), "spread"), (30.0 + 51.0) / 2)
    probs = {("m0", "flip"): np.ones((2, 7)), ("m1", "flip"): np.zeros((2, 7))}
    np.testing.assert_allclose(script.vote(probs, {}, ("m0", "m1"), "flip"), 0.5)


def test_pick_ensemble_tta_by_size():
    script = _experiment_script("pick_ensemble")
    rows = [(0.70, "a + b", "flip", 0, 0), (0.72, "a + b", "spread", 0, 0), (0.71, "a + c", "flip", 0, 0),
            (0.71, "a + c", "spread", 0, 0), (0.75, "a + b + c", "flip", 0, 0), (0.74, "a + b + c", "spread", 0, 0)]
    got = script.tta_by_size(rows, ["flip", "spread"])
    assert list(got) == [2, 3] and got[2][0] == 2 and got[3][0] == 1
    assert got[2][1] == pytest.approx({"flip": 0.705, "spread": 0.715})
    assert got[2][2]["spread"] == 0.5 and got[3][2]["spread"] == 0.0 and got[2][2]["flip"] == 0.0


def test_pick_ensemble_member_effects():
    """experiments/pick_ensemble.py's member effect: mean accuracy of the subsets of a size holding
    a member minus those without it; sizes where one kind is missing are left out."""
    script = _experiment_script("pick_ensemble")
    rows = [(0.60, "a", "flip", 0, 0), (0.70, "b", "flip", 0, 0), (0.50, "c", "flip", 0, 0),
            (0.72, "a + b", "flip", 0, 0), (0.58, "a + c", "flip", 0, 0), (0.66, "b + c", "flip", 0, 0),
            (0.69, "a + b + c", "flip", 0, 0)]
    effects = script.member_effects(rows, ["a", "b", "c"])
    assert effects["c", "flip"][1] == pytest.approx(0.50 - 0.65)
    assert effects["c", "flip"][2] == pytest.approx((0.58 + 0.66) / 2 - 0.72)
    assert effects["b", "flip"][2] == pytest.approx((0.72 + 0.66) / 2 - 0.58)
    assert 3 not in effects["a", "flip"]  # every size-3 subset holds every member: nothing to compare


def test_bundle_models_default_is_kept_unless_named(shelf, capsys):
    """bundle_models.py keeps ``default`` when it bundles more (the choice was made on validation,
    e.g. by ``pick_ensemble.py --policies``), and ``--default ID`` moves it to a bundled entry only."""
    script = _experiment_script("bundle_models")
    script.set_default(None, shelf_was_empty=False)
    assert bundled.default_id() == "ens" and "default stays ens" in capsys.readouterr().out
    script.set_default("m1", shelf_was_empty=False)
    assert bundled.default_id() == "m1" and bundled.get_bundled("default").id == "m1"
    bundled.verify(bundled.get_bundled("m1"))
    with pytest.raises(BundledError, match="no bundled model 'nope'"):
        script.set_default("nope", shelf_was_empty=False)
    assert bundled.default_id() == "m1"
