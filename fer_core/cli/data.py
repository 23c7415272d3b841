"""``python -m fer_core data info|audit PATH``: inspect and audit datasets."""
from __future__ import annotations

import argparse

from .common import add_data_options, add_json_option, emit_json, load_data, text_printer


def cmd_data_info(args: argparse.Namespace) -> int:
    ds = load_data(args)
    say = text_printer(args)
    say(ds.describe())
    say(ds.counts().to_string())
    if ds.issues:
        say(f"\n{len(ds.issues)} file(s)/row(s) skipped:")
        for issue in ds.issues[:20]:
            say(f"  {issue}")
    counts = ds.counts()
    emit_json(args, {
        "name": ds.name, "synthetic": ds.synthetic, "root": ds.root, "n_images": len(ds),
        "image_size": list(ds.image_size), "channels": ds.channels, "classes": list(ds.classes),
        "counts": {c: {k: int(v) for k, v in row.items()} for c, row in counts.iterrows()},
        "issues": [[i.source, i.reason] for i in ds.issues],
    })
    return 0


def cmd_data_audit(args: argparse.Namespace) -> int:
    from ..audit import audit

    report = audit(load_data(args), near_threshold=args.near_threshold, blank_std=args.blank_std)
    text_printer(args)(report.format_text())
    emit_json(args, report.to_dict())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data info`` and ``data audit``."""
    data = sub.add_parser("data", help="inspect and audit datasets", description="Inspect and audit datasets.")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    info = dsub.add_parser("info", help="size, classes and counts per split")
    add_data_options(info)
    add_json_option(info, "the summary")
    info.set_defaults(handler=cmd_data_info)
    aud = dsub.add_parser("audit", help="duplicates, leakage, label conflicts, blank and non-face images")
    add_data_options(aud)
    add_json_option(aud, "the full audit")
    aud.add_argument("--near-threshold", type=int, default=4,
                     help="max perceptual-hash Hamming distance for near-duplicates (default 4)")
    aud.add_argument("--blank-std", type=float, default=1.0, help="pixel std below which an image is near-blank")
    aud.set_defaults(handler=cmd_data_audit)
