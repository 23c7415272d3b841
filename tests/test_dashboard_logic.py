"""The library functions the dashboard pages lay out: leaderboard, verdict, eval sets, epoch sizes,
training speed, dataset registration and display tables (small generated data, no training)."""
from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from fer_core.data import FERDataset
from fer_core.data.synthetic import make_synthetic
from fer_core.evaluation import evaluate_probs
from fer_core.runs import RunStore

CLASSES = ["a", "b", "c"]


def _report(n: int = 12, seed: int = 0, classes=CLASSES, order=None):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    p = rng.dirichlet(np.ones(3), n)
    src = np.array([f"img{i}" for i in range(n)])
    idx = np.arange(n) if order is None else order
    return evaluate_probs(y[idx], p[idx], list(classes), sources=src[idx], n_bootstrap=0)


def _finished_run(store: RunStore, name: str, labels, probs, *, sources=None, history=(), data="synthetic:n=70"):
    run = store.create({"name": name, "model": {"name": "five_layer"}, "data": {"path": data}}, status="done")
    sources = np.array([f"s{i}" for i in range(len(labels))]) if sources is None else np.asarray(sources)
    np.savez(run.path / "predictions.npz", probs=np.asarray(probs, np.float32), labels=np.asarray(labels, np.int64),
             sources=sources.astype(str), classes=np.asarray(CLASSES), split=np.asarray("test"))
    (run.path / "history.json").write_text(json.dumps(list(history)))
    return store.get(run.id)


# -- fer_core.leaderboard ------------------------------------------------------------------------
def test_leaderboard_ranks_runs_and_lists_the_ones_it_cannot_score(tmp_path):
    from fer_core.leaderboard import leaderboard

    store = RunStore(tmp_path)
    y = np.array([0, 1, 2, 0, 1, 2])
    good = _finished_run(store, "good", y, np.eye(3)[y])
    bad = _finished_run(store, "bad", y, np.eye(3)[(y + 1) % 3])
    broken = store.create({"name": "broken", "model": {"name": "x"}}, status="done")
    board = leaderboard([bad, broken, good])
    assert list(board.table["id"]) == [good.id, bad.id] and board.table["accuracy"].tolist() == [1.0, 0.0]
    assert [r.id for r, _ in board.skipped] == [broken.id]
    shown = board.display()
    assert list(shown.columns) == ["run", "model", "dataset", "synthetic", "images", "accuracy (95% CI)",
                                   "macro-F1 (95% CI)", "created"]
    assert shown["run"][0] == f"good · {good.id[-4:]}" and bool(shown["synthetic"][0])
    assert leaderboard([]).table.empty


# -- fer_core.evaluation.verdict ------------------------------------------------------------------
def test_paired_alignment_matches_images_by_source():
    from fer_core.evaluation.verdict import align_predictions

    a = _report()
    b = _report(order=np.random.default_rng(1).permutation(12)[:9])
    ya, pa, pb = align_predictions(a, b)
    assert len(ya) == 9 and np.allclose(pa, pb)  # same model, matched image by image
    assert align_predictions(a, _report(classes=["x", "b", "c"])) is None


def test_verdict_decision_and_text():
    from fer_core.evaluation.verdict import compare_reports, decision

    assert decision({"ci_low": 0.01, "ci_high": 0.2}) == "A is better"
    assert decision({"ci_low": -0.2, "ci_high": -0.01}) == "B is better"
    assert decision({"ci_low": -0.1, "ci_high": 0.1}) == "no clear difference"
    y = np.tile([0, 1, 2], 20)
    src = np.array([f"i{k}" for k in range(len(y))])
    good = evaluate_probs(y, np.eye(3)[y] * 0.91 + 0.03, CLASSES, sources=src, n_bootstrap=0)
    bad = evaluate_probs(y, np.eye(3)[(y + 1) % 3] * 0.91 + 0.03, CLASSES, sources=src, n_bootstrap=0)
    v = compare_reports(good, bad, n=200)
    assert v.decision == "A is better" and v.n_images == 60
    assert v.text.startswith("**A is better** on 60 shared images: accuracy A 1.000 vs B 0.000")
    assert "of 200 paired bootstrap resamples" in v.text and "McNemar" in v.text
    assert compare_reports(good, _report(classes=["x", "y", "z"])) is None


# -- fer_core.evaluation.evalset ------------------------------------------------------------------
def test_eval_set_takes_the_run_images_from_its_dataset_by_source():
    from fer_core.errors import FERError
    from fer_core.evaluation.evalset import confident_mistakes, eval_set

    ds = make_synthetic(21, seed=0, size=32)
    pick = np.array([5, 2, 17])
    preds = {"sources": np.asarray(ds.sources)[pick], "labels": ds.labels[pick], "classes": np.asarray(ds.classes),
             "split": np.asarray("test"), "probs": np.eye(len(ds.classes))[(ds.labels[pick] + 1) % 7]}
    es = eval_set(preds, ds)
    assert np.array_equal(es.images, ds.images[pick]) and es.split == "test" and es.synthetic
    assert es.describe(1).endswith(f"image #1 ({ds.sources[2]}), true class {ds.classes[ds.labels[2]]}")
    report = evaluate_probs(preds["labels"], preds["probs"], list(ds.classes), sources=preds["sources"],
                            n_bootstrap=0)
    mistakes = confident_mistakes(report, es, k=2)
    assert len(mistakes) == 2 and all(0 <= i < 3 and cap.startswith(f"#{i} true ") for i, cap, _ in mistakes)
    # the predicted class of each mistake is the report's (wrong) one: label + 1 here
    assert [c for _, _, c in mistakes] == [(ds.labels[pick][i] + 1) % 7 for i, _, _ in mistakes]
    with pytest.raises(FERError, match="1 of the run's 3 test images are no longer"):
        eval_set({**preds, "sources": np.array([*preds["sources"][:2], "gone"])}, ds)


def test_load_config_data_ignores_unknown_keys():
    from fer_core.evaluation.evalset import load_config_data

    ds = load_config_data({"path": "synthetic:n=21", "size": 32, "not_a_field": 1})
    assert len(ds) == 21 and ds.images.shape[1:] == (32, 32)


# -- fer_core.training.sizes ----------------------------------------------------------------------
def test_epoch_sizes_follow_the_split_subset_and_resampling_rules():
    from fer_core.training.config import DataSpec, load_config
    from fer_core.training.prepare import prepare_data
    from fer_core.training.sizes import SYNTHETIC_FRACTIONS, epoch_images, synthetic_train_counts, train_counts

    assert SYNTHETIC_FRACTIONS == (0.8, 0.1, 0.1)
    assert epoch_images([100, 10, 50]) == 160 and epoch_images([100, 10, 0], "oversample") == 200
    assert epoch_images([100, 10, 50], "class_weight") == 160 and epoch_images([0, 0], "smote") == 0
    ds = make_synthetic(140, seed=0, size=32)
    assert synthetic_train_counts(140).tolist() == np.bincount(ds.split("train").labels, minlength=7).tolist()
    assert synthetic_train_counts(140, DataSpec(subset=50)).sum() == 50
    # no val split: the val fraction of the configuration defaults is carved out as training does
    no_val = FERDataset(images=ds.images, labels=ds.labels, classes=ds.classes,
                        splits=np.where(ds.splits == "val", "train", ds.splits), sources=ds.sources, name="t")
    cfg = load_config({"name": "t", "data": {"path": "synthetic:n=140", "size": 32}})
    expected = np.bincount(prepare_data(cfg, no_val).y_train.argmax(1), minlength=7)
    assert train_counts(no_val).tolist() == expected.tolist()
    assert train_counts(no_val, DataSpec(subset=40)).sum() == 40


# -- fer_core.throughput -------------------------------------------------------------------------
def test_expected_speed_prefers_bench_then_runs_and_never_invents_one(tmp_path):
    from fer_core.throughput import bench_table, expected_rate, format_seconds

    store = RunStore(tmp_path / "home")
    missing = tmp_path / "missing.json"
    assert expected_rate("five_layer", store, missing) is None  # nothing measured: unknown
    _finished_run(store, "r1", [0], [[1, 0, 0]], history=[{"epoch": 1, "images_per_s": 100.0},
                                                           {"epoch": 2, "images_per_s": 120.0}])
    _finished_run(store, "r2", [0], [[1, 0, 0]], history=[{"epoch": 1, "images_per_s": 300.0}])
    rate = expected_rate("five_layer", store, missing)
    assert (rate.low, rate.high) == (110.0, 300.0) and "2 finished run(s)" in rate.source
    assert expected_rate("fer_net", store, missing) is None
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"batch": 64, "models": [{"model": "five_layer", "images_per_s": 640},
                                                         {"model": "x"}]}))
    rate = expected_rate("five_layer", store, bench)
    assert rate.low == rate.high == 640 and rate.epoch_seconds(3200) == (5.0, 5.0) and "benchmark" in rate.source
    assert "**5 s per epoch** for ≈ 3,200 training images" in rate.estimate(3200, 10)
    bench.write_text('{"models": {"cnn_lstm": {"train_img_s": 80}}}')
    assert bench_table(bench) == {"cnn_lstm": 80.0}
    assert [format_seconds(s) for s in (None, 45, 192, 5400)] == ["–", "45 s", "3.2 min", "1.5 h"]


def test_expected_speed_keeps_precisions_apart(tmp_path):
    from fer_core.throughput import expected_rate

    store = RunStore(tmp_path / "home")
    missing = tmp_path / "missing.json"
    _finished_run(store, "f32", [0], [[1, 0, 0]], history=[{"epoch": 1, "images_per_s": 200.0}])
    shown = expected_rate("five_layer", store, missing, precision="mixed_bfloat16")
    assert (shown.low, shown.high) == (200.0, 200.0) and "measured in float32" in shown.source
    bf16 = store.create({"name": "bf16", "model": {"name": "five_layer"}, "data": {"path": "synthetic:n=70"},
                         "train": {"precision": "mixed_bfloat16"}}, status="done")
    (bf16.path / "history.json").write_text(json.dumps([{"epoch": 1, "images_per_s": 280.0}]))
    shown = expected_rate("five_layer", store, missing, precision="mixed_bfloat16")
    assert (shown.low, shown.high) == (280.0, 280.0) and "1 finished mixed_bfloat16 run(s)" in shown.source
    plain = expected_rate("five_layer", store, missing)  # the bfloat16 run does not count as float32
    assert (plain.low, plain.high) == (200.0, 200.0) and "1 finished run(s)" in plain.source


def test_expected_speed_keeps_model_options_apart(tmp_path):
    """Width and depth change a model's speed several-fold: runs with other options do not count."""
    from fer_core.throughput import expected_rate, model_key

    assert model_key("fer_net") == "fer_net" and model_key("fer_net", {}) == "fer_net"
    assert model_key("fer_net", {"width": 48, "deep": True}) == "fer_net(deep=True, width=48)"
    store = RunStore(tmp_path / "home")
    missing = tmp_path / "missing.json"
    for name, kwargs, rate in (("plain", None, 600.0), ("deep", {"deep": True}, 200.0),
                               ("wide", {"deep": True, "width": 48}, 110.0)):
        run = store.create({"name": name, "model": {"name": "fer_net", **({"kwargs": kwargs} if kwargs else {})},
                            "data": {"path": "synthetic:n=70"}}, status="done")
        (run.path / "history.json").write_text(json.dumps([{"epoch": 1, "images_per_s": rate}]))
    assert (expected_rate("fer_net", store, missing).low, expected_rate("fer_net", store, missing).high) == (600, 600)
    wide = expected_rate("fer_net", store, missing, kwargs={"width": 48, "deep": True})
    assert (wide.low, wide.high) == (110, 110) and "fer_net(deep=True, width=48)" in wide.source
    assert "**110–110 img/s** (1.5 min per 10,000 training images)" in wide.speed()
    assert expected_rate("fer_net", store, missing, kwargs={"width": 40}) is None  # never measured: unknown
    bench = tmp_path / "bench.json"  # the benchmark table measures default options only
    bench.write_text(json.dumps({"models": [{"model": "fer_net", "images_per_s": 640}]}))
    assert expected_rate("fer_net", store, bench).high == 640
    assert expected_rate("fer_net", store, bench, kwargs={"deep": True}).high == 200


# -- fer_core.data.archives ----------------------------------------------------------------------
def test_register_zip_and_path(tmp_path, monkeypatch):
    from fer_core.data import write_fer2013_csv
    from fer_core.data.archives import register_path, register_zip
    from fer_core.data.registry import list_datasets

    monkeypatch.setenv("FER_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FER_STUDIO_DATA_ROOTS", str(tmp_path))
    csv = tmp_path / "faces.csv"
    write_fer2013_csv(make_synthetic(35, seed=1), csv)
    entry, ds = register_path(csv, "plain")
    assert entry.name == "plain" and len(ds) == 35
    import cv2

    faces = make_synthetic(21, seed=2, balance="uniform")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (img, label) in enumerate(zip(faces.images, faces.labels)):
            zf.writestr(f"faces/{faces.classes[label]}/{i}.png", cv2.imencode(".png", img)[1].tobytes())
    entry, ds = register_zip(buf.getvalue(), "My faces.zip")
    assert entry.name == "My_faces" and len(ds) == 21
    assert {e.name for e in list_datasets()} == {"plain", "My_faces"}
    assert not list((tmp_path / "home" / "uploads").iterdir())  # the uploaded archive is not kept


# -- display tables -------------------------------------------------------------------------------
def test_display_tables_and_job_progress():
    from fer_core.jobs.progress import job_fraction, job_progress_text
    from fer_core.names import slug
    from fer_core.tables import UNSEEN_COLUMN, evaluated_on, fmt_ci, metrics_table, predictions_csv, probability_table

    prog = {"epoch": 3, "epochs": 4, "batch": 5, "batches": 10, "event": "batch", "images_per_s": 528.4}
    assert job_fraction(prog, "running") == pytest.approx(2.5 / 4)
    assert job_fraction({**prog, "event": "epoch_end", "batch": 10}, "running") == pytest.approx(0.75)
    assert job_fraction({}, "queued") == 0.0 and job_fraction({}, "done") == 1.0
    assert job_progress_text(prog, "running", "41 s") == "epoch 3/4 · batch 5/10 · 528 img/s · ETA 41 s"
    assert job_progress_text({}, "queued") == "waiting in the queue"
    assert fmt_ci(0.5, 0.4, 0.6) == "50.0% (40.0–60.0)" and fmt_ci(0.5, math.nan, 1) == "50.0%"
    assert fmt_ci(0.5, 0.4, 0.6, pct=False) == "0.500 (0.400–0.600)" and fmt_ci(None, 0, 1) == "–"
    table = metrics_table({"m": _report()})
    assert table.loc[0, "model"] == "m" and table.loc[0, "images"] == 12 and "accuracy (95% CI)" in table
    assert UNSEEN_COLUMN not in table
    fig = {"n_twins": 280, "accuracy_twins": 0.9, "n_rest": 3309, "accuracy_rest": 0.6973}
    table = metrics_table({"m": _report(), "e": _report(seed=1)}, {"m": fig})
    assert table[UNSEEN_COLUMN].tolist() == ["69.7% of 3,309", "–"]
    assert evaluated_on([_report(), _report(seed=1)]) == ["? / test"]
    probs = probability_table({"m1": [0.1, 0.7, 0.2], "m2": [0.5, 0.2, 0.3]}, CLASSES)
    assert probs["predicted"].tolist() == ["b", "a"] and list(probs.columns) == ["predicted", *CLASSES]
    assert predictions_csv([{"source": "x", "face": 1}]).decode() == "source,face\nx,1\n"
    assert slug(" my ensemble!! ") == "my_ensemble" and slug("***") == "ensemble"


def test_dataset_stats_tables():
    from fer_core.data.stats import balance_table, image_stats, imbalance_ratios, issues_table, sample_indices

    ds = make_synthetic(70, seed=2, size=32)
    stats = image_stats(ds, "train", limit=20)
    assert len(stats) == 20 and list(stats.columns) == ["class", "split", "brightness", "contrast"]
    counts = pd.DataFrame({"train": [10, 5, 0], "test": [0, 0, 0]}, index=CLASSES)
    assert imbalance_ratios(counts) == {"train": 2.0, "test": None}
    assert balance_table(counts)["train %"].tolist() == [66.7, 33.3, 0.0]
    picks = sample_indices(ds, "train", 2)
    assert list(picks) == list(ds.classes)
    for c, v in enumerate(picks.values()):  # two of each class (fewer only when the split has fewer)
        in_split = int(((ds.splits == "train") & (ds.labels == c)).sum())
        assert len(v) == min(2, in_split) and (ds.splits[v] == "train").all() and (ds.labels[v] == c).all()
    assert sum(map(len, picks.values())) > 0
    assert issues_table(ds).empty and list(issues_table(ds).columns) == ["source", "reason"]


# -- fer_core.data.upload ------------------------------------------------------------------------
def test_face_from_upload_resizes_and_says_whether_a_face_was_found():
    import cv2

    from fer_core.data.upload import face_from_upload
    from fer_core.errors import DataError

    blank = cv2.imencode(".png", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    face, note = face_from_upload(blank, "blank.png", (48, 48), grey=True)
    assert face.shape == (48, 48) and face.dtype == np.uint8 and note.startswith("no face found")
    face, _ = face_from_upload(blank, "blank.png", (40, 40), grey=False)
    assert face.shape == (40, 40, 3)
    with pytest.raises(DataError):
        face_from_upload(b"not an image", "x.png", (48, 48), grey=True)


@pytest.mark.shared_data
def test_face_from_upload_crops_the_largest_face(fer_faces):
    import cv2

    from fer_core.data.upload import face_from_upload
    from photos import compose

    photo = cv2.imencode(".png", compose(fer_faces[:1], [(220, 150, 140, 140)]))[1].tobytes()
    face, note = face_from_upload(photo, "me.png", (48, 48), grey=True)
    assert face.shape == (48, 48) and note.startswith("largest of 1 detected face(s), cropped (eye-aligned")


# -- fer_core.choices ----------------------------------------------------------------------------
def test_model_choices_list_finished_runs_then_ensembles(tmp_path):
    from fer_core.choices import ensemble_members, model_choices, mtime, run_label

    store = RunStore(tmp_path / "home")
    run = _finished_run(store, "tiny", [0, 1], [[1, 0, 0], [0, 1, 0]])
    _finished_run(store, "no_model", [0], [[1, 0, 0]])
    run.model_path.write_bytes(b"model")  # only runs with a model file can be picked
    folder = tmp_path / "ensembles"
    assert [c.key for c in model_choices(store, folder)] == [f"run:{run.id}"]
    folder.mkdir()
    (folder / "pair.json").write_text(json.dumps({"name": "pair", "members": [{"ref": run.id}, {"ref": "x"}]}))
    (folder / "broken.json").write_text("{")
    choices = model_choices(store, folder)
    assert [c.kind for c in choices] == ["run", "ensemble"]
    assert choices[0].label == run_label(run) == f"tiny (five_layer, {run.id[-4:]}) · synthetic"
    assert choices[1].label == "ensemble pair (2 models) · synthetic" and choices[1].synthetic
    assert ensemble_members(choices[1].path) == [run.id, "x"]
    assert choices[1].stamp == mtime(folder / "pair.json") > 0 and mtime(tmp_path / "nope") == 0.0
    assert [c.kind for c in model_choices(store)] == ["run"]


def test_balance_long_severity_curves_and_audit_groups():
    from types import SimpleNamespace

    from fer_core.audit.groups import duplicate_groups, group_members
    from fer_core.data.stats import balance_long
    from fer_core.robustness.curves import severity_curves

    counts = pd.DataFrame({"train": [3, 1], "test": [0, 0], "total": [3, 1]},
                          index=pd.Index(["a", "b"], name="class"))
    long = balance_long(counts)
    assert list(long.columns) == ["class", "split", "images", "percent"] and len(long) == 4
    assert long["percent"].tolist() == [75.0, 25.0, 0.0, 0.0]
    sweep = pd.DataFrame({"model": ["m"] * 3, "corruption": ["clean", "blur", "noise"], "severity": [0, 1, 1],
                          "accuracy": [0.9, 0.8, 0.7]})
    curves = severity_curves(sweep)
    assert curves[["corruption", "severity", "accuracy"]].values.tolist() == [
        ["blur", 0, 0.9], ["blur", 1, 0.8], ["noise", 0, 0.9], ["noise", 1, 0.7]]
    report = SimpleNamespace(exact_groups=pd.DataFrame({"group": [0, 0], "index": [1, 4]}),
                             near_groups=pd.DataFrame({"group": [0, 0, 1, 1], "index": [2, 3, 5, 6]}))
    groups = duplicate_groups(report)
    assert len(groups) == 6 and group_members(groups, "near", 1)["index"].tolist() == [5, 6]
    assert group_members(groups, "exact", 0)["index"].tolist() == [1, 4]


def test_csv_cells_that_would_be_formulas_are_neutralised():
    import csv
    import io

    from fer_core.tables import predictions_csv, safe_cell

    rows = [{"source": "=HYPERLINK(\"http://x\").jpg", "label": "happy", "p": -0.5, "note": "@SUM(A1)"},
            {"source": "plain.jpg", "label": "sad", "p": 0.25, "note": "-x"}]
    got = list(csv.DictReader(io.StringIO(predictions_csv(rows).decode())))
    assert got[0]["source"].startswith("'=") and got[0]["note"] == "'@SUM(A1)" and got[1]["note"] == "'-x"
    assert got[0]["p"] == "-0.5" and got[1]["source"] == "plain.jpg"  # numbers and plain text untouched
    assert safe_cell(3) == 3 and safe_cell("+1") == "'+1"


# -- fer_core.curves -----------------------------------------------------------------------------
def test_curve_gap_compares_the_same_epochs_over_the_last_window_both_have():
    from fer_core.curves import curve_gap, epoch_values
    from fer_core.errors import ConfigError

    run = [{"epoch": e, "val_accuracy": 0.50 + 0.01 * e} for e in range(1, 13)]  # under way: 12 epochs
    ref = [{"epoch": e, "val_accuracy": 0.52 + 0.004 * e} for e in range(1, 31)] + [{"epoch": 31, "loss": 1.0}]
    gap = curve_gap(run, ref, window=4)
    assert (gap.first, gap.last) == (9, 12)  # the reference's later epochs are left out
    assert gap.mean == pytest.approx(np.mean([0.50 + 0.01 * e for e in range(9, 13)]))
    assert gap.ref_mean == pytest.approx(np.mean([0.52 + 0.004 * e for e in range(9, 13)]))
    assert gap.lead == pytest.approx(0.605 - 0.562)
    assert (gap.best, gap.ref_best) == (pytest.approx(0.62), pytest.approx(0.568))  # best up to epoch 12 only
    assert gap.text == ("epochs 9-12: validation accuracy 60.5% vs 56.2% (+4.3 points); "
                        "best so far 62.0% vs 56.8%")
    assert curve_gap(run, ref, window=100).first == 1  # fewer shared epochs than the window: all of them
    assert curve_gap(run, [{"epoch": 40, "val_accuracy": 0.7}]) is None
    assert curve_gap(run, [{"epoch": 3, "loss": 1.0}]) is None  # no val_accuracy on that side
    assert epoch_values(ref, "loss") == {31: 1.0}
    assert curve_gap(ref, run, metric="accuracy") is None
    with pytest.raises(ConfigError, match="window"):
        curve_gap(run, ref, window=0)


def test_reference_runs_have_a_history_and_leave_out_the_run_itself(tmp_path):
    from fer_core.curves import reference_runs

    store = RunStore(tmp_path / "home")
    old = store.create({"name": "old", "model": {"name": "five_layer"}}, status="done")
    (old.path / "history.json").write_text('[{"epoch": 1, "val_accuracy": 0.4}]')
    new = store.create({"name": "new", "model": {"name": "five_layer"}}, status="running")
    (new.path / "history.json").write_text('[{"epoch": 1, "val_accuracy": 0.5}]')
    store.create({"name": "empty", "model": {"name": "five_layer"}}, status="created")  # no epoch yet
    assert [r.name for r in reference_runs(store, exclude=new.id)] == ["old"]
    # the store's order (newest first; runs created in the same second are ordered by id)
    assert [r.name for r in reference_runs(store)] == [r.name for r in store.list() if r.name != "empty"]
    assert sorted(r.name for r in reference_runs(store)) == ["new", "old"]
