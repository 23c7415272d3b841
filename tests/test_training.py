"""Training engine: configs, imbalance handling, the run folder, resume, cancel, soft labels, CLI."""
from __future__ import annotations

import argparse
import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fer_core.errors import ConfigError, DataError, FERError
from fer_core.training import (apply_overrides, class_weights, config_header, config_to_dict, dump_config, load_config,
                               resample, resolve_path, to_toml)
from fer_core.training.prepare import prepare_data, stratified_subset

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.toml"))
ARTEFACTS = ("config.toml", "model.keras", "checkpoint.keras", "state.json", "history.json",
             "metrics.json", "predictions.npz")
EVENT_KEYS = {"phase", "event", "epoch", "epochs", "batch", "batches", "loss", "accuracy", "eta_s",
              "images_per_s", "history"}


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ds():
    from fer_core.data import load_dataset

    return load_dataset("synthetic:n=300")


@pytest.fixture(scope="module")
def soft_ds(ds):
    """The same images with FER+-like vote distributions; every 5th row has no votes."""
    rng = np.random.default_rng(0)
    soft = rng.dirichlet(np.ones(len(ds.classes)) * 0.3, size=len(ds)).astype(np.float32)
    soft[::5] = 0
    return replace(ds, soft_labels=soft)


def tiny_model(name, input_shape, num_classes, weights=None, **kw):
    """A 4-filter CNN standing in for a registered model (same call signature)."""
    import keras

    inp = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(num_classes, activation="softmax")(x))


def cfg_dict(**sections):
    base = {"name": "t", "data": {"path": "synthetic:n=300"}, "model": {"name": "five_layer"},
            "train": {"epochs": 2, "batch_size": 32, "seed": 0}, "augment": {}}
    for key, value in sections.items():
        if isinstance(value, dict):
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return base


def run_train(cfg, run_dir, ds, **kw):
    from fer_core.training import train

    return train(load_config(cfg), run_dir, dataset=ds, model_fn=tiny_model, **kw)


# -- configuration -------------------------------------------------------------------------
BAD_FIELDS = [
    ("name", ""), ("name", "a/b"), ("imbalance", "undersample"),
    ("data.path", ""), ("data.format", "xls"), ("data.size", 16), ("data.color", "gray"),
    ("data.val_fraction", 1.0), ("data.val_fraction", 0), ("data.subset", 3), ("data.seed", -1),
    ("data.label_map", {"a": 1}), ("data.extra", "maybe"), ("data.ferplus", ""),
    ("model.name", "resnet9000"), ("model.input_size", 16), ("model.channels", 2),
    ("model.weights", "weights.pt"), ("model.kwargs", {"bogus": 1}),
    ("train.epochs", 0), ("train.epochs", 1.5), ("train.steps_per_execution", 0),
    ("train.batch_size", True), ("train.optimizer", "rmsprop"), ("train.precision", "float16"),
    ("train.lr", -0.1), ("train.lr", float("nan")), ("train.momentum", 1.0), ("train.weight_decay", -1e-4),
    ("train.schedule", "step"), ("train.patience_lr", 0), ("train.early_stopping", -1),
    ("train.label_smoothing", 1.0), ("train.soft_labels", "yes"), ("train.seed", -3),
    ("train.time_limit_min", 0), ("augment.enabled", 1), ("augment.flip", "yes"),
    ("augment.rotation", -5), ("augment.zoom", 1.5), ("augment.shift", -0.1),
    ("augment.corruptions", "fog"), ("augment.corruptions", [1]), ("augment.corruptions", ["fog"]),
    ("augment.corruption_p", 1.5), ("augment.corruption_max_severity", 6),
    ("augment.corruption_max_severity", 0), ("augment.erasing", 1.5), ("augment.erasing", -0.2),
    ("augment.mixup", -0.1), ("augment.mixup", 2.0), ("augment.cutmix", -1), ("augment.cutmix", 1.5), ("train.teacher", ""), ("train.teacher", 3), ("train.teacher_weight", 0), ("train.teacher_weight", 1.5),
    ("train.soft_weight", 0), ("train.soft_weight", 1.01),
    ("train.ema", 1.0), ("train.ema", -0.5), ("train.ema", "0.999"),
]


@pytest.mark.parametrize("field,value", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_FIELDS])
def test_bad_field_names_field_and_value(field, value):
    raw = cfg_dict()
    if "." in field:
        section, key = field.split(".")
        raw[section][key] = value
    else:
        raw[field] = value
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    msg = str(info.value)
    assert field in msg and repr(value) in msg, msg


def test_choices_are_listed_and_close_match_suggested():
    with pytest.raises(ConfigError, match=r"'sgd', 'adam'.*did you mean 'adam'"):
        load_config(cfg_dict(train={"optimizer": "adma"}))


@pytest.mark.parametrize("raw,where", [
    ({"name": "t", "lerning_rate": 1}, "lerning_rate"),
    ({"name": "t", "train": {"learning_rate": 0.1}}, "train.'learning_rate'"),
    ({"name": "t", "augment": {"flips": True}}, "augment.'flips'"),
])
def test_unknown_key_lists_valid_keys(raw, where):
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    msg = str(info.value)
    assert where in msg and "Valid keys" in msg
    if "train" in raw:
        assert "lr" in msg and "batch_size" in msg


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_defaults_and_name_from_file_stem(tmp_path):
    path = tmp_path / "my_run.toml"
    path.write_text("[train]\nepochs = 3\n")
    cfg = load_config(path)
    assert cfg.name == "my_run" and cfg.train.epochs == 3 and cfg.model.name == "five_layer"
    assert cfg.imbalance == "none" and cfg.augment.rotation == 10.0


def test_toml_round_trip(tmp_path):
    raw = cfg_dict(data={"label_map": {'we"ird\\ name': "happy", "ü nicode": ""}, "subset": 50},
                   model={"kwargs": {"dropout": 0.25}}, train={"time_limit_min": 1.5, "lr": 3e-4},
                   augment={"corruptions": ["jpeg", "noise"], "corruption_p": 0.3},
                   imbalance="smote")
    cfg = load_config(raw)
    dump_config(cfg, tmp_path / "c.toml")
    again = load_config(tmp_path / "c.toml")
    assert again == cfg
    assert tomllib.loads(to_toml(cfg)) == config_to_dict(cfg)
    assert "time_limit_min" not in to_toml(load_config(cfg_dict()))  # None is left out


def test_overrides():
    cfg = load_config(cfg_dict())
    new = apply_overrides(cfg, ["train.lr=0.01", "train.optimizer=sgd", "augment.flip=false",
                                "model.kwargs.dropout=0.2", "data.path=synthetic:n=200", "imbalance=smote"])
    assert (new.train.lr, new.train.optimizer, new.augment.flip) == (0.01, "sgd", False)
    assert new.model.kwargs == {"dropout": 0.2} and new.data.path == "synthetic:n=200"
    assert new.imbalance == "smote" and cfg.train.lr != 0.01  # the original is untouched
    with pytest.raises(ConfigError, match="train.'lrr'"):
        apply_overrides(cfg, ["train.lrr=0.1"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(cfg, ["train.lr"])
    with pytest.raises(ConfigError, match="train.lr"):
        apply_overrides(cfg, {"train.lr": "fast"})


def test_relative_paths_resolve_against_project_root():
    assert resolve_path("../shared/data/fer2013") == str((ROOT / "../shared/data/fer2013").resolve())
    assert resolve_path("synthetic:n=5") == "synthetic:n=5"
    assert resolve_path("/abs/x.csv") == "/abs/x.csv"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.name for p in EXPERIMENTS])
def test_experiment_configs_load(path):
    text = path.read_text()
    cfg = load_config(path)
    assert cfg.name == path.stem
    header = config_header(path)
    assert text.startswith("#") and "§" in header, "header must cite the paper section"
    assert header.splitlines()[0] == text.splitlines()[0][2:] and "\n#" not in header and "name =" not in header


def test_experiments_cover_the_papers():
    names = {p.stem for p in EXPERIMENTS}
    heavy = ["fer2013_five_layer", "fer2013_baseline_cnn", "fer2013_resnet50", "fer2013_senet50",
             "fer2013_vgg16", "fer2013_cnn_lstm", "oahega_densenet121_gru", "oahega_vgg16_gru",
             "oahega_xception_gru"]
    for name in heavy:
        assert name in names and f"{name}_quick" in names
    assert {"synthetic_quick", "fer2013_best"} <= names
    five = load_config(ROOT / "experiments" / "fer2013_five_layer.toml").train
    assert (five.optimizer, five.lr, five.batch_size, five.weight_decay, five.momentum,
            five.patience_lr, five.epochs) == ("sgd", 0.1, 128, 1e-4, 0.9, 10, 300)


# -- imbalance -----------------------------------------------------------------------------
def test_class_weights_formula():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = class_weights(labels, 3)
    np.testing.assert_allclose(w, [10 / (3 * 6), 10 / (3 * 3), 10 / (3 * 1)], rtol=1e-6)
    assert w[labels].sum() == pytest.approx(len(labels))
    assert class_weights(np.array([0, 0, 2]), 3)[1] == 0  # an absent class gets no weight


@pytest.mark.parametrize("method", ["oversample", "smote", "adasyn"])
def test_resampling_changes_only_the_train_split(ds, method):
    base = prepare_data(load_config(cfg_dict()), ds)
    res = prepare_data(load_config(cfg_dict(imbalance=method)), ds)
    for name in ("x_val", "labels_val", "x_eval", "labels_eval", "sources_eval"):
        np.testing.assert_array_equal(getattr(res, name), getattr(base, name), err_msg=name)
    n = len(base.x_train)
    np.testing.assert_array_equal(res.x_train[:n], base.x_train)  # originals kept, new rows appended
    before = base.summary["counts"]["train"]
    after = res.summary["counts"]["train"]
    assert len(res.x_train) > n and res.y_train.shape == (len(res.x_train), 7)
    assert min(after) > min(before)
    if method != "adasyn":  # ADASYN balances only approximately
        assert len(set(after)) == 1 and after[0] == max(before)
    assert res.summary["counts"]["train_original"] == before


def test_class_weight_method_sets_sample_weights(ds):
    data = prepare_data(load_config(cfg_dict(imbalance="class_weight")), ds)
    labels = data.y_train.argmax(1)
    np.testing.assert_allclose(data.w_train, class_weights(labels, 7)[labels])
    assert prepare_data(load_config(cfg_dict()), ds).w_train is None


def test_resample_direct():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (23, 8, 8), dtype=np.uint8)
    y = np.array([0] * 15 + [1] * 5 + [2] * 3)
    xr, yr, origin = resample(x, y, "smote", seed=0)
    assert xr.dtype == np.uint8 and xr.shape[1:] == (8, 8)
    assert np.bincount(yr).tolist() == [15, 15, 15]
    assert (origin[:23] == np.arange(23)).all() and (origin[23:] == -1).all()
    xo, yo, oo = resample(x, y, "oversample", seed=0)
    np.testing.assert_array_equal(xo, x[oo])
    np.testing.assert_array_equal(yo, y[oo])
    with pytest.raises(DataError, match="at least 2 train images"):
        resample(x[:16], y[:16], "smote")  # class 1 has a single image
    with pytest.raises(DataError, match="method"):
        resample(x, y, "undersample")


# -- data preparation ------------------------------------------------------------------------
def test_stratified_subset_keeps_proportions():
    labels = np.array([0] * 500 + [1] * 300 + [2] * 5)
    idx = stratified_subset(labels, 100, seed=1)
    counts = np.bincount(labels[idx])
    assert len(idx) == 100 and len(np.unique(idx)) == 100
    assert counts[2] >= 1 and abs(counts[0] - 62) <= 2 and abs(counts[1] - 37) <= 2
    assert len(stratified_subset(labels, 10_000)) == len(labels)


def test_subset_val_carving_and_colour_conversion(ds):
    from fer_core.data import FERDataset

    only_train = FERDataset(ds.images, ds.labels, ds.classes + ("contempt",), np.full(len(ds), "train"),
                            ds.sources, name="t")
    data = prepare_data(load_config(cfg_dict(data={"subset": 40, "val_fraction": 0.2},
                                             model={"channels": 3, "input_size": 40})), only_train)
    assert data.classes == ds.classes  # the empty "contempt" class is dropped
    assert data.eval_split == "val" and len(data.x_train) <= 40 and len(data.x_val) <= 40
    assert data.x_train.shape[1:] == (40, 40, 3) and data.x_train.dtype == np.uint8
    assert any("val carved" in n for n in data.summary["notes"])


# -- training ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(ds, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    events = []
    metrics = run_train(cfg_dict(), run_dir, ds, progress=events.append)
    return run_dir, metrics, events


@pytest.mark.slow
def test_run_writes_every_artefact(trained, ds):
    run_dir, metrics, _ = trained
    for name in ARTEFACTS:
        assert (run_dir / name).is_file(), name
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")], "temporary files left behind"
    history = json.loads((run_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(history[0])
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epoch"] == 2 and state["status"] == "completed" and state["history"] == history
    assert load_config(run_dir / "config.toml") == load_config(cfg_dict())
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert metrics["best_val_accuracy"] == max(h["val_accuracy"] for h in history)


@pytest.mark.slow
def test_metrics_agree_with_sklearn_on_predictions(trained, ds):
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    run_dir, metrics, _ = trained
    with np.load(run_dir / "predictions.npz") as z:
        probs, labels, sources, classes = z["probs"], z["labels"], z["sources"], z["classes"]
    test = ds.split("test")
    assert probs.dtype == np.float32 and probs.shape == (len(test), 7)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(labels, test.labels)
    np.testing.assert_array_equal(sources, test.sources)
    assert list(classes) == metrics["classes"] == list(ds.classes)
    pred = probs.argmax(1)
    assert metrics["n_test"] == len(test)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, pred))
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, pred, labels=range(7), average="macro",
                                                         zero_division=0))
    assert metrics["confusion_matrix"] == confusion_matrix(labels, pred, labels=range(7)).tolist()
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=range(7), zero_division=0)
    for i, c in enumerate(classes):
        assert metrics["per_class"][c] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i],
                                                         "support": s[i]})


@pytest.mark.slow
def test_saved_best_model_reproduces_predictions(trained, ds):
    import keras

    run_dir, metrics, _ = trained
    model = keras.models.load_model(run_dir / "model.keras")
    x = ds.split("test").images[..., None].astype(np.float32)
    with np.load(run_dir / "predictions.npz") as z:
        np.testing.assert_allclose(model.predict_on_batch(x), z["probs"], atol=1e-5)


@pytest.mark.slow
def test_progress_events(trained):
    _, metrics, events = trained
    assert all(EVENT_KEYS <= set(e) for e in events)
    phases = [e["phase"] for e in events]
    assert phases[0] == "loading" and phases[-1] == "done" and "evaluating" in phases
    order = {"loading": 0, "training": 1, "evaluating": 2, "done": 3}
    assert [order[p] for p in phases] == sorted(order[p] for p in phases)
    batch = [(e["epoch"], e["batch"]) for e in events if e["event"] == "batch"]
    assert batch == sorted(batch) and len(batch) >= 4 and {b[0] for b in batch} == {1, 2}
    assert all(e["batches"] == 8 and e["loss"] is not None for e in events if e["event"] == "batch")
    ends = [e for e in events if e["event"] == "epoch_end"]
    assert [e["epoch"] for e in ends] == [1, 2] and [len(e["history"]) for e in ends] == [1, 2]
    assert events[-1]["metrics"] == metrics


@pytest.mark.slow
def test_resume_continues_from_saved_epoch(ds, tmp_path):
    first = run_train(cfg_dict(train={"epochs": 1}), tmp_path, ds)
    assert first["epochs_completed"] == 1
    hist1 = json.loads((tmp_path / "history.json").read_text())
    with pytest.raises(ConfigError, match="already holds a run"):
        run_train(cfg_dict(train={"epochs": 2}), tmp_path, ds)
    with pytest.raises(ConfigError, match="train.lr"):
        run_train(cfg_dict(train={"epochs": 2, "lr": 0.5}), tmp_path, ds, resume=True)
    events = []
    second = run_train(cfg_dict(train={"epochs": 2}), tmp_path, ds, resume=True, progress=events.append)
    hist2 = json.loads((tmp_path / "history.json").read_text())
    assert second["epochs_completed"] == 2 and len(hist2) == 2 and hist2[0] == hist1[0]
    assert {e["epoch"] for e in events if e["event"] == "batch"} == {2}
    import keras

    ckpt = keras.models.load_model(tmp_path / "checkpoint.keras")
    assert int(ckpt.optimizer.iterations.numpy()) == 2 * 8  # optimizer state carried across
    assert not ckpt.optimizer.use_ema  # train.ema defaults to off


@pytest.mark.slow
def test_sgd_nesterov_reaches_the_optimizer_and_survives_resume(ds, tmp_path):
    import keras

    run_train(cfg_dict(train={"epochs": 1, "optimizer": "sgd", "momentum": 0.8, "nesterov": True}), tmp_path, ds)
    opt = keras.models.load_model(tmp_path / "checkpoint.keras").optimizer
    assert isinstance(opt, keras.optimizers.SGD) and opt.nesterov and opt.momentum == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="train.nesterov"):
        load_config(cfg_dict(train={"nesterov": "yes"}))


def test_mixed_bfloat16_trains_resumes_and_saves_a_float32_model(ds, tmp_path):
    """train.precision = 'mixed_bfloat16': layers compute in bfloat16 while training (the checkpoint
    keeps the policy, to resume), model.keras computes in float32 and the test figures are its own."""
    import keras

    from fer_core.models.files import float32_copy, load_model_file

    cfg = cfg_dict(train={"epochs": 1, "precision": "mixed_bfloat16"})
    first = run_train(cfg, tmp_path, ds)
    assert keras.mixed_precision.global_policy().name == "float32"  # set for the build only
    ckpt = load_model_file(tmp_path / "checkpoint.keras", compile=True)
    assert {layer.dtype_policy.name for layer in ckpt.layers if layer.weights} == {"mixed_bfloat16"}
    best = load_model_file(tmp_path / "model.keras")
    assert {layer.dtype_policy.name for layer in best.layers} == {"float32"} and float32_copy(best) is best
    x_eval = prepare_data(load_config(cfg), ds).x_eval
    saved = np.load(tmp_path / "predictions.npz")
    np.testing.assert_allclose(saved["probs"], best.predict_on_batch(x_eval), atol=1e-5)
    assert first["accuracy"] == pytest.approx(float(np.mean(saved["probs"].argmax(1) == saved["labels"])))
    np.testing.assert_allclose(float32_copy(ckpt).predict_on_batch(x_eval[:8]), ckpt.predict_on_batch(x_eval[:8]),
                               atol=0.02)  # the same weights, in float32 instead of bfloat16
    with pytest.raises(ConfigError, match="train.precision"):  # fixed for a run
        run_train(cfg_dict(train={"epochs": 2}), tmp_path, ds, resume=True)
    second = run_train(cfg_dict(train={"epochs": 2, "precision": "mixed_bfloat16"}), tmp_path, ds, resume=True)
    assert second["epochs_completed"] == 2
    assert {layer.dtype_policy.name for layer in load_model_file(tmp_path / "model.keras").layers} == {"float32"}


def test_ema_keeps_averaged_weights_in_the_best_model_and_resumes(ds, tmp_path):
    import keras

    cfg = cfg_dict(train={"epochs": 1, "ema": 0.9})
    run_train(cfg, tmp_path, ds)
    best = keras.models.load_model(tmp_path / "model.keras")
    ckpt = keras.models.load_model(tmp_path / "checkpoint.keras")
    opt = ckpt.optimizer
    assert opt.use_ema and opt.ema_momentum == pytest.approx(0.9)
    averages = [v.numpy() for v in opt._model_variables_moving_average]
    raw = [v.numpy() for v in ckpt.trainable_variables]
    # model.keras holds the moving average (what was validated), the checkpoint the raw weights
    for got, average in zip((v.numpy() for v in best.trainable_variables), averages, strict=True):
        np.testing.assert_allclose(got, average, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, r) for a, r in zip(averages, raw))
    run_train(cfg_dict(train={"epochs": 2, "ema": 0.9}), tmp_path, ds, resume=True)
    ckpt2 = keras.models.load_model(tmp_path / "checkpoint.keras")
    assert int(ckpt2.optimizer.iterations.numpy()) == 2 * 8
    moved = [v.numpy() for v in ckpt2.optimizer._model_variables_moving_average]
    assert any(not np.allclose(a, b) for a, b in zip(averages, moved))  # averaging went on


@pytest.mark.slow
def test_resume_without_checkpoint_starts_afresh(ds, tmp_path):
    metrics = run_train(cfg_dict(train={"epochs": 1}), tmp_path, ds, resume=True)
    assert metrics["epochs_completed"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("spe", [1, 3])
def test_should_stop_keeps_best_model(ds, tmp_path, spe):
    polls, events = [], []
    per_epoch = -(-8 // spe)  # epoch 1 has 8 batches, one callback per steps_per_execution group

    def stop():
        polls.append(1)
        return len(polls) > per_epoch + 2  # stop inside epoch 2 (the engine polls once per epoch too)

    metrics = run_train(cfg_dict(train={"epochs": 5, "steps_per_execution": spe}), tmp_path, ds,
                        should_stop=stop, progress=events.append)
    done = [e["batch"] for e in events if e["event"] == "batch" and e["epoch"] == 1]
    assert done[-1] == 8 and done == sorted(done) and (spe == 1 or set(done) <= {3, 6, 8})
    assert metrics["stopped"] == "cancelled" and metrics["epochs_completed"] == 1 and metrics["best_epoch"] == 1
    for name in ARTEFACTS:
        assert (tmp_path / name).is_file(), name
    assert len(json.loads((tmp_path / "history.json").read_text())) == 1
    assert json.loads((tmp_path / "state.json").read_text())["status"] == "cancelled"
    resumed = run_train(cfg_dict(train={"epochs": 2, "steps_per_execution": spe}), tmp_path, ds, resume=True)
    assert resumed["epochs_completed"] == 2 and resumed["stopped"] == "completed"


@pytest.mark.slow
def test_stop_before_first_epoch_and_time_limit(ds, tmp_path):
    m = run_train(cfg_dict(), tmp_path / "a", ds, should_stop=lambda: True)
    assert m["stopped"] == "cancelled" and m["epochs_completed"] == 0 and m["best_val_accuracy"] is None
    assert (tmp_path / "a" / "model.keras").is_file() and (tmp_path / "a" / "predictions.npz").is_file()
    m = run_train(cfg_dict(train={"epochs": 50, "time_limit_min": 1e-6}), tmp_path / "b", ds)
    assert m["stopped"] == "time_limit" and m["epochs_completed"] < 50


@pytest.mark.slow
def test_cosine_time_anneals_over_the_time_budget(ds, tmp_path):
    with pytest.raises(ConfigError, match="time_limit_min"):
        load_config(cfg_dict(train={"schedule": "cosine_time"}))
    lrs = []

    class Spy:  # records the learning rate of every batch
        def __call__(self, event):
            if event["event"] == "batch":
                lrs.append(event.get("lr"))

    budget_min = 0.12
    m = run_train(cfg_dict(train={"epochs": 500, "schedule": "cosine_time", "time_limit_min": budget_min,
                                  "lr": 0.01}), tmp_path, ds, progress=Spy())
    assert m["stopped"] == "time_limit" and 1 <= m["epochs_completed"] < 500
    history = json.loads((tmp_path / "history.json").read_text())
    epoch_lrs = [row["lr"] for row in history]
    assert epoch_lrs[0] == pytest.approx(0.01, rel=0.05) and epoch_lrs == sorted(epoch_lrs, reverse=True)
    assert lrs and lrs[-1] < lrs[0]  # updated within epochs too
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["clock_seconds"] > 0  # kept for a resume (no timing bound in a unit test)
    # resuming with a larger budget continues the clock instead of starting a new one
    m2 = run_train(cfg_dict(train={"epochs": 500, "schedule": "cosine_time", "time_limit_min": budget_min * 2,
                                   "lr": 0.01}), tmp_path, ds, resume=True)
    again = json.loads((tmp_path / "history.json").read_text())
    assert m2["stopped"] == "time_limit" and len(again) > len(history)
    assert again[len(history)]["lr"] < 0.01 * 0.9  # not back at the start of the cosine


@pytest.mark.slow
def test_eval_tta_is_applied_to_the_saved_test_predictions(ds, tmp_path):
    from fer_core.evaluation.predict import predict_probs

    m = run_train(cfg_dict(train={"epochs": 1}, eval={"tta": "flip"}), tmp_path, ds)
    assert m["tta"] == "flip" and 0 <= m["accuracy_no_tta"] <= 1
    import keras

    model = keras.models.load_model(tmp_path / "model.keras")
    saved = np.load(tmp_path / "predictions.npz")
    test = ds.split("test")
    np.testing.assert_allclose(saved["probs"], predict_probs(model, test.images, tta="flip"), atol=1e-5)
    assert m["accuracy"] == pytest.approx(float(np.mean(saved["probs"].argmax(1) == saved["labels"])))
    plain = predict_probs(model, test.images)  # the figure without TTA is the model's own too
    assert m["accuracy_no_tta"] == pytest.approx(float(np.mean(plain.argmax(1) == test.labels)))
    with pytest.raises(ConfigError, match="eval.tta"):
        load_config(cfg_dict(eval={"tta": "mirror"}))


@pytest.mark.slow
def test_early_stopping_and_plateau_schedule(ds, tmp_path):
    m = run_train(cfg_dict(train={"epochs": 30, "lr": 1e-9, "optimizer": "sgd", "early_stopping": 2,
                                  "patience_lr": 1}), tmp_path, ds)
    hist = json.loads((tmp_path / "history.json").read_text())
    assert m["stopped"] == "early_stopping" and len(hist) < 30
    # val accuracy cannot move at lr 1e-9: the lr halves after every flat epoch
    lrs = [h["lr"] for h in hist]
    assert lrs[0] == 1e-9 and lrs[-1] < lrs[0] and all(b <= a for a, b in zip(lrs, lrs[1:]))


@pytest.mark.slow
def test_metrics_count_the_test_faces_with_a_twin_in_train(ds, tmp_path):
    from fer_core.evaluation.leakage import leakage_figures, twin_mask

    images, labels = ds.images.copy(), ds.labels.copy()
    train, test = np.flatnonzero(ds.splits == "train"), np.flatnonzero(ds.splits == "test")
    images[test[:12]], labels[test[:12]] = images[train[:12]], labels[train[:12]]
    leaky = replace(ds, images=images, labels=labels)
    data = prepare_data(load_config(cfg_dict(train={"epochs": 1})), leaky)
    twins = twin_mask(data.x_eval, data.x_train)  # copies of faces the validation split took are not twins
    assert 0 < twins.sum() <= 12
    metrics = run_train(cfg_dict(train={"epochs": 1}), tmp_path, leaky)
    with np.load(tmp_path / "predictions.npz") as z:
        pred = z["probs"].argmax(1)
    assert metrics["train_twins"] == leakage_figures(data.labels_eval, pred, twins)
    assert metrics["train_twins"]["n_twins"] == twins.sum()


@pytest.mark.slow
def test_soft_label_training(soft_ds, ds, tmp_path):
    cfg = load_config(cfg_dict(train={"epochs": 1, "soft_labels": True}))
    data = prepare_data(cfg, soft_ds)
    train = soft_ds.split("train")
    np.testing.assert_allclose(data.y_train.sum(1), 1, atol=1e-5)
    has = train.soft_labels.sum(1) > 0
    np.testing.assert_allclose(data.y_train[has], train.soft_labels[has], atol=1e-6)
    np.testing.assert_array_equal(data.y_train[~has], np.eye(7)[train.labels[~has]])
    half = prepare_data(load_config(cfg_dict(train={"epochs": 1, "soft_labels": True, "soft_weight": 0.25})), soft_ds)
    onehot = np.eye(7)[train.labels]
    np.testing.assert_allclose(half.y_train[has], 0.75 * onehot[has] + 0.25 * train.soft_labels[has], atol=1e-6)
    np.testing.assert_array_equal(half.y_train[~has], onehot[~has])
    assert any("75% labels + 25% FER+ votes" in n for n in half.summary["notes"])
    metrics = run_train(cfg_dict(train={"epochs": 1, "soft_labels": True}), tmp_path, soft_ds)
    assert metrics["epochs_completed"] == 1 and "ferplus_majority_accuracy" in metrics
    with pytest.raises(DataError, match="FER\\+ votes"):
        prepare_data(cfg, ds)


def test_teacher_targets_blend_its_probabilities(ds, tmp_path):
    """Distillation: targets are (1 - w) * labels + w * the teacher's probabilities on the train images."""
    import keras

    from fer_core.evaluation import predict_probs
    from fer_core.runs import RunStore

    tiny_model("t", (48, 48, 1), 7).save(tmp_path / "teacher.keras")
    run = RunStore().import_model(tmp_path / "teacher.keras", name="teacher")
    cfg = load_config(cfg_dict(train={"teacher": run.id, "teacher_weight": 0.25}))
    data = prepare_data(cfg, ds)
    train = ds.split("train")
    expected = predict_probs(keras.models.load_model(tmp_path / "teacher.keras"), train.images)
    np.testing.assert_allclose(data.y_train, 0.75 * np.eye(7)[train.labels] + 0.25 * expected, atol=1e-5)
    np.testing.assert_allclose(data.y_train.sum(1), 1, atol=1e-5)
    assert data.summary["teacher"]["id"] == run.id and data.summary["teacher"]["weight"] == 0.25
    assert any("teacher" in n for n in data.summary["notes"])
    for ref, match in ((str(tmp_path / "teacher.keras"), "not a run id or bundled id"),
                       ("default", "stable id, not 'default'")):
        with pytest.raises(ConfigError, match=match):
            prepare_data(load_config(cfg_dict(train={"teacher": ref})), ds)
    with pytest.raises(FERError, match="no-such-run"):
        prepare_data(load_config(cfg_dict(train={"teacher": "no-such-run"})), ds)
    with pytest.raises(ConfigError, match="must know exactly the dataset's classes"):
        prepare_data(cfg, ds.with_classes(list(ds.classes[:5])))
    # a run folder keeps its teacher's probabilities: the next session reads them, never re-scores
    cache = tmp_path / "run" / "teacher.npz"
    cache.parent.mkdir()
    first = prepare_data(cfg, ds, teacher_cache=cache)
    np.testing.assert_allclose(first.y_train, data.y_train, atol=1e-6)
    (tmp_path / "teacher.keras").unlink()
    for model_file in RunStore().get(run.id).path.glob("*.keras"):
        model_file.unlink()  # the teacher is gone: only the cache can give its probabilities now
    np.testing.assert_array_equal(prepare_data(cfg, ds, teacher_cache=cache).y_train, first.y_train)
    cache.write_bytes(b"PK\x03\x04 torn")  # a damaged cache is scored again (here: the teacher is gone)
    with pytest.raises(FERError):
        prepare_data(cfg, ds, teacher_cache=cache)
    with pytest.raises(FERError):  # other images: the cache does not match, the (missing) teacher is asked
        prepare_data(load_config(cfg_dict(train={"teacher": run.id}, data={"subset": 50})), ds, teacher_cache=cache)


def test_augmenter_switches():
    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import build_augmenter

    assert build_augmenter(AugmentSpec(enabled=False)) is None
    assert build_augmenter(AugmentSpec(flip=False, rotation=0, zoom=0, shift=0)) is None
    aug = build_augmenter(AugmentSpec(flip=True, rotation=0, zoom=0, shift=0), seed=1)
    x = np.arange(64 * 4 * 4, dtype=np.float32).reshape(64, 4, 4, 1)  # 64 distinct, asymmetric images
    out = np.asarray(aug(x))
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(out, x)]
    assert all(m or np.array_equal(a, b) for m, a, b in zip(mirrored, out, x))  # unchanged or mirrored
    assert 10 < sum(mirrored) < 54  # about half are mirrored (seeded)


def test_mixup_blends_images_and_targets_with_the_same_weights():
    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import ArrayPipeline, build_mixer

    assert build_mixer(AugmentSpec()) is None and build_mixer(AugmentSpec(enabled=False, mixup=0.2)) is None
    n = 20  # image i is the constant 10 * i and its own class i
    x = (np.arange(n, dtype=np.uint8) * 10).reshape(n, 1, 1, 1) * np.ones((1, 4, 4, 1), np.uint8)
    y = np.eye(n, dtype=np.float32)
    pipe = ArrayPipeline(x, y, batch_size=10, mix=build_mixer(AugmentSpec(mixup=0.4), seed=1), seed=2)
    xb, yb = (np.concatenate([b[i].numpy() for b in pipe.dataset(epoch=0)]) for i in (0, 1))
    np.testing.assert_allclose(yb.sum(1), 1, atol=1e-5)
    assert np.ptp(xb, axis=(1, 2, 3)).max() < 1e-3  # each image is still a constant
    np.testing.assert_allclose(xb[:, 0, 0, 0], yb @ (10.0 * np.arange(n)), atol=1e-2)  # same weights, same pairs
    assert ((yb > 1e-3).sum(1) == 2).mean() > 0.5  # most images really are blends of two
    xe, ye = next(iter(pipe.dataset(epoch=None)))  # evaluation batches are never mixed
    np.testing.assert_array_equal(ye.numpy(), y[:10])
    w = np.linspace(0.5, 2, n, dtype=np.float32)  # sample weights pass through; a rerun mixes alike
    again = ArrayPipeline(x, y, w, batch_size=10, mix=build_mixer(AugmentSpec(mixup=0.4), seed=1), seed=2)
    batches = list(again.dataset(epoch=0))
    assert [len(b) for b in batches] == [3, 3]
    np.testing.assert_allclose(np.concatenate([b[1].numpy() for b in batches]), yb, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([b[2].numpy() for b in batches]), w[again.order(0)])


def test_cutmix_pastes_a_box_of_another_image_and_weights_targets_by_its_area():
    import tensorflow as tf

    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import build_mixer

    n = 32  # image i is the constant i and its own class i
    x = tf.reshape(tf.range(n, dtype=tf.float32), [n, 1, 1, 1]) * tf.ones([1, 48, 40, 1])
    y = tf.one_hot(tf.range(n), n)
    seed = tf.constant([3, 5], tf.int64)
    xc, yc = (t.numpy() for t in build_mixer(AugmentSpec(cutmix=1.0), seed=1)(x, y, seed))
    pasted = 0
    for i, (img, target) in enumerate(zip(xc, yc)):
        own = img[..., 0] == i
        assert abs(own.mean() - target[i]) < 1e-5  # the target weight is the area left to the image
        if own.all():
            continue
        pasted += 1
        j = int(np.argmax(np.where(np.arange(n) == i, -1, target)))
        assert np.array_equal(~own, img[..., 0] == j) and abs(target[j] - (~own).mean()) < 1e-5
        rows, cols = np.nonzero(~own)  # the pasted part is one axis-aligned box
        assert (~own)[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert pasted > n // 2
    xb, yb = (t.numpy() for t in build_mixer(AugmentSpec(cutmix=1.0, mixup=0.4), seed=1)(x, y, seed))
    kinds = [len(np.unique(img)) for img in xb]  # mixup: one blended constant; CutMix: two constants
    assert 1 in kinds and 2 in kinds and set(kinds) <= {1, 2}
    np.testing.assert_allclose(yb.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(xb.mean(axis=(1, 2, 3)), yb @ np.arange(n), atol=1e-3)


def test_a_run_with_mixup_and_a_teacher_trains(ds, tmp_path):
    from fer_core.runs import RunStore

    tiny_model("t", (48, 48, 1), 7).save(tmp_path / "teacher.keras")
    teacher = RunStore().import_model(tmp_path / "teacher.keras", name="teacher").id
    m = run_train(cfg_dict(train={"epochs": 1, "teacher": teacher}, augment={"mixup": 0.2}), tmp_path / "run", ds)
    saved = np.load(tmp_path / "run" / "predictions.npz")
    assert m["epochs_completed"] == 1 and m["accuracy"] == pytest.approx(
        float(np.mean(saved["probs"].argmax(1) == saved["labels"])))


def test_pipeline_batches_every_image_once_in_a_seeded_order():
    from fer_core.training.pipeline import ArrayPipeline

    n = 70
    x = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * np.ones((1, 4, 4, 1), np.uint8)
    y = np.eye(7, dtype=np.float32)[np.arange(n) % 7]
    w = np.linspace(0.5, 2, n, dtype=np.float32)
    pipe = ArrayPipeline(x, y, w, batch_size=32, seed=5)
    batches = list(pipe.dataset(epoch=3))
    assert [len(b[0]) for b in batches] == [32, 32, 6] and pipe.batches == 3
    seen = np.concatenate([b[0].numpy()[:, 0, 0, 0] for b in batches]).astype(int)
    assert sorted(seen) == list(range(n)) and list(seen) == list(pipe.order(3))
    for xb, yb, wb in batches:  # images, targets and weights stay paired
        ids = xb.numpy()[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(yb.numpy(), y[ids])
        np.testing.assert_allclose(wb.numpy(), w[ids])
    assert list(pipe.order(3)) == list(ArrayPipeline(x, y, w, seed=5).order(3))  # same on resume
    assert list(pipe.order(4)) != list(pipe.order(3))
    assert list(pipe.order(3)) != list(ArrayPipeline(x, y, seed=6).order(3))
    evaluated = np.concatenate([b.numpy() for b in ArrayPipeline(x, batch_size=32).dataset()])
    np.testing.assert_array_equal(evaluated[:, 0, 0, 0], np.arange(n))  # in order, images only


def test_corruptions_are_applied_in_the_training_pipeline(ds):
    """augment.corruptions reaches the tf.data pipeline: the eye band occludes the eyes only."""
    from fer_core.robustness import corrupt_batch
    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import ArrayPipeline, build_augmenter

    x = ds.images[:40].reshape(40, *ds.images.shape[1:3], -1)
    spec = AugmentSpec(flip=False, rotation=0, zoom=0, shift=0, corruptions=["eye_band"],
                       corruption_p=1.0, corruption_max_severity=1)
    pipe = ArrayPipeline(x, np.zeros((len(x), 7), np.float32), batch_size=16,
                         augment=build_augmenter(spec, seed=3))
    out = np.concatenate([xb.numpy() for xb, _ in pipe.dataset(epoch=0)])
    order = pipe.order(0)
    want = corrupt_batch(x[order], "eye_band", severity=1).astype(np.float32)
    changed = np.abs(out - x[order].astype(np.float32)).sum(axis=(0, 2, 3)) > 0  # per row
    assert changed.any() and not changed.all()  # a band of rows, not the whole face
    np.testing.assert_allclose(out, want, atol=1.0)  # eye_band at severity 1 is deterministic
    # p=0 leaves the images alone; the setting is validated
    spec0 = AugmentSpec(flip=False, rotation=0, zoom=0, shift=0, corruptions=["noise"], corruption_p=0.0)
    aug0 = build_augmenter(spec0)
    np.testing.assert_array_equal(np.asarray(aug0(x[:4].astype(np.float32))), x[:4].astype(np.float32))


def test_random_erasing_erases_one_rectangle_in_the_chosen_share_of_images():
    from fer_core.training.config import AugmentSpec
    from fer_core.training.pipeline import build_augmenter

    x = np.full((400, 48, 48, 1), 128.0, np.float32)
    off = dict(flip=False, rotation=0, zoom=0, shift=0)
    assert build_augmenter(AugmentSpec(**off)) is None
    out = np.asarray(build_augmenter(AugmentSpec(**off, erasing=0.5), seed=1)(x))
    changed = out[..., 0] != 128.0
    erased = changed.any(axis=(1, 2))
    assert 0.4 < erased.mean() < 0.6  # each image with probability 0.5
    for mask in changed[erased][:20]:  # one rectangle: the changed pixels fill their bounding box
        (r0, c0), (r1, c1) = np.argwhere(mask).min(0), np.argwhere(mask).max(0)
        area = (r1 - r0 + 1) * (c1 - c0 + 1)
        assert 0.005 * 48 * 48 <= area <= 0.4 * 48 * 48 and mask.sum() >= 0.9 * area
    assert out.min() >= 0 and out.max() <= 255


@pytest.mark.slow
def test_training_with_corruptions_runs(tmp_path, ds):
    metrics = run_train(cfg_dict(train={"epochs": 1}, augment={"corruptions": ["lighting", "occlusion"],
                                                               "corruption_p": 0.5}), tmp_path, ds)
    saved = np.load(tmp_path / "predictions.npz")
    assert metrics["epochs_completed"] == 1 and metrics["accuracy"] == pytest.approx(
        float(np.mean(saved["probs"].argmax(1) == saved["labels"])))


# -- command line --------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_train(tmp_path, capsys):
    from fer_core.cli.train import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    run_dir = tmp_path / "cli_run"
    args = parser.parse_args(["train", str(ROOT / "experiments" / "synthetic_quick.toml"), "--run-dir",
                              str(run_dir), "--epochs", "1", "--set", "data.path=synthetic:n=120",
                              "--set", "augment.enabled=false", "--quiet"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"test accuracy \d\.\d{4}", out) and "(synthetic data)" in out
    cfg = load_config(run_dir / "config.toml")
    assert cfg.train.epochs == 1 and cfg.data.path == "synthetic:n=120" and not cfg.augment.enabled
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_completed"] == 1


@pytest.mark.slow
def test_swa_added_to_a_finished_run_averages_its_epochs(ds, tmp_path):
    """train.swa_epochs on a finished run (--resume): constant swa_lr epochs whose end weights are
    averaged (on across resumes), batch-norm statistics recomputed, the average kept if it validates best."""
    import keras

    run_train(cfg_dict(train={"epochs": 1}), tmp_path, ds)
    trainable = lambda m: [v.numpy() for v in m.trainable_variables]  # noqa: E731
    m1 = run_train(cfg_dict(train={"epochs": 1, "swa_epochs": 1, "swa_lr": 0.002}), tmp_path, ds, resume=True)
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist) == 2 and hist[1]["lr"] == pytest.approx(0.002)
    assert m1["swa_epochs"] == 1 and m1["epochs_completed"] == 2 and 0 <= m1["swa_val_accuracy"] <= 1
    w2 = trainable(keras.models.load_model(tmp_path / "checkpoint.keras"))
    swa1 = keras.models.load_model(tmp_path / "swa.keras")
    for got, want in zip(trainable(swa1), w2, strict=True):  # the average of one epoch is that epoch
        np.testing.assert_allclose(got, want, rtol=1e-6)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["swa_count"] == 1 and state["swa_kept"] == m1["swa_kept"]
    best_epoch = max(hist, key=lambda h: h["val_accuracy"])  # the best of the epochs themselves
    assert m1["swa_kept"] == (m1["swa_val_accuracy"] > best_epoch["val_accuracy"])  # kept only if it beats them
    assert (state["best_epoch"], state["best_val_accuracy"]) == (
        (2, m1["swa_val_accuracy"]) if m1["swa_kept"] else (best_epoch["epoch"], pytest.approx(best_epoch["val_accuracy"])))
    m2 = run_train(cfg_dict(train={"epochs": 1, "swa_epochs": 2, "swa_lr": 0.002}), tmp_path, ds, resume=True)
    assert m2["epochs_completed"] == 3 and json.loads((tmp_path / "state.json").read_text())["swa_count"] == 2
    w3 = trainable(keras.models.load_model(tmp_path / "checkpoint.keras"))
    swa2 = keras.models.load_model(tmp_path / "swa.keras")
    for got, a, b in zip(trainable(swa2), w2, w3, strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-5, atol=1e-7)
    with pytest.raises(ConfigError, match="train.swa_epochs"):
        load_config(cfg_dict(train={"swa_epochs": -1}))


def test_recompute_batchnorm_sets_exact_means():
    import keras

    from fer_core.training.engine import recompute_batchnorm

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99)(inputs))
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 4)).astype(np.float32)
    assert recompute_batchnorm(model, [(x[i:i + 16], None) for i in range(0, 64, 16)]) == 1
    bn = model.layers[-1]
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0), rtol=1e-5)
    batch_vars = np.mean([x[i:i + 16].var(0) for i in range(0, 64, 16)], axis=0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), batch_vars, rtol=1e-4)
    assert bn.momentum == 0.99  # put back


def test_precision_benchmark_times_both_policies(tmp_path):
    """experiments/bench/precision.py (the README's float32 vs mixed_bfloat16 figures) runs and reports both."""
    import importlib.util

    import keras

    spec = importlib.util.spec_from_file_location("precision", ROOT / "experiments" / "bench" / "precision.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "precision.json"
    assert script.main(["--model", "five_layer", "--kwargs", "{}", "--n", "64", "--batch", "32", "--rounds", "1",
                        "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["policy"] for r in result["rows"]] == ["float32", "mixed_bfloat16"]
    assert all(r["best_img_s"] > 0 for r in result["rows"]) and result["images"] == 64
    assert keras.mixed_precision.global_policy().name == "float32"


def test_eta_is_not_moved_by_one_slow_epoch():
    """The remaining time counts each epoch as the median of the last five: an epoch slowed by other
    work beside the run does not inflate the estimate, a lasting slow-down does."""
    from fer_core.training.engine import _BatchMonitor, _Emitter

    emit = _Emitter(None, epochs=10)
    emit.batches = 100
    monitor = _BatchMonitor(emit, None, None, n_train=6400, batch_size=64)
    assert monitor.eta(1, 50, per_batch=0.5) == 50 * 0.5 + 9 * 50.0  # first epoch: from its batches
    for seconds in (100.0, 100.0, 100.0, 100.0, 400.0):
        monitor.end_epoch(seconds, remaining=0)
    assert monitor.eta(5, 0) == 5 * 100.0
    assert monitor.eta(5, 100) == 100 * 1.0 + 5 * 100.0  # per batch from the median epoch
    for seconds in (400.0, 400.0):
        monitor.end_epoch(seconds, remaining=0)
    assert monitor.eta(7, 0) == 3 * 400.0
