"""``python -m fer_core data info|audit PATH`` and ``data add|list|remove``: inspect, audit and
register datasets (the Data page's registry, remembered in ``$FER_STUDIO_HOME/datasets.json``)."""
from __future__ import annotations

import argparse
import shlex
from dataclasses import asdict

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


def cmd_data_add(args: argparse.Namespace) -> int:
    from ..data.archives import register_path

    entry, ds = register_path(args.path, args.name, skip_bad=args.skip_bad, allowed_only=False, replace=args.replace)
    say = text_printer(args)
    say(f"registered {entry.name!r}: {entry.path} ({ds.describe()})")
    if ds.issues:
        say(f"{len(ds.issues)} file(s)/row(s) skipped (--skip-bad); `data info {entry.name} --skip-bad` lists them")
    say(f"use it as PATH in every command (e.g. `evaluate RUN --data {shlex.quote(entry.name)}`); the Data page "
        "lists it")
    emit_json(args, {**asdict(entry), "n_images": len(ds), "skipped": len(ds.issues)})
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from ..data.registry import list_datasets

    entries = list_datasets()
    say = text_printer(args)
    if not entries:
        say("no registered dataset (`data add PATH` or the Data page registers one; 'synthetic' is always there)")
    for e in entries:
        say(f"{e.name}: {e.path}" + ("" if e.exists else "  (missing: the files are gone)")
            + (f"  format {e.format}" if e.format != "auto" else "") + (f"  options {e.options}" if e.options else ""))
    emit_json(args, [{**asdict(e), "exists": e.exists} for e in entries])
    return 0


def cmd_data_remove(args: argparse.Namespace) -> int:
    from ..data.registry import unregister_dataset

    unregister_dataset(args.name)
    print(f"unregistered {args.name!r} (its files are left alone)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data info``, ``data audit``, ``data add``, ``data list`` and ``data remove``."""
    data = sub.add_parser("data", help="inspect, audit and register datasets",
                          description="Inspect, audit and register datasets.")
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
    add = dsub.add_parser("add", help="register a dataset under a name (the Data page lists it; commands take the name)")
    add.add_argument("path", metavar="PATH", help="a dataset folder, a FER2013 CSV or a .zip (loaded once to check it)")
    add.add_argument("--name", default=None, help="its name (default: the file or folder name)")
    add.add_argument("--skip-bad", action="store_true", help="skip unreadable files or rows (and remember to)")
    add.add_argument("--replace", action="store_true", help="replace a dataset registered under the same name")
    add_json_option(add, "the entry")
    add.set_defaults(handler=cmd_data_add)
    ls = dsub.add_parser("list", help="the registered datasets")
    add_json_option(ls, "the entries")
    ls.set_defaults(handler=cmd_data_list)
    rm = dsub.add_parser("remove", help="forget a registered dataset (its files are left alone)")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_data_remove)
