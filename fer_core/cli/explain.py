"""``explain``: the Explain page's maps (Grad-CAM, Grad-CAM++, occlusion) as pictures, for photos,
test images and a model's most confident mistakes."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .common import add_json_option, emit_json, text_printer
from .faces import add_face_options, faces_asked, load_model_for_faces, probs_dict, write_png


def cmd_explain(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import did_you_mean
    from ..evaluation import predict_probs
    from ..explain import explain, explain_panel

    if not (args.images or args.index or args.mistakes):
        raise ConfigError("nothing to explain: give photos, or --index N ... / --mistakes K (images of --data).")
    model, classes, size, grey, tta = load_model_for_faces(args)
    if args.target is not None and args.target not in classes:
        raise ConfigError(f"--class {args.target!r} is not a class of this model ({', '.join(classes)})"
                          + did_you_mean(args.target, classes) + ".")
    faces, failed = faces_asked(args, model, classes, size, grey, tta)
    say, rows = text_printer(args), [{"source": path, "error": message} for path, message in failed]
    for f in faces:
        probs = predict_probs(model, f.image[None], tta=tta)[0]
        pred = int(np.argmax(probs))
        shown = pred if args.target is None else classes.index(args.target)
        heat = explain(model, f.image, args.method, shown)
        out = Path(args.out) / f"{f.stem}_{args.method}.png"
        write_png(out, explain_panel(f.image, heat))
        peak_y, peak_x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        say(f"{f.name}: {f.note}; predicted {classes[pred]} {probs[pred]:.1%}" + (f", true {f.true}" if f.true else "")
            + f"; {args.method} map of '{classes[shown]}' -> {out}")
        rows.append({"source": f.name, "note": f.note, "true": f.true, "predicted": classes[pred],
                     "confidence": float(probs[pred]), "probs": probs_dict(classes, probs), "tta": tta or "none",
                     "method": args.method, "explained_class": classes[shown], "map": str(out),
                     "peak": [round(float((peak_y + 0.5) / heat.shape[0]), 3),
                              round(float((peak_x + 0.5) / heat.shape[1]), 3)]})
    emit_json(args, rows)
    return 2 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``explain``."""
    xp = sub.add_parser("explain", help="Grad-CAM or occlusion maps of photos, test images or mistakes")
    add_face_options(xp, mistakes=True)
    xp.add_argument("--method", choices=["gradcam", "gradcam++", "occlusion"], default="gradcam")
    xp.add_argument("--class", dest="target", default=None, metavar="NAME",
                    help="the class whose map is drawn (default: the predicted one)")
    xp.add_argument("--out", default=".", metavar="DIR",
                    help="folder of the pictures, NAME_METHOD.png: the face and its map side by side (default .)")
    add_json_option(xp, "one record per face (prediction, map file, where the map peaks)")
    xp.set_defaults(handler=cmd_explain, uses_tf=True)
