"""``whatif``: the Robustness page's what-if sliders from the command line — edit a face (light,
tone, noise, blur, JPEG, rotation, an occluder) and see how the model's probabilities move."""
from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ..errors import ConfigError
from .common import add_json_option, emit_json, text_printer
from .faces import add_face_options, faces_asked, load_model_for_faces, probs_dict, write_png


def parse_settings(pairs: list[str]):
    """``["brightness=-0.3", "occlusion=eye_band"]`` -> a checked :class:`~fer_core.robustness.WhatIf`."""
    from ..errors import did_you_mean
    from ..robustness.whatif import WhatIf, check_whatif

    kinds = {f.name: f.type for f in fields(WhatIf)}
    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or key not in kinds:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(kinds)}"
                              + (did_you_mean(key, list(kinds)) if sep else "") + ".")
        raw = raw.strip()
        try:
            if key == "occlusion":
                values[key] = None if raw.lower() in ("", "none") else raw
            elif key == "jpeg_quality":
                values[key] = int(raw)
            else:
                values[key] = float(raw)
        except ValueError:
            raise ConfigError(f"--set {pair!r}: {key} needs a {'whole ' if key == 'jpeg_quality' else ''}number.") from None
    return check_whatif(WhatIf(**values))


def cmd_whatif(args: argparse.Namespace) -> int:
    import numpy as np

    from ..evaluation import predict_probs
    from ..explain import side_by_side
    from ..robustness.whatif import apply_whatif

    params = parse_settings(args.set or [])
    if not (args.images or args.index):
        raise ConfigError("nothing to edit: give photos, or --index N ... (images of --data).")
    model, classes, size, grey, tta = load_model_for_faces(args)
    faces, failed = faces_asked(args, model, classes, size, grey, tta)
    say, rows = text_printer(args), [{"source": path, "error": message} for path, message in failed]
    changed = {f.name: getattr(params, f.name) for f in fields(params) if getattr(params, f.name) != f.default}
    say("what if: " + (", ".join(f"{k}={v}" for k, v in changed.items()) or "nothing changed (give --set KEY=VALUE)"))
    for f in faces:
        edited = apply_whatif(f.image, params, seed=args.seed)
        before, after = predict_probs(model, np.stack([f.image, edited]), tta=tta)
        out = Path(args.out) / f"{f.stem}_whatif.png"
        write_png(out, side_by_side(f.image, edited))
        b, a = int(np.argmax(before)), int(np.argmax(after))
        say(f"{f.name}: {f.note}" + (f", true {f.true}" if f.true else "")
            + f"; before {classes[b]} {before[b]:.1%}, after {classes[a]} {after[a]:.1%}"
            + (" (changed)" if a != b else f" ({after[b] - before[b]:+.1%})") + f" -> {out}")
        rows.append({"source": f.name, "note": f.note, "true": f.true, "settings": changed, "tta": tta or "none",
                     "before": {"predicted": classes[b], "probs": probs_dict(classes, before)},
                     "after": {"predicted": classes[a], "probs": probs_dict(classes, after)},
                     "prediction_changed": a != b, "picture": str(out)})
    emit_json(args, rows)
    return 2 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``whatif``."""
    wi = sub.add_parser("whatif", help="edit faces (light, noise, blur, rotation, occluders) and compare predictions")
    add_face_options(wi)
    wi.add_argument("--set", nargs="+", default=None, metavar="KEY=VALUE",
                    help="brightness (-1..1), gamma (0.1..10), contrast (0..3), noise (0..255), blur (0..20), "
                         "jpeg_quality (1..100), rotation (degrees), occlusion (eye_band, lower_face, patch, hand), "
                         "occlusion_x, occlusion_y, occlusion_size (0..1): the Robustness page's sliders")
    wi.add_argument("--seed", type=int, default=0, help="fixes the noise field and the hand's skin tone")
    wi.add_argument("--out", default=".", metavar="DIR",
                    help="folder of the pictures, NAME_whatif.png: the face before and after (default .)")
    add_json_option(wi, "one record per face (the probabilities before and after)")
    wi.set_defaults(handler=cmd_whatif, uses_tf=True)
