"""Command line: ``python -m fer_core <command> ...``.

Everything the dashboard does can be scripted from here. Commands print human-readable text and
write JSON with ``--json OUT``; errors on bad input print one clear line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from .errors import FERError

Handler = Callable[[argparse.Namespace], int]


def _add_data_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="dataset: 'synthetic', a FER2013 CSV, an image folder, or a .zip")
    p.add_argument("--format", default="auto",
                   choices=["auto", "synthetic", "fer2013-csv", "folders", "oahega"])
    p.add_argument("--size", type=int, default=None, help="resize images to SIZE x SIZE (default 48 for folders)")
    p.add_argument("--color", choices=["grey", "rgb"], default=None)
    p.add_argument("--extra", choices=["keep", "drop"], default=None,
                   help="classes with no canonical match (contempt, ahegao): keep or drop")
    p.add_argument("--ferplus", default="auto", help="FER+ votes file, 'auto' (beside the data) or 'none'")
    p.add_argument("--faces", choices=["haar", "mtcnn"], default=None,
                   help="detect and crop the largest face of each image first (uncropped photos)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files/rows and report them")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the dataset cache")


def _load(args: argparse.Namespace):
    from .data import load_dataset

    opts = {k: v for k, v in {"size": args.size, "color": args.color, "extra": args.extra,
                                 "faces": args.faces}.items() if v is not None}
    if args.skip_bad:
        opts["on_error"] = "skip"
    ferplus = None if str(args.ferplus).lower() == "none" else args.ferplus
    return load_dataset(args.path, args.format, ferplus=ferplus, cache=not args.no_cache, **opts)


def cmd_data_info(args: argparse.Namespace) -> int:
    ds = _load(args)
    print(ds.describe())
    print(ds.counts().to_string())
    if ds.issues:
        print(f"\n{len(ds.issues)} file(s)/row(s) skipped:")
        for issue in ds.issues[:20]:
            print(f"  {issue}")
    if args.json:
        from .io import atomic_write_json

        counts = ds.counts()
        atomic_write_json(args.json, {
            "name": ds.name, "synthetic": ds.synthetic, "root": ds.root, "n_images": len(ds),
            "image_size": list(ds.image_size), "channels": ds.channels, "classes": list(ds.classes),
            "counts": {c: {k: int(v) for k, v in row.items()} for c, row in counts.iterrows()},
            "issues": [[i.source, i.reason] for i in ds.issues],
        })
    return 0


def cmd_data_audit(args: argparse.Namespace) -> int:
    from .audit import audit

    ds = _load(args)
    report = audit(ds, near_threshold=args.near_threshold, blank_std=args.blank_std)
    print(report.format_text())
    if args.json:
        report.to_json(args.json)
        print(f"\nwrote {args.json}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import csv

    from .inference import Predictor

    predictor = Predictor.from_ref(args.run, detector=args.detector, min_face=args.min_face,
                                   fallback=args.fallback, tta=args.tta)
    rows, failed = [], 0
    for path in args.images:
        try:
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
            from pathlib import Path

            import cv2

            out = Path(args.annotate) / f"{Path(path).stem}_annotated.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), cv2.cvtColor(result.annotated(), cv2.COLOR_RGB2BGR))
    if args.csv:
        from .io import atomic_path

        fields = list(dict.fromkeys(k for r in rows for k in r))
        with atomic_path(args.csv) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")
    return 2 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_core", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect and audit datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    info = dsub.add_parser("info", help="size, classes and counts per split")
    _add_data_source(info)
    info.add_argument("--json", help="also write the summary as JSON to this file")
    info.set_defaults(handler=cmd_data_info)
    aud = dsub.add_parser("audit", help="duplicates, leakage, label conflicts, blank and non-face images")
    _add_data_source(aud)
    aud.add_argument("--json", help="also write the full audit as JSON to this file")
    aud.add_argument("--near-threshold", type=int, default=4,
                     help="max perceptual-hash Hamming distance for near-duplicates (default 4)")
    aud.add_argument("--blank-std", type=float, default=1.0, help="pixel std below which an image is near-blank")
    aud.set_defaults(handler=cmd_data_audit)

    pred = sub.add_parser("predict", help="detect faces in photos and classify each")
    pred.add_argument("run", help="run id, run folder, .keras model or ensemble .json")
    pred.add_argument("images", nargs="+", help="photos (JPEG/PNG/WebP/BMP/TIFF, any size and mode)")
    pred.add_argument("--csv", help="write one row per face to this CSV file")
    pred.add_argument("--detector", choices=["haar", "mtcnn"], default="haar")
    pred.add_argument("--min-face", type=int, default=30, help="smallest face side in pixels")
    pred.add_argument("--fallback", action="store_true", help="classify the whole image when no face is found")
    pred.add_argument("--tta", choices=["none", "flip", "shift"], default=None)
    pred.add_argument("--annotate", metavar="DIR", help="save each photo with boxes and labels into DIR")
    pred.set_defaults(handler=cmd_predict)

    _register_all()
    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


#: Functions ``f(subparsers)`` that add further commands (train, evaluate, ...), appended by modules.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def _register_all() -> None:
    """Add the commands that live beside their modules (imported lazily, only when parsing)."""
    if _EXTRA_COMMANDS:
        return
    from .analysis_cli import register as analysis
    from .bench import register as bench
    from .runs_cli import register as runs
    from .training.cli import register as train

    _EXTRA_COMMANDS.extend([train, runs, analysis, bench])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FERError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
