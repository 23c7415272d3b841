"""``explain``: the Explain page's maps (Grad-CAM, Grad-CAM++, occlusion) as pictures, for photos,
test images and a model's most confident mistakes."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, FERError
from .analysis import RUN_HELP, TTA_CHOICES
from .common import add_data_options, add_json_option, emit_json, load_data, text_printer


def _explained_items(args: argparse.Namespace, model, classes: list[str], size: tuple[int, int], grey: bool):
    """``(name, slug, image, true label or None, note)`` for every face asked for, then the failures:
    uploads cropped as Predict crops them, test images by index, the most confident mistakes."""
    from ..data.upload import face_from_upload

    items, failed = [], []
    for path in args.images:
        try:
            data = Path(path).read_bytes()
            face, note = face_from_upload(data, str(path), size, grey)
        except OSError as exc:
            failed.append((path, f"{path}: cannot read file ({exc.strerror or exc})"))
            continue
        except FERError as exc:
            failed.append((path, str(exc)))
            continue
        items.append((str(path), Path(path).stem, face, None, note))
    if args.index or args.mistakes:
        ds = load_data(args)
        if args.split not in ds.available_splits():
            raise ConfigError(f"{ds.display_name} has no {args.split!r} split; it has {ds.available_splits()}.")
        part = ds.split(args.split)
        for i in args.index or []:
            if not 0 <= i < len(part.images):
                raise ConfigError(f"--index {i} is outside the {args.split} split (0..{len(part.images) - 1}).")
            items.append((f"{args.split} #{i} ({part.sources[i]})", f"{args.split}_{i}", part.images[i],
                          part.classes[part.labels[i]], "a test image" if args.split == "test" else "an image"))
        if args.mistakes:
            from ..evaluation import evaluate_model
            from ..evaluation.evalset import confident_mistakes
            from ..inference import default_tta

            tta = args.tta if args.tta is not None else default_tta(args.run)
            report = evaluate_model(model, ds, split=args.split, tta=tta, classes=classes, name=str(args.run))
            for rank, (i, _, _) in enumerate(confident_mistakes(report, part, k=args.mistakes), 1):
                items.append((f"{args.split} #{i} ({part.sources[i]})", f"mistake{rank}_{args.split}_{i}",
                              part.images[i], part.classes[part.labels[i]], f"confident mistake {rank}"))
    return items, failed


def cmd_explain(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from ..errors import did_you_mean
    from ..evaluation import predict_probs
    from ..evaluation.evaluate import model_classes
    from ..evaluation.predict import model_input_shape
    from ..explain import explain, explain_panel
    from ..inference import default_tta, load_model_ref
    from ..io import atomic_write_bytes

    if not (args.images or args.index or args.mistakes):
        raise ConfigError("nothing to explain: give photos, or --index N ... / --mistakes K (images of --data).")
    model, classes = load_model_ref(args.run)
    classes = list(model_classes(model, classes=classes))
    if args.target is not None and args.target not in classes:
        raise ConfigError(f"--class {args.target!r} is not a class of this model ({', '.join(classes)})"
                          + did_you_mean(args.target, classes) + ".")
    try:
        h, w, c = model_input_shape(model)
    except ConfigError:  # an ensemble of mixed input sizes: FER2013's faces
        h = w = c = None
    size, grey = (h or 48, w or 48), (c or 1) == 1
    items, failed = _explained_items(args, model, classes, size, grey)
    tta = args.tta if args.tta is not None else default_tta(args.run)
    say, out_dir, rows = text_printer(args), Path(args.out), []
    for path, message in failed:
        print(f"error: {message}", file=sys.stderr)
        rows.append({"source": str(path), "error": message})
    for name, slug, image, true, note in items:
        probs = predict_probs(model, image[None], tta=tta)[0]
        pred = int(np.argmax(probs))
        shown = pred if args.target is None else classes.index(args.target)
        heat = explain(model, image, args.method, shown)
        out = out_dir / f"{slug}_{args.method}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, cv2.imencode(".png", cv2.cvtColor(explain_panel(image, heat), cv2.COLOR_RGB2BGR))[1]
                           .tobytes())
        peak_y, peak_x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        say(f"{name}: {note}; predicted {classes[pred]} {probs[pred]:.1%}" + (f", true {true}" if true else "")
            + f"; {args.method} map of '{classes[shown]}' -> {out}")
        rows.append({"source": name, "note": note, "true": true, "predicted": classes[pred],
                     "confidence": float(probs[pred]), "probs": {k: float(v) for k, v in zip(classes, probs)},
                     "tta": tta or "none", "method": args.method, "explained_class": classes[shown], "map": str(out),
                     "peak": [round(float((peak_y + 0.5) / heat.shape[0]), 3),
                              round(float((peak_x + 0.5) / heat.shape[1]), 3)]})
    emit_json(args, rows)
    return 2 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``explain``."""
    xp = sub.add_parser("explain", help="Grad-CAM or occlusion maps of photos, test images or mistakes")
    xp.add_argument("run", help=RUN_HELP)
    xp.add_argument("images", nargs="*", metavar="PHOTO",
                    help="photos: the largest face of each, cropped as predict crops it")
    xp.add_argument("--method", choices=["gradcam", "gradcam++", "occlusion"], default="gradcam")
    xp.add_argument("--class", dest="target", default=None, metavar="NAME",
                    help="the class whose map is drawn (default: the predicted one)")
    xp.add_argument("--out", default=".", metavar="DIR",
                    help="folder of the pictures, NAME_METHOD.png: the face and its map side by side (default .)")
    add_data_options(xp, positional=False)
    xp.add_argument("--split", default="test", help="split of --data the images come from (default test)")
    xp.add_argument("--index", type=int, nargs="+", default=None, metavar="N", help="images of the split, by index")
    xp.add_argument("--mistakes", type=int, default=0, metavar="K",
                    help="the K most confident wrong predictions on the split (scored with the model's TTA)")
    xp.add_argument("--tta", choices=TTA_CHOICES, default=None,
                    help="test-time augmentation of the predictions (default: the model's own); maps use the face as shown")
    add_json_option(xp, "one record per face (prediction, map file, where the map peaks)")
    xp.set_defaults(handler=cmd_explain, uses_tf=True)
