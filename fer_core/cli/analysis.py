"""Commands on trained models: ``evaluate``, ``robustness``, ``predict`` and ``export``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, FERError, ImageReadError
from ..export import RUNTIME_HELP, RUNTIMES
from ..tta import parse_tta
from .common import add_data_options, add_json_option, emit_json, load_data, load_split_data, text_printer

RUN_HELP = "run id, run folder, .keras model or ensemble .json"
TTA_ARG_HELP = ("test-time augmentation: none, flip, shift, tencrop, spread, or modes joined by '+' for their "
                "union, e.g. flip+shift (default: the model's own, the one its reported accuracy used)")


def tta_arg(value: str) -> str:
    """argparse type of ``--tta``: one mode, or modes joined by ``+`` (their union), checked by
    :func:`fer_core.tta.parse_tta`; returns them joined by ``+`` in their canonical order."""
    try:
        return "+".join(parse_tta(value)) or "none"
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _data_and_model(args: argparse.Namespace):
    """The dataset (checked for ``--split``), the model and its classes."""
    from ..inference import load_model_ref

    ds = load_split_data(args, allow_all=True)
    if args.faces:
        no_face = [i for i in ds.issues if "no face" in i.reason]
        text_printer(args)(f"face detection ({args.faces}): {len(no_face)} image(s) had no face and were left out")
    model, classes = load_model_ref(args.run)
    return ds, model, classes


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_model
    from ..evaluation.leakage import format_leakage
    from ..inference import default_tta

    ds, model, classes = _data_and_model(args)
    if args.split == "all":
        ds.splits[:] = "test"
    tta = args.tta if args.tta is not None else default_tta(args.run)
    report = evaluate_model(model, ds, split="test" if args.split == "all" else args.split,
                            tta=tta, classes=classes, name=str(args.run))
    say = text_printer(args)
    own = " (the model's own, as in its reported accuracy; --tta none to turn it off)" if args.tta is None and tta else ""
    say(f"{args.run} on {ds.display_name}, split {args.split}, TTA {report.meta.get('tta')}{own}:")
    if ds.split_note and args.split != "all":
        say(f"note: {ds.display_name} has no split folders, so its images were {ds.split_note}; this scores "
            f"the {args.split} part only ({report.n} of {len(ds)} images). `--split all` scores every image: "
            "right for a model that never trained on them (a bundled model, say).")
    say(report.format_text())
    out = report.to_dict()
    out["train_twins"] = _train_twins(ds, args.split, report)
    if out["train_twins"] is not None:
        say(f"train twins: {format_leakage(out['train_twins'])}")
    emit_json(args, out)
    return 0


def _train_twins(ds, split: str, report):
    """Accuracy with and without the scored images that have a pixel-identical twin in the train
    split (None when the dataset has no train split, or ``split`` is it or ``all``)."""
    from ..evaluation.leakage import leakage_figures, train_twins

    twins = None if split == "all" else train_twins(ds, split)
    if twins is None:
        return None
    by_source = dict(zip(ds.split(split).sources, twins))
    return leakage_figures(report.y_true, report.y_pred, [by_source[s] for s in report.sources])


def cmd_robustness(args: argparse.Namespace) -> int:
    from ..evaluation import predict_probs
    from ..evaluation.evaluate import model_classes
    from ..evaluation.alignment import align_labels
    from ..robustness import sweep

    ds, model, classes = _data_and_model(args)
    part = ds if args.split == "all" else ds.split(args.split)
    y, keep, _ = align_labels(part.labels, part.classes, model_classes(model, part.classes, classes))
    images = part.images[keep]
    say = text_printer(args)

    def progress(event: dict) -> None:
        say(f"\r  step {event['step']}/{event['steps']} {event.get('message', '')}"[:100].ljust(100),
            end="", flush=True)

    result = sweep({str(args.run): lambda x: predict_probs(model, x)}, images, y,
                   corruptions=args.corruptions, severities=tuple(args.severities), sample=args.sample,
                   seed=args.seed, progress=progress)
    say()
    say(result.table.to_string(index=False))
    say(result.summary.to_string())
    emit_json(args, result.to_dict())
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..video.reader import is_video_file

    videos = [p for p in args.images if is_video_file(p)]
    if videos:
        if len(args.images) > 1:
            raise ConfigError(f"give one video at a time (got {len(args.images)} files, {len(videos)} of them "
                              "videos); photos and videos go in separate calls.")
        return _predict_video(args)
    if args.every is not None:
        raise ConfigError("--every applies to videos (.mp4 .avi .mov .webm .mkv); photos are analysed whole.")
    unopenable = _unopenable(args.images)  # reported without loading a model that nothing would use
    predictor = None
    if len(unopenable) < len(args.images):
        from ..inference import Predictor

        predictor = Predictor.from_ref(args.run, detector=args.detector, min_face=args.min_face,
                                       fallback=args.fallback, tta=args.tta, runtime=args.runtime)
    rows, failed = [], 0
    for path in args.images:
        try:
            if path in unopenable:
                raise unopenable[path]
            result = predictor.predict_image(path)
        except FERError as exc:
            print(f"error: {exc}", file=sys.stderr)
            rows.append({"source": path, "face": 0, "status": f"error: {exc}"})
            failed += 1
            continue
        print(f"{path}: {result.message}")
        for i, f in enumerate(result.faces, 1):
            top = sorted(zip(f.probs, f.classes), reverse=True)[:3]
            print(f"  face {i} at {f.box}: {f.label} {f.confidence:.1%}  (" +
                  ", ".join(f"{c} {p:.1%}" for p, c in top) + ")")
        rows.extend(result.rows())
        if args.annotate and result.faces:
            import cv2

            out = Path(args.annotate) / f"{Path(path).stem}_annotated.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), cv2.cvtColor(result.annotated(), cv2.COLOR_RGB2BGR))
    if args.csv:
        from ..io import atomic_write_bytes
        from ..tables import predictions_csv

        atomic_write_bytes(args.csv, predictions_csv(rows))
        print(f"wrote {args.csv}")
    return 2 if failed else 0


def _unopenable(paths: list[str]) -> dict[str, ImageReadError]:
    """The error of each path that cannot be opened (missing, a folder, no permission)."""
    from ..data.images import unreadable

    out = {}
    for path in paths:
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            out[path] = unreadable(path, exc)
    return out


def _predict_video(args: argparse.Namespace) -> int:
    """``predict RUN clip.mp4``: a row per frame and face, a per-face summary, an annotated video."""
    from ..inference import Predictor
    from ..video.analyze import analyze_video
    from ..video.frames import check_every
    from ..video.reader import probe_video

    every = check_every(3 if args.every is None else args.every)
    info = probe_video(args.images[0])  # bad files fail here, before the model loads
    predictor = Predictor.from_ref(args.run, detector=args.detector, min_face=args.min_face, tta=args.tta,
                                   runtime=args.runtime)
    annotate = Path(args.annotate) / f"{info.path.stem}_annotated.mp4" if args.annotate else None
    made_dir = annotate is not None and not annotate.parent.exists()
    print(f"{info.path}: {info.describe()}; faces detected every {every} frame(s)")
    progress = _progress_line(sys.stderr)
    try:
        result = analyze_video(info, predictor, every=every, annotate_to=annotate, progress=progress)
        if args.csv:
            from ..io import atomic_write_bytes

            atomic_write_bytes(args.csv, result.csv_bytes())
    except BaseException:
        if made_dir and annotate.parent.is_dir() and not any(annotate.parent.iterdir()):
            annotate.parent.rmdir()  # leave nothing behind
        raise
    finally:
        progress(None, None)
    speed = f" ({result.speed:.1f}x real time)" if result.speed else ""
    summary = result.summary
    print(f"analysed {result.frames} frames in {result.seconds:.1f} s{speed}: {len(summary)} face(s)")
    for row in summary.to_dict(orient="records"):
        shares = sorted(((row[c], c) for c in result.classes if row[c] > 0), reverse=True)
        print(f"  face {row['face_id']}: {row['seconds']:.1f} s in view ({row['first_s']:.1f}-{row['last_s']:.1f} s) — "
              + ", ".join(f"{c} {v:.0%}" for v, c in shares))
    if args.csv:
        print(f"wrote {args.csv}")
    if annotate is not None:
        print(f"wrote {annotate}")
    return 0


def _progress_line(stream):
    """``progress(done, total)`` drawing one self-erasing line on a terminal (nothing otherwise);
    ``progress(None, None)`` erases it."""
    tty = stream.isatty()
    last = [0.0]

    def progress(done, total) -> None:
        import time

        if not tty:
            return
        if done is None:
            stream.write("\r\x1b[K")
            stream.flush()
            return
        now = time.monotonic()
        if now - last[0] < 0.2 and done != total:
            return
        last[0] = now
        pct = f" ({min(done / total, 1):.0%})" if total else ""
        stream.write(f"\r  frame {done}{f'/{total}' if total else ''}{pct}")
        stream.flush()

    return progress


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import ExportedModel, export_model, top1_agreement
    from ..inference import load_model_ref

    model, _ = load_model_ref(args.run)
    out = Path(args.out or f"{Path(str(args.run)).stem if str(args.run).endswith('.keras') else args.run}.{args.format}")
    export_model(model, args.format, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.data:
        ds = load_data(args)
        split = args.split if args.split in ds.available_splits() else ds.available_splits()[-1]
        check = top1_agreement(model, ExportedModel(out), ds.split(split).images)
        print(f"check on {ds.display_name} {split} split ({check['n']} images): top-1 agreement "
              f"{check['top1_agreement']:.2%}, max |prob diff| {check['max_abs_prob_diff']:.2e}")
        if check["top1_agreement"] < 1.0:
            print("warning: the exported model disagrees with the Keras model on some images")
            return 1
    return 0


def _model_and_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help=RUN_HELP)
    add_data_options(p, positional=False)
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    add_json_option(p)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``, ``robustness``, ``predict`` and ``export``."""
    ev = sub.add_parser("evaluate", help="metrics of a run/model/ensemble on a dataset split")
    _model_and_data(ev)
    ev.add_argument("--tta", type=tta_arg, default=None, metavar="TTA", help=TTA_ARG_HELP)
    ev.set_defaults(handler=cmd_evaluate, uses_tf=True)

    rb = sub.add_parser("robustness", help="accuracy under every corruption x severity")
    _model_and_data(rb)
    rb.add_argument("--corruptions", nargs="*", default=None, help="names or subsets (default: all)")
    rb.add_argument("--severities", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    rb.add_argument("--sample", type=int, default=None, help="use a fixed random sample of N images")
    rb.add_argument("--seed", type=int, default=0)
    rb.set_defaults(handler=cmd_robustness, uses_tf=True)

    pred = sub.add_parser("predict", help="detect faces in photos (or a video) and classify each")
    pred.add_argument("run", help=RUN_HELP)
    pred.add_argument("images", nargs="+", metavar="FILE",
                      help="photos (JPEG/PNG/WebP/BMP/TIFF, any size and mode), or one video (.mp4 .avi .mov .webm .mkv)")
    pred.add_argument("--csv", help="write one row per face (video: per frame and face) to this CSV file")
    pred.add_argument("--every", type=int, default=None, metavar="K",
                      help="video: detect faces every K-th frame and follow them in between (default 3)")
    pred.add_argument("--detector", choices=["blazeface", "haar", "mtcnn"], default="blazeface")
    pred.add_argument("--min-face", type=int, default=30, help="smallest face side in pixels")
    pred.add_argument("--fallback", action="store_true", help="classify the whole image when no face is found")
    pred.add_argument("--tta", type=tta_arg, default=None, metavar="TTA", help=TTA_ARG_HELP)
    pred.add_argument("--runtime", choices=RUNTIMES, default="keras", help=RUNTIME_HELP)
    pred.add_argument("--annotate", metavar="DIR",
                      help="save each photo (a video: NAME_annotated.mp4) with boxes and labels into DIR")
    pred.set_defaults(handler=cmd_predict, uses_tf=True)

    ex = sub.add_parser("export", help="export a model to ONNX or TFLite and check it against Keras")
    ex.add_argument("run", help="run id, run folder or .keras model")
    ex.add_argument("--format", choices=["onnx", "tflite"], default="onnx")
    ex.add_argument("--out", help="output file (default RUN.FORMAT in the current folder)")
    ex.add_argument("--data", metavar="PATH", help="dataset whose split is used to check top-1 agreement")
    ex.add_argument("--split", default="test")
    ex.set_defaults(handler=cmd_export, uses_tf=True)
