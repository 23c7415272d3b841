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

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


#: Functions ``f(subparsers)`` that add further commands (train, evaluate, ...), appended by modules.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


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
