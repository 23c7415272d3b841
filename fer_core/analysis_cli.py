"""CLI commands on trained models: ``evaluate``, ``robustness`` and ``export``."""
from __future__ import annotations

import argparse
from pathlib import Path

from .errors import ConfigError


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run id, run folder, .keras model or ensemble .json")
    p.add_argument("--data", default="synthetic", help="dataset (default: the synthetic set)")
    p.add_argument("--format", default="auto", choices=["auto", "synthetic", "fer2013-csv", "folders", "oahega"])
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--faces", choices=["haar", "mtcnn"], default=None,
                   help="detect and crop faces first (uncropped photos such as JAFFE)")
    p.add_argument("--extra", choices=["keep", "drop"], default=None)
    p.add_argument("--json", help="write the results as JSON to this file")


def _load(args: argparse.Namespace):
    from .data import load_dataset
    from .inference import load_model_ref

    opts = {k: v for k, v in {"faces": args.faces, "extra": args.extra}.items() if v is not None}
    ds = load_dataset(args.data, args.format, **opts)
    if args.faces:
        no_face = [i for i in ds.issues if "no face" in i.reason]
        print(f"face detection ({args.faces}): {len(no_face)} image(s) had no face and were left out")
    if args.split != "all":
        if args.split not in ds.available_splits():
            raise ConfigError(f"{ds.display_name} has no {args.split!r} split; it has {ds.available_splits()}. "
                              "Use --split with one of them (or 'all').")
    model, classes = load_model_ref(args.run)
    return ds, model, classes


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_model
    from .io import atomic_write_json

    ds, model, classes = _load(args)
    if args.split == "all":
        ds.splits[:] = "test"
    report = evaluate_model(model, ds, split="test" if args.split == "all" else args.split,
                            tta=args.tta, classes=classes, name=str(args.run))
    print(f"{args.run} on {ds.display_name}, split {args.split}:")
    print(report.format_text())
    if args.json:
        atomic_write_json(args.json, report.to_dict())
        print(f"wrote {args.json}")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from .evaluation import predict_probs
    from .evaluation.evaluate import model_classes
    from .evaluation.alignment import align_labels
    from .io import atomic_write_json
    from .robustness import sweep

    ds, model, classes = _load(args)
    part = ds if args.split == "all" else ds.split(args.split)
    y, keep, _ = align_labels(part.labels, part.classes, model_classes(model, part.classes, classes))
    images = part.images[keep]

    def progress(event: dict) -> None:
        print(f"\r  step {event['step']}/{event['steps']} {event.get('message', '')}"[:100].ljust(100),
              end="", flush=True)

    result = sweep({str(args.run): lambda x: predict_probs(model, x)}, images, y,
                   corruptions=args.corruptions, severities=tuple(args.severities), sample=args.sample,
                   seed=args.seed, progress=progress)
    print()
    print(result.table.to_string(index=False))
    print(result.summary.to_string())
    if args.json:
        atomic_write_json(args.json, result.to_dict())
        print(f"wrote {args.json}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .export import ExportedModel, export_model, top1_agreement
    from .inference import load_model_ref

    model, _ = load_model_ref(args.run)
    out = Path(args.out or f"{Path(str(args.run)).stem if str(args.run).endswith('.keras') else args.run}.{args.format}")
    export_model(model, args.format, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.data:
        ds = load_dataset(args.data)
        split = args.split if args.split in ds.available_splits() else ds.available_splits()[-1]
        check = top1_agreement(model, ExportedModel(out), ds.split(split).images)
        print(f"check on {ds.display_name} {split} split ({check['n']} images): top-1 agreement "
              f"{check['top1_agreement']:.2%}, max |prob diff| {check['max_abs_prob_diff']:.2e}")
        if check["top1_agreement"] < 1.0:
            print("warning: the exported model disagrees with the Keras model on some images")
            return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``, ``robustness`` and ``export`` to the ``python -m fer_core`` parser."""
    ev = sub.add_parser("evaluate", help="metrics of a run/model/ensemble on a dataset split")
    _data_args(ev)
    ev.add_argument("--tta", choices=["none", "flip", "shift"], default=None, help="test-time augmentation")
    ev.set_defaults(handler=cmd_evaluate)

    rb = sub.add_parser("robustness", help="accuracy under every corruption x severity")
    _data_args(rb)
    rb.add_argument("--corruptions", nargs="*", default=None, help="names or subsets (default: all)")
    rb.add_argument("--severities", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    rb.add_argument("--sample", type=int, default=None, help="use a fixed random sample of N images")
    rb.add_argument("--seed", type=int, default=0)
    rb.set_defaults(handler=cmd_robustness)

    ex = sub.add_parser("export", help="export a model to ONNX or TFLite and check it against Keras")
    ex.add_argument("run", help="run id, run folder or .keras model")
    ex.add_argument("--format", choices=["onnx", "tflite"], default="onnx")
    ex.add_argument("--out", help="output file (default RUN.FORMAT in the current folder)")
    ex.add_argument("--data", help="dataset whose split is used to check top-1 agreement")
    ex.add_argument("--split", default="test")
    ex.set_defaults(handler=cmd_export)
