"""The command line end to end on synthetic data: data, evaluate, compare, ensemble, robustness, export,
explain, whatif, predict."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core import CLASSES
from fer_core.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]

DATA = "synthetic:n=400,seed=5"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A small model trained for two epochs on the synthetic set, saved as .keras."""
    import keras

    from fer_core.data import load_dataset
    from fer_core.models import create_model

    ds = load_dataset(DATA).split("train")
    keras.utils.set_random_seed(0)
    model = create_model("baseline_cnn", (48, 48, 1), 7)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(ds.images[..., None].astype("float32"), ds.labels, epochs=2, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("cli") / "model.keras"
    model.save(path)
    return path


def test_data_info_and_audit(tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert main(["data", "info", DATA, "--json", str(tmp_path / "info.json")]) == 0
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["synthetic"] is True and info["n_images"] == 400 and info["classes"] == list(CLASSES)
    assert main(["data", "audit", DATA, "--json", str(out)]) == 0
    assert "synthetic" in capsys.readouterr().out
    assert json.loads(out.read_text())["summary"]["n_images"] == 400


def test_data_add_list_remove_and_a_registered_name_as_path(tmp_path, monkeypatch, capsys):
    import cv2

    from fer_core.data import load_dataset

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    faces = load_dataset("synthetic:n=70,seed=2")
    folder = tmp_path / "mine"
    for i, (img, lab, split) in enumerate(zip(faces.images, faces.labels, faces.splits)):
        d = folder / ("test" if split == "test" else "train") / faces.classes[lab]
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"{i}.png"), img)
    assert main(["data", "list", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    assert main(["data", "add", str(folder), "--name", "my faces"]) == 0
    assert "registered 'my faces'" in capsys.readouterr().out
    assert main(["data", "add", str(tmp_path / "gone"), "--name", "my faces", "--replace"]) == 2
    capsys.readouterr()
    assert main(["data", "list", "--json"]) == 0  # a failed replacement keeps the old entry
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["name"], entry["path"], entry["exists"]) == ("my faces", str(folder.resolve()), True)
    assert main(["data", "info", "my faces", "--json", str(tmp_path / "info.json")]) == 0
    assert json.loads((tmp_path / "info.json").read_text())["n_images"] == 70
    assert main(["data", "info", "my face"]) == 2
    assert "did you mean 'my faces'" in capsys.readouterr().err
    for command in (["evaluate", "x"], ["compare", "x", "y"]):
        assert main([*command, "--data", "my faces", "--split", "val"]) == 2  # the folder has train and test
        assert "mine has no 'val' split; it has ['train', 'test']" in capsys.readouterr().err
    assert main(["data", "remove", "my faces"]) == 0 and main(["data", "remove", "my faces"]) == 2
    capsys.readouterr()
    assert main(["data", "list", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    assert folder.is_dir()  # its files are left alone


@pytest.mark.parametrize("command", [["evaluate", "m.keras", "--data", DATA], ["predict", "m.keras", "p.jpg"],
                                     ["compare", "a", "b"], ["explain", "m.keras"], ["whatif", "m.keras"]])
def test_tta_option_takes_one_mode_or_modes_joined_by_plus(command, capsys):
    parser = build_parser()
    assert parser.parse_args(command + ["--tta", "tencrop"]).tta == "tencrop"
    assert parser.parse_args(command + ["--tta", "flip+shift"]).tta == "flip+shift"
    assert parser.parse_args(command + ["--tta", "shift+flip+none"]).tta == "flip+shift"  # canonical order
    assert parser.parse_args(command + ["--tta", "none"]).tta == "none"
    for bad, says in (("flip+blur", "Unknown tta mode(s) ['blur']"), ("spread+flip", "takes no other mode"), ("", "Unknown tta")):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(command + ["--tta", bad])
        assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_runs_show_says_how_many_test_faces_have_a_train_twin(tmp_path, monkeypatch, capsys):
    from fer_core import bundled
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path))
    run = RunStore(tmp_path).create({"name": "r", "model": {"name": "five_layer"}}, status="done")
    (run.path / "metrics.json").write_text(json.dumps(
        {"accuracy": 0.7, "train_twins": {"n_twins": 3, "accuracy_twins": 1.0, "n_rest": 7, "accuracy_rest": 4 / 7}}))
    assert main(["runs", "show", run.id]) == 0
    assert "train twins: 3 image(s) have a pixel-identical twin in the train split (accuracy on them 100.0%); " \
           "accuracy on the other 7: 57.1%" in capsys.readouterr().out
    (run.path / "metrics.json").write_text(json.dumps({"accuracy": 0.7}))  # a run from before: no line
    assert main(["runs", "show", run.id]) == 0 and "train twins" not in capsys.readouterr().out
    if bundled.default_id():  # a bundled model: from its card
        card = bundled.get_bundled("default").card()["figures"]["train_twins"]
        assert main(["runs", "show", "default"]) == 0
        assert f"{card['n_twins']} image(s) have a pixel-identical twin" in capsys.readouterr().out


def test_evaluate_says_when_the_loader_split_a_folder_of_class_folders(tiny_model_file, tmp_path, capsys):
    import cv2

    rng = np.random.default_rng(0)
    for c in CLASSES:
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(10):
            cv2.imwrite(str(tmp_path / "data" / c / f"{i}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    data = str(tmp_path / "data")
    assert main(["evaluate", tiny_model_file, "--data", data, "--tta", "none"]) == 0
    out = capsys.readouterr().out
    assert "note: data has no split folders, so its images were split at random by class, train/val/test " \
           "80/10/10 %, seed 0; this scores the test part only (7 of 70 images). `--split all`" in out
    assert main(["evaluate", tiny_model_file, "--data", data, "--tta", "none", "--split", "all"]) == 0
    out = capsys.readouterr().out
    assert "note:" not in out and "70 images" in out


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_runs_show_against_holds_a_run_against_another_at_the_same_epochs(tmp_path, monkeypatch, capsys):
    from fer_core.curves import curve_gap
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path))
    store = RunStore(tmp_path)
    runs = {}
    for name, base, epochs in (("old", 0.50, 30), ("new", 0.53, 12)):
        run = store.create({"name": name, "model": {"name": "five_layer"}}, status="done")
        hist = [{"epoch": e, "val_accuracy": base + 0.004 * e + 0.01 * (e % 2)} for e in range(1, epochs + 1)]
        (run.path / "history.json").write_text(json.dumps(hist))
        runs[name] = (run.id, hist)
    (new, new_hist), (old, old_hist) = runs["new"], runs["old"]
    want = curve_gap(new_hist, old_hist, window=5)
    assert main(["runs", "show", new, "--against", old, "--window", "5"]) == 0
    assert f"against: {old}: {want.text}" in capsys.readouterr().out and want.text.startswith("epochs 8-12:")
    assert main(["runs", "show", new, "--against", old, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["against"]
    assert got["run"] == old and (got["first"], got["last"]) == (3, 12)  # the default window: 10 epochs
    assert got["mean"] - got["ref_mean"] == pytest.approx(0.03) and got["text"] == curve_gap(new_hist, old_hist).text
    empty = store.create({"name": "empty", "model": {"name": "five_layer"}}, status="created")
    assert main(["runs", "show", new, "--against", empty.id]) == 0
    assert "no epoch in common" in capsys.readouterr().out
    assert main(["runs", "show", new, "--against", "nope-1234"]) == 2 and "No run with id" in capsys.readouterr().err


def test_predict_reports_photos_it_cannot_open_without_loading_a_model(tmp_path, capsys):
    """Missing photos (or a folder) are reported row by row; with nothing to read, the model is not
    even loaded: a run id that does not exist goes unremarked."""
    out = tmp_path / "rows.csv"
    assert main(["predict", "no-such-run", str(tmp_path / "missing.jpg"), str(tmp_path), "--csv", str(out)]) == 2
    err = capsys.readouterr().err
    assert "missing.jpg: cannot read file (No such file or directory)" in err and "Is a directory" in err
    assert "no-such-run" not in err
    rows = out.read_text().splitlines()
    assert rows[0] == "source,face,status" and len(rows) == 3 and all(",0,error: " in r for r in rows[1:])


@pytest.mark.slow
def test_evaluate(model_path, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(model_path), "--data", DATA, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    text = capsys.readouterr().out
    assert "accuracy" in text.lower()
    assert 0 <= report["accuracy"] <= 1 and len(report["confusion_matrix"]) == 7
    # Computed from real predictions: agrees with a direct evaluation.
    import keras

    from fer_core.data import load_dataset
    from fer_core.evaluation import predict_probs

    test = load_dataset(DATA).split("test")
    probs = predict_probs(keras.models.load_model(model_path), test.images)
    assert report["accuracy"] == pytest.approx(float((probs.argmax(1) == test.labels).mean()))
    assert main(["evaluate", str(model_path), "--data", DATA, "--split", "val", "--tta", "flip"]) == 0
    # Modes joined by '+' score their union: the same accuracy as the library given the list.
    out = tmp_path / "union.json"
    assert main(["evaluate", str(model_path), "--data", DATA, "--tta", "flip+shift", "--json", str(out)]) == 0
    both = predict_probs(keras.models.load_model(model_path), test.images, tta=["flip", "shift"])
    assert json.loads(out.read_text())["accuracy"] == pytest.approx(float((both.argmax(1) == test.labels).mean()))


@pytest.mark.slow
def test_robustness(model_path, tmp_path):
    out = tmp_path / "rob.json"
    assert main(["robustness", str(model_path), "--data", DATA, "--corruptions", "lighting", "eye_band",
                 "--severities", "1", "5", "--sample", "30", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["table"]
    assert {r["severity"] for r in rows} == {0, 1, 5}
    assert {r["corruption"] for r in rows} >= {"clean", "brightness_down", "eye_band"}
    assert all(r["n"] == 30 for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_export_matches_keras_top1(model_path, tmp_path, fmt, capsys):
    out = tmp_path / f"m.{fmt}"
    assert main(["export", str(model_path), "--format", fmt, "--out", str(out), "--data", DATA]) == 0
    assert out.is_file() and "top-1 agreement 100.00%" in capsys.readouterr().out
    from fer_core.export import ExportedModel

    exported = ExportedModel(out)
    x = np.random.default_rng(0).uniform(0, 255, (5, 48, 48, 1)).astype(np.float32)
    assert exported.predict_on_batch(x).shape == (5, 7)


@pytest.mark.slow
def test_explain_writes_maps_of_test_images_mistakes_and_photos(model_path, tmp_path, capsys):
    import cv2
    import keras

    from fer_core.data import load_dataset
    from fer_core.evaluation import predict_probs
    from fer_core.explain import explain

    test = load_dataset(DATA).split("test")
    photo, broken = tmp_path / "me.png", tmp_path / "broken.jpg"
    cv2.imwrite(str(photo), cv2.resize(test.images[1], (160, 160)))
    broken.write_bytes(b"not an image")
    out, rec = tmp_path / "maps", tmp_path / "explain.json"
    argv = ["explain", str(model_path), str(photo), str(broken), "--data", DATA, "--index", "0", "3",
            "--mistakes", "2", "--out", str(out), "--json", str(rec)]
    assert main(argv) == 2  # the broken file is reported; every other face still gets its map
    assert "broken.jpg" in capsys.readouterr().err
    rows = json.loads(rec.read_text())
    assert [r.get("error", "")[:10] for r in rows][:1] == [f"{broken}"[:10]]
    faces = [r for r in rows if "error" not in r]
    assert [r["map"].rsplit("/", 1)[1] for r in faces][:3] == ["me_gradcam.png", "test_0_gradcam.png",
                                                               "test_3_gradcam.png"]
    model = keras.models.load_model(model_path)
    for r, i in zip(faces[1:3], (0, 3)):  # real predictions and maps of the very images
        probs = predict_probs(model, test.images[i][None])[0]
        assert r["true"] == CLASSES[test.labels[i]] and r["predicted"] == CLASSES[int(probs.argmax())]
        assert r["confidence"] == pytest.approx(float(probs.max()), abs=1e-5)
        heat = explain(model, test.images[i], "gradcam", int(probs.argmax()))
        y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        assert r["peak"] == [round((y + 0.5) / heat.shape[0], 3), round((x + 0.5) / heat.shape[1], 3)]
    mistakes = faces[3:]
    assert len(mistakes) == 2 and all(m["predicted"] != m["true"] for m in mistakes)
    assert mistakes[0]["confidence"] >= mistakes[1]["confidence"]
    for r in faces:
        panel = cv2.imread(r["map"])
        assert panel.shape[0] >= 144 and panel.shape[1] == 2 * panel.shape[0] + 8
    assert main(["explain", str(model_path), str(photo), "--class", "suprise", "--out", str(out)]) == 2
    assert "did you mean 'surprise'" in capsys.readouterr().err
    assert main(["explain", str(model_path), str(photo), "--method", "occlusion", "--class", "fear",
                 "--out", str(out)]) == 0
    assert "occlusion map of 'fear'" in capsys.readouterr().out and (out / "me_occlusion.png").is_file()


@pytest.mark.slow
def test_compare_scores_models_on_the_same_images_and_tests_the_difference(model_path, tiny_model_file, tmp_path,
                                                                            monkeypatch, capsys):
    import keras

    from fer_core.data import load_dataset
    from fer_core.evaluation import predict_probs

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    out = tmp_path / "cmp.json"
    assert main(["compare", str(model_path), tiny_model_file, "--data", DATA, "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    test = load_dataset(DATA).split("test")
    acc = [float((predict_probs(keras.models.load_model(m), test.images).argmax(1) == test.labels).mean())
           for m in (model_path, tiny_model_file)]
    assert [r["images"] for r in got["metrics"]] == [len(test.labels)] * 2
    assert [float(r["accuracy (95% CI)"].split("%")[0]) for r in got["metrics"]] == [round(100 * a, 1) for a in acc]
    (t,) = got["paired_tests"]
    assert (t["model_a"], t["model_b"], t["n_images"]) == (str(model_path), tiny_model_file, len(test.labels))
    assert (t["a"], t["b"]) == pytest.approx(acc)
    assert t["diff"] == pytest.approx(acc[0] - acc[1]) and t["decision"] in ("A is better", "B is better",
                                                                            "no clear difference")
    assert (t["ci_low"] > 0) == (t["decision"] == "A is better")
    capsys.readouterr()
    assert main(["compare", str(model_path), tiny_model_file]) == 2  # files have no saved predictions
    assert "give --data PATH" in capsys.readouterr().err
    assert main(["compare", str(model_path), str(model_path), "--data", DATA]) == 2
    assert "two or more different models" in capsys.readouterr().err


@pytest.mark.slow
def test_ensemble_is_saved_where_the_dashboard_looks_and_scored_on_real_predictions(tmp_path, monkeypatch, capsys):
    from fer_core.evaluation import predict_probs
    from fer_core.evaluation.ensemble import load_ensemble
    from fer_core.evaluation.evalset import run_eval_set
    from fer_core.runs import RunStore

    home = tmp_path / "home"
    monkeypatch.setenv("FER_STUDIO_HOME", str(home))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'name = "tiny"\n[data]\npath = "{DATA}"\n[model]\nname = "baseline_cnn"\n'
                   '[train]\nepochs = 1\nbatch_size = 32\n')
    for seed in (1, 2):
        assert main(["train", str(cfg), "--set", f"train.seed={seed}"]) == 0
    a, b = sorted(r.id for r in RunStore(home).list(bundled=False))
    out = tmp_path / "ens.json"
    capsys.readouterr()
    assert main(["ensemble", "duo pair", a, b, "--weights", "3", "1", "--tta", "flip", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    path = home / "ensembles" / "duo_pair.json"
    assert got["path"] == str(path) and got["members"] == [a, b]
    ens = load_ensemble(path)
    assert ens.tta == "flip" and list(ens.weights) == pytest.approx([0.75, 0.25])
    es = run_eval_set(RunStore(home).get(a))
    assert got["accuracy"] == pytest.approx(float((predict_probs(ens, es.images).argmax(1) == es.labels).mean()))
    assert got["n_images"] == len(es.labels) and set(got["member_accuracy"]) == {a, b}
    assert main(["ensemble", "duo pair", a, b]) == 2  # nothing replaced without --force
    assert "--force" in capsys.readouterr().err
    assert main(["ensemble", "duo pair", a, b, "--force"]) == 0 and load_ensemble(path).tta == "none"
    for bad in (["ensemble", "solo", a], ["ensemble", "twice", a, a], ["ensemble", "ghost", a, "no-such-run"],
                ["ensemble", "nested", a, "default"]):
        assert main(bad) == 2, bad
    assert not (home / "ensembles" / "solo.json").exists() and not (home / "ensembles" / "ghost.json").exists()
    capsys.readouterr()
    assert main(["compare", a, b, "--json"]) == 0  # runs: their saved test predictions, no --data needed
    assert json.loads(capsys.readouterr().out)["paired_tests"][0]["n_images"] == len(es.labels)


@pytest.mark.slow
def test_whatif_edits_faces_and_compares_real_predictions(model_path, tmp_path, capsys):
    import cv2
    import keras

    from fer_core.data import load_dataset
    from fer_core.evaluation import predict_probs
    from fer_core.robustness.whatif import WhatIf, apply_whatif

    test = load_dataset(DATA).split("test")
    out, rec = tmp_path / "whatif", tmp_path / "whatif.json"
    assert main(["whatif", str(model_path), "--data", DATA, "--index", "2", "--set", "occlusion=eye_band",
                 "occlusion_size=0.4", "blur=1.5", "--out", str(out), "--json", str(rec)]) == 0
    (row,) = json.loads(rec.read_text())
    assert row["settings"] == {"blur": 1.5, "occlusion": "eye_band", "occlusion_size": 0.4}
    edited = apply_whatif(test.images[2], WhatIf(blur=1.5, occlusion="eye_band", occlusion_size=0.4))
    before, after = predict_probs(keras.models.load_model(model_path), np.stack([test.images[2], edited]))
    assert list(row["before"]["probs"].values()) == pytest.approx(before.tolist(), abs=1e-5)
    assert list(row["after"]["probs"].values()) == pytest.approx(after.tolist(), abs=1e-5)
    assert row["prediction_changed"] == (before.argmax() != after.argmax())
    picture = cv2.imread(row["picture"], cv2.IMREAD_GRAYSCALE)
    assert picture.shape[1] == 2 * picture.shape[0] + 8 and not np.array_equal(picture[:, :picture.shape[0]],
                                                                               picture[:, -picture.shape[0]:])
    assert main(["whatif", str(model_path), "--data", DATA, "--index", "2", "--out", str(out), "--json", str(rec)]) == 0
    (row,) = json.loads(rec.read_text())  # nothing set: nothing moves
    assert row["settings"] == {} and row["before"] == row["after"]
    capsys.readouterr()
    for bad, says in ((["--set", "brightnes=0.1"], "did you mean 'brightness'"), (["--set", "blur=99"], "blur must be"),
                      (["--set", "jpeg_quality=high"], "needs a whole number"), ([], "nothing to edit")):
        assert main(["whatif", str(model_path), *(["--data", DATA, "--index", "2"] if bad else []), *bad]) == 2
        assert says in capsys.readouterr().err, says


def test_runs_command_lists_nothing_then_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path))
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.slow
def test_bench_commands(tmp_path):
    out = tmp_path / "bench_train.json"
    assert main(["bench", "train", "--models", "five_layer", "--seconds", "1", "--rounds", "1",
                 "--min-batches", "3", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["models"][0]
    assert row["model"] == "five_layer" and row["plain_fit_img_s"] > 0 and row["pipeline_img_s"] > 0
    pred = tmp_path / "bench_predict.json"
    assert main(["bench", "predict", "--models", "five_layer", "--repeats", "2", "--batch", "16",
                 "--formats", "keras", "--json", str(pred)]) == 0
    rows = json.loads(pred.read_text())["rows"]
    assert rows[0]["runtime"] == "keras" and rows[0]["latency_median_ms"] > 0


def test_bench_predict_times_an_ensemble_in_every_runtime(tiny_model_file):
    """An ensemble's ONNX row runs its members exported one by one, as ``predict --runtime onnx`` does."""
    from fer_core.bench import bench_predict
    from fer_core.evaluation import Ensemble
    from fer_core.models.files import load_model_file

    model = load_model_file(tiny_model_file)
    table = bench_predict({"ens": Ensemble([model, model], tta="flip"), "one": model}, repeats=1, batch=4,
                          formats=("keras", "onnx"))
    assert list(zip(table["model"], table["runtime"])) == [("ens", "keras"), ("ens", "onnx"), ("one", "keras"),
                                                           ("one", "onnx")]
    assert (table["latency_median_ms"] > 0).all()


def test_bench_predict_times_votes_fused_and_unfused(tiny_model_file, tmp_path, capsys):
    out = tmp_path / "votes.json"
    assert main(["bench", "predict", "--vote", tiny_model_file, tiny_model_file, "--vote-tta", "flip", "flip+shift",
                 "--unfused", "--repeats", "1", "--batch", "4", "--formats", "keras", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["model"] for r in rows] == ["vote of 2, flip", "vote of 2, flip, unfused", "vote of 2, flip+shift",
                                          "vote of 2, flip+shift, unfused"]
    assert [r["tta"] for r in rows][:1] == ["flip"] and all(r["latency_median_ms"] > 0 for r in rows)
    capsys.readouterr()
    assert main(["bench", "predict", "--vote", tiny_model_file, "--formats", "keras"]) == 2
    assert "at least two members" in capsys.readouterr().err


def test_json_convention_bare_prints_and_out_writes(tmp_path, monkeypatch, capsys):
    """Every ``--json``: bare prints only JSON on stdout; ``--json OUT`` writes OUT and says so."""
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))  # its own empty studio, whatever ran before
    assert main(["data", "info", DATA, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_images"] == 400
    out = tmp_path / "info.json"
    assert main(["data", "info", DATA, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "synthetic" in text and text.rstrip().endswith(f"wrote {out}")
    assert json.loads(out.read_text())["n_images"] == 400
    runs = tmp_path / "runs.json"
    assert main(["runs", "list", "--json", str(runs)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {runs}" and json.loads(runs.read_text()) == []


def test_help_lists_every_command_with_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in ("data", "train", "jobs", "runs", "evaluate", "compare", "ensemble", "robustness", "predict",
                    "explain", "whatif", "export", "bench"):
        assert f"\n    {command} " in text or f"\n    {command}\n" in text, command

    def check(parser, path):  # every (sub)command has a one-line help and a description
        for action in parser._actions:
            if hasattr(action, "_choices_actions"):
                assert all(a.help for a in action._choices_actions), path
                for name, child in action.choices.items():
                    assert child.description, [*path, name]
                    check(child, [*path, name])

    check(build_parser(), [])
    assert build_parser().parse_args(["runs", "list", "--verbose"]).verbose is True


def test_tensorflow_start_up_noise_is_hidden(model_path, tmp_path):
    """A command that imports TensorFlow prints only FER Studio's own lines on stderr."""
    from PIL import Image

    photo = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 120), 90, np.uint8)).save(photo)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(model_path), str(photo)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "no face" in proc.stdout
    for noise in ("absl::InitializeLog", "cuInit", "cuda drivers", "cpu_feature_guard",
                  "This TensorFlow binary is optimized", "oneDNN", "XNNPACK"):
        assert noise not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_runs_pack_and_unpack_carry_an_unfinished_run_to_another_home(tmp_path, monkeypatch, capsys):
    """`runs pack` copies what resumes a run (not while its job is active); `runs unpack` registers it
    in another $FER_STUDIO_HOME under its own id, and training resumes there at the next epoch."""
    from fer_core.errors import ConfigError
    from fer_core.runs import RunStore

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "a"))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'name = "tiny"\n[data]\npath = "{DATA}"\n[model]\nname = "baseline_cnn"\n'
                   '[train]\nepochs = 1\nbatch_size = 64\nseed = 0\n')
    assert main(["train", str(cfg)]) == 0
    (run,) = RunStore().list(bundled=False)
    (run.path / "teacher.npz").write_bytes(b"kept")  # the optional files travel too
    pack = tmp_path / "repo" / "checkpoints" / "tiny"
    assert main(["runs", "pack", run.id, str(pack)]) == 0
    assert sorted(p.name for p in pack.iterdir()) == sorted(
        ["checkpoint.keras", "state.json", "model.keras", "run.json", "config.toml", "history.json", "teacher.npz"])
    assert main(["runs", "pack", run.id, str(pack)]) == 0  # packing again replaces the pack
    assert (pack / "model.keras").stat().st_size < 0.6 * (run.path / "model.keras").stat().st_size  # no optimizer
    from fer_core.runs import upsert_job

    with RunStore().connect(write=True) as con:  # a job of the run is running: no pack, no delete
        upsert_job(con, {"id": "job-1", "run_id": run.id, "status": "running", "kind": "train", "created": "now"})
    for refused, how in ((lambda: RunStore().pack(run.id, pack), "job-1 --at-epoch-end --wait 900"),
                         (lambda: RunStore().delete(run.id), "job-1 --wait 60")):
        with pytest.raises(ConfigError, match=f"jobs cancel {how}"):
            refused()
    with RunStore().connect(write=True) as con:
        con.execute("UPDATE jobs SET status='cancelled' WHERE id='job-1'")
    with pytest.raises(ConfigError, match="not a pack of run"):
        RunStore().pack(run.id, cfg.parent)
    capsys.readouterr()
    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "b"))
    assert main(["runs", "unpack", str(pack)]) == 0
    printed = capsys.readouterr().out
    assert "--resume --run-dir" in printed and f"jobs resume {run.id}" in printed
    moved = RunStore().get(run.id)
    assert moved.has_checkpoint and (moved.path / "teacher.npz").read_bytes() == b"kept"
    with pytest.raises(ConfigError, match="already in"):
        RunStore().unpack(pack)
    with pytest.raises(ConfigError, match="not a run pack"):
        RunStore().unpack(tmp_path)
    (moved.path / "teacher.npz").unlink()  # not a real cache: the run has no teacher anyway
    two = tmp_path / "two.toml"
    two.write_text(cfg.read_text().replace("epochs = 1", "epochs = 2"))
    assert main(["train", str(two), "--resume", "--run-dir", str(moved.path)]) == 0
    assert len(json.loads((moved.path / "history.json").read_text())) == 2
