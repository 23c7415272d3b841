"""Install finished FER2013 runs as FER Studio's bundled models (fer_core/pretrained), with cards.

    .venv/bin/python experiments/bundle_models.py \
        --model RUN_DIR ID "TITLE" [--model ...] \
        [--ensemble ID "TITLE" MEMBER_ID,MEMBER_ID,... ] [--tta flip] [--calibrate] [--latency] \
        [--float16] [--single-tta tencrop] [--remove ID ...] [--default ID]
    .venv/bin/python experiments/bundle_models.py --add-train-twins

For each ``--model``: the run's ``model.keras`` is re-saved without its optimizer state (a third
of the size), its test predictions and results are copied, and its card is computed afresh on the
run's own test split (FER2013 PublicTest for the FER2013 configs) with the run's TTA; ``--float16``
stores the weights at half size and scores those (a bundled folder may be given as RUN_DIR to
re-store it); ``--single-tta`` scores them with another TTA than their config's (chosen on
validation), which predicting and evaluating them by name then use. Each
``--ensemble`` soft-votes bundled models with ``--tta``; its test predictions are computed here;
``--calibrate`` gives it the temperature that best fits the validation faces (Guo et al. 2017).
``--default ID`` makes a bundled entry ``default`` (chosen on validation, e.g. by
``pick_ensemble.py --policies``); without it ``default`` stays as it is, and an empty shelf's first
``default`` is the entry with the best *validation* accuracy (the 5% of train the configs hold out).
PublicTest picks nothing. Needs the dataset the runs were trained on. ``--remove`` drops
superseded entries first (ensembles before their members; never ``default``), to keep the weights
within the repository's budget. ``--add-train-twins`` adds to every bundled card (from its stored
test predictions, checked against the card's accuracy) the accuracy with and without the test
faces that have a pixel-identical twin in train (``fer_core.evaluation.leakage``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fer_core.tf_quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

from fer_core import bundled  # noqa: E402
from fer_core.io import atomic_write_json  # noqa: E402
from fer_core.models.files import load_model_file, save_float16  # noqa: E402
from fer_core.evaluation.leakage import train_twins  # noqa: E402
from fer_core.modelcard import FER2013_LIMITS, latency_per_face, report_figures  # noqa: E402
from fer_core.paths import machine_name  # noqa: E402


def prepared(config: dict):
    """The run's data splits. A teacher only changes the train targets, never which images are in
    validation, so it is left out (scoring it on the whole train split would be wasted work)."""
    from fer_core.training.config import load_config
    from fer_core.training.prepare import prepare_data

    cfg = load_config(config)
    cfg.train.teacher = None
    return prepare_data(cfg)


def val_images(data):
    """The validation faces as the dataset holds them: (n, h, w) grey or (n, h, w, 3) RGB."""
    return data.x_val[..., 0] if data.x_val.shape[-1] == 1 else data.x_val


def val_probs(model, data, tta: str | list[str] | None = None):
    """The model's probabilities on the validation faces (``tta=None``: an ensemble's own TTA)."""
    from fer_core.evaluation import predict_probs

    return predict_probs(model, val_images(data), tta=tta)


def val_accuracy(probs, data) -> float:
    return float((probs.argmax(1) == data.labels_val).mean())


_AUGMENTS = ("flip", "rotation", "zoom", "shift", "erasing", "mixup", "cutmix", "corruptions")


def recipe_of(cfg: dict) -> str:
    """One line for a card: the architecture, optimiser, regularisation, augmentation and targets of
    a run's configuration (every option that changes what is learned, not only the usual ones)."""
    t, a, m = cfg.get("train", {}), cfg.get("augment", {}), cfg.get("model", {})
    aug = (", ".join(f"{k} {a[k]}" for k in _AUGMENTS if a.get(k)) or "none") if a.get("enabled", True) else "off"
    nesterov = "Nesterov " if t.get("nesterov") else ""
    opt = t.get("optimizer") + (f" ({nesterov}momentum {t.get('momentum')})" if t.get("optimizer") == "sgd" else "")
    more = []
    if t.get("teacher"):
        w = t.get("teacher_weight", 0.5)
        more.append(f"targets {1 - w:.0%} labels + {w:.0%} the probabilities of teacher {t['teacher']} (distillation)")
    if t.get("soft_labels"):
        w = t.get("soft_weight", 1.0)
        more.append(f"targets {1 - w:.0%} labels + {w:.0%} the FER+ vote distributions")
    if t.get("ema"):
        more.append(f"EMA of the weights (momentum {t['ema']}) for validation and the saved model")
    if t.get("swa_epochs"):
        more.append(f"then {t['swa_epochs']} epochs of SWA at lr {t.get('swa_lr')} (the average kept only if "
                    "it beats the best epoch on validation)")
    if t.get("early_stopping"):
        more.append(f"early stopping after {t['early_stopping']} epochs without a better validation accuracy")
    if t.get("time_limit_min"):
        more.append(f"a time budget of {t['time_limit_min']:g} min (the epochs done depend on the machine)")
    if t.get("precision", "float32") != "float32":
        more.append(f"trained in {t['precision']} (the saved model computes in float32)")
    return (f"{m.get('name')}{' ' + str(m['kwargs']) if m.get('kwargs') else ''}, {opt} lr {t.get('lr')} ({t.get('schedule')}), "
            f"weight decay {t.get('weight_decay', 0)}, batch {t.get('batch_size')}, label smoothing "
            f"{t.get('label_smoothing', 0)}, seed {t.get('seed')}; augmentation: {aug}; imbalance: "
            f"{cfg.get('imbalance', 'none')}" + "".join(f"; {x}" for x in more))


def bundle_model(run_dir: Path, bid: str, title: str, ds, latency: bool,
                 float16: bool = False, tta: str | None = None) -> tuple[str, float]:
    """Install the run in ``run_dir`` (or re-install a bundled folder) as ``bid``; ``float16`` stores
    the weights at half size, and then the test predictions and every figure are recomputed from
    the stored weights (the run's own accuracy stays in metrics.json as ``accuracy_run``).
    ``tta`` replaces the config's ``eval.tta`` for the card (chosen on validation, e.g. with
    pick_ensemble.py); predicting and evaluating the bundled model by name then use it."""
    from fer_core.evaluation import evaluate_model
    from fer_core.evaluation.evalset import save_predictions
    from fer_core.training.config import load_config

    rec = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    cfg = rec["config"]
    config_tta = cfg.get("eval", {}).get("tta", "none")
    tta = tta or config_tta
    model = load_model_file(run_dir / "model.keras")
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        for name in ("config.toml", "history.json", "metrics.json", "predictions.npz", "run.json"):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, stage / name)
        if float16:
            save_float16(model, stage / "model.keras")
            model = load_model_file(stage / "model.keras")  # score what ships
        else:
            model.save(stage / "model.keras")  # no optimizer state
        data = prepared(cfg)
        test = ds.split("test")
        report = evaluate_model(model, ds, "test", tta=tta)
        card = {
            "id": bid, "title": title, "kind": "model", "architecture": cfg["model"]["name"],
            "parameters": int(model.count_params()), "weights_file": "model.keras",
            "training_data": (f"{rec.get('dataset')}: {metrics.get('n_train')} train / {metrics.get('n_val')} "
                              f"validation (held out from train, seed {cfg['data'].get('seed')}) / "
                              f"{metrics.get('n_test')} test ({metrics.get('eval_split')})"),
            "recipe": recipe_of(cfg), "config": f"experiments/{cfg['name']}.toml",
            "epochs": f"{metrics.get('epochs_completed')} of {metrics.get('epochs')} (best validation epoch "
                      f"{metrics.get('best_epoch')}, val accuracy {metrics.get('best_val_accuracy'):.4f})",
            "training_time": f"{metrics.get('train_seconds', 0) / 60:.1f} min fitting at "
                             f"{metrics.get('images_per_s')} img/s",
            "machine": metrics.get("machine") or "see README, Bundled models",
            "figures": report_figures(report, test, train_twins(ds, "test")),
            "validation_accuracy": val_accuracy(val_probs(model, data, tta), data),
            "limits": list(FER2013_LIMITS),
        }
        if latency:
            card["latency_ms"] = latency_per_face(model, workdir=stage / "export")
            card["latency_machine"] = machine_name()
            shutil.rmtree(stage / "export", ignore_errors=True)
        figs = card["figures"]
        if tta != config_tta:
            card["recipe"] += f"; test-time augmentation {tta} (chosen on the validation faces; the config says {config_tta})"
        if float16 or tta != config_tta:
            save_predictions(stage / "predictions.npz", report.probs, test.labels, test.sources, report.classes, "test")
            metrics.update(accuracy_run=metrics.get("accuracy_run", metrics.get("accuracy")), tta=tta,
                           accuracy=figs["accuracy"], macro_f1=figs["macro_f1"])
            if float16:
                card["weights_storage"] = "float16 (read back into float32 variables)"
                metrics["weights_storage"] = "float16"
            atomic_write_json(stage / "metrics.json", metrics)
        load_config(cfg)  # the stored config is still valid
        source = rec.get("source_run") if rec.get("bundled") else rec.get("id", run_dir.name)
        bundled.install_bundled(bid, title=title, source_run=stage, card=card,
                                record={"config": cfg, "dataset": rec.get("dataset"), "model": cfg["model"]["name"],
                                        "created": rec.get("created"), "source_run": source,
                                        "test_accuracy": figs["accuracy"], "macro_f1": figs["macro_f1"]})
    print(f"{bid}: test {card['figures']['accuracy']:.4f}, val {card['validation_accuracy']:.4f}")
    return bid, card["validation_accuracy"]


def bundle_ensemble(bid: str, title: str, members: list[str], tta: str | list[str], ds, latency: bool,
                    calibrate: bool = False) -> tuple[str, float]:
    from fer_core.evaluation import Ensemble, evaluate_model, fit_temperature

    models = [bundled.load_bundled(m) for m in members]
    cfg = bundled.get_bundled(members[0]).record["config"]
    data = prepared(cfg)
    val = val_probs(Ensemble(models, tta=tta), data)
    temperature = fit_temperature(data.labels_val, val) if calibrate else 1.0
    ens = Ensemble(models, name=title, tta=tta, temperature=temperature)
    test = ds.split("test")
    report = evaluate_model(ens, ds, "test", tta=tta)
    preds = {"probs": report.probs, "labels": test.labels, "sources": test.sources,
             "classes": report.classes, "split": "test"}
    card = {"id": bid, "title": title, "kind": "ensemble", "members": members,
            "recipe": f"soft voting (equal weights) with test-time augmentation {tta!r}" + (
                f", temperature {temperature:.3f} fitted on the validation faces (Guo et al. 2017)"
                if calibrate else ""),
            "training_data": bundled.get_bundled(members[0]).card().get("training_data"),
            "figures": report_figures(report, test, train_twins(ds, "test")),
            "validation_accuracy": val_accuracy(val, data),
            "limits": list(FER2013_LIMITS)}
    if latency:  # one face through every member and TTA view, as the Predict page runs it
        card["latency_ms"] = latency_per_face(ens, runtimes=("keras",))
        card["latency_machine"] = machine_name()
    bundled.install_bundled(bid, title=title, members=members, tta=tta, card=card, predictions=preds,
                            record={"config": cfg, "dataset": cfg["data"]["path"]}, temperature=temperature)
    print(f"{bid}: test {card['figures']['accuracy']:.4f}, val {card['validation_accuracy']:.4f}")
    return bid, card["validation_accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs=3, action="append", default=[], metavar=("RUN_DIR", "ID", "TITLE"))
    ap.add_argument("--ensemble", nargs=3, action="append", default=[], metavar=("ID", "TITLE", "MEMBERS"))
    ap.add_argument("--tta", default="flip", help="ensembles' TTA: none, flip, shift, tencrop or modes joined by '+', or spread (alone)")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit the ensembles' temperature on the validation faces (temperature scaling)")
    ap.add_argument("--latency", action="store_true", help="time Keras/ONNX/TFLite per face for the cards (an ensemble: whole, in Keras)")
    ap.add_argument("--float16", action="store_true",
                    help="store the --model weights as float16 (half the size; figures recomputed from them)")
    ap.add_argument("--single-tta", choices=["none", "flip", "shift", "tencrop"],
                    help="the --model entries' TTA on their cards (default: their config's eval.tta)")
    ap.add_argument("--remove", nargs="+", default=[], metavar="ID", help="bundled ids to remove, in this order")
    ap.add_argument("--default", metavar="ID", help="make this bundled entry `default` (chosen on validation)")
    ap.add_argument("--add-train-twins", action="store_true",
                    help="add the accuracy with and without the test faces that have a twin in train to every card")
    args = ap.parse_args()
    if args.add_train_twins:
        add_train_twins()
        return
    shelf_was_empty = bundled.default_id() is None  # install_bundled makes the first entry default
    for bid in args.remove:
        bundled.uninstall_bundled(bid)
        print(f"removed {bid}")
    from fer_core.data import load_dataset
    from fer_core.training.config import resolve_path

    scores: list[tuple[str, float]] = []
    ds = None
    for run_dir, bid, title in args.model:
        cfg = json.loads((Path(run_dir) / "run.json").read_text())["config"]
        ds = ds or load_dataset(resolve_path(cfg["data"]["path"]))
        scores.append(bundle_model(Path(run_dir), bid, title, ds, args.latency, args.float16, args.single_tta))
    for bid, title, members in args.ensemble:
        if ds is None:
            cfg = bundled.get_bundled(members.split(",")[0]).record["config"]
            ds = load_dataset(resolve_path(cfg["data"]["path"]))
        modes = [m for m in args.tta.split("+") if m]  # "flip+shift" -> ["flip", "shift"]
        scores.append(bundle_ensemble(bid, title, members.split(","), modes[0] if len(modes) == 1 else modes, ds,
                                      args.latency, args.calibrate))
    if scores and not args.latency:
        print("note: no latency measured, so these cards lack it (tests/test_pretrained.py asks for it); "
              "bundle them again with --latency on an idle machine")
    set_default(args.default, shelf_was_empty=shelf_was_empty and bool(scores))


def add_train_twins() -> None:
    """Add ``figures["train_twins"]`` to every bundled card, from its stored test predictions."""
    from fer_core.data import load_dataset
    from fer_core.evaluation.leakage import format_leakage, leakage_figures
    from fer_core.training.config import resolve_path

    datasets: dict[str, object] = {}
    for b in bundled.list_bundled():
        card = b.card()
        figs = card["figures"]
        path = resolve_path(b.record["config"]["data"]["path"])
        if path not in datasets:
            datasets[path] = load_dataset(path)
        ds = datasets[path]
        test = ds.split(figs["split"])
        with np.load(b.path / "predictions.npz") as z:
            pred = {k: z[k] for k in ("probs", "classes", "sources")}
        if list(pred["classes"]) != list(test.classes) or list(pred["sources"]) != list(test.sources):
            raise SystemExit(f"{b.id}: its stored predictions are not of {path}'s {figs['split']} split in order")
        y_pred = pred["probs"].argmax(1)
        accuracy = float((y_pred == test.labels).mean())
        if abs(accuracy - figs["accuracy"]) > 1e-9:
            raise SystemExit(f"{b.id}: stored predictions give {accuracy:.6f}, its card {figs['accuracy']:.6f}")
        figs["train_twins"] = leakage_figures(test.labels, y_pred, train_twins(ds, figs["split"]))
        bundled.update_card(b.id, card)
        print(f"{b.id}: {format_leakage(figs['train_twins'])}")


def set_default(bid: str | None, *, shelf_was_empty: bool) -> None:
    """Make ``bid`` the ``default``. Without one, ``default`` stays as it is, except on a shelf that
    had none before this run: then the entry with the best validation accuracy takes it."""
    if bid is None and not shelf_was_empty:
        if bundled.default_id():
            print(f"default stays {bundled.default_id()} (--default ID to change it)")
        return
    why = "--default"
    if bid is None:
        val = {b.id: b.card().get("validation_accuracy") for b in bundled.list_bundled()}
        bid = max((i for i, v in val.items() if isinstance(v, (int, float))), key=lambda i: val[i])
        why = "best validation accuracy"
    print(f"default -> {bundled.set_default(bid)} ({why})")  # a clear error when bid is not bundled


if __name__ == "__main__":
    main()
