"""What the commands share: the data-source options, the ``--json [OUT]`` convention, tables.

Every command that reads a dataset adds its options with :func:`add_data_options` and loads it
with :func:`load_data`. Every command that can answer in JSON adds :func:`add_json_option` and
answers with :func:`emit_json`: a bare ``--json`` prints the JSON to stdout (instead of the
text), ``--json OUT`` writes it to the file OUT and says so.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from ..data.faces import METHODS
from ..training.config import FORMATS

DATA_HELP = "dataset: 'synthetic', a FER2013 CSV, an image folder, a .zip, or the name of a registered dataset"


def add_data_options(p: argparse.ArgumentParser, *, positional: bool = True) -> None:
    """Add the dataset (``PATH``, or ``--data PATH`` defaulting to the synthetic set) and its options."""
    if positional:
        p.add_argument("data", metavar="PATH", help=DATA_HELP)
    else:
        p.add_argument("--data", metavar="PATH", default="synthetic", help=DATA_HELP + " (default: synthetic)")
    p.add_argument("--format", dest="data_format", default="auto", choices=FORMATS,
                   help="data format (default: detected)")
    p.add_argument("--size", type=int, default=None, help="resize images to SIZE x SIZE (default 48 for folders)")
    p.add_argument("--color", choices=["grey", "rgb"], default=None)
    p.add_argument("--extra", choices=["keep", "drop"], default=None,
                   help="classes with no canonical match (contempt, ahegao): keep or drop")
    p.add_argument("--ferplus", default="auto", help="FER+ votes file, 'auto' (beside the data) or 'none'")
    p.add_argument("--faces", choices=list(METHODS), default=None,
                   help="detect and crop the largest face of each image first (uncropped photos)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files/rows and report them")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the dataset cache")


def load_data(args: argparse.Namespace):
    """The :class:`~fer_core.data.FERDataset` named by ``args.data`` with the options of :func:`add_data_options`.

    Options a command does not offer take their defaults.
    """
    from ..data import load_dataset

    if getattr(args, "faces", None) == "mtcnn":  # MTCNN runs on TensorFlow
        from ..tf_quiet import import_tensorflow_quietly

        import_tensorflow_quietly(verbose=getattr(args, "verbose", False))
    opts = {k: v for k in ("size", "color", "extra", "faces") if (v := getattr(args, k, None)) is not None}
    if getattr(args, "skip_bad", False):
        opts["on_error"] = "skip"
    ferplus = getattr(args, "ferplus", "auto")
    path, fmt = args.data, getattr(args, "data_format", "auto")
    if not str(path).startswith("synthetic") and not Path(path).expanduser().exists():
        from ..data.registry import list_datasets
        from ..errors import DataError, did_you_mean

        entries = list_datasets()
        entry = next((e for e in entries if e.name == path), None)
        if entry is not None:  # a dataset registered on the Data page or with `data add`
            path, fmt, opts = entry.path, fmt if fmt != "auto" else entry.format, {**entry.options, **opts}
        elif entries:
            raise DataError(f"{path}: no such file or folder, and no dataset is registered under that name"
                            f"{did_you_mean(path, [e.name for e in entries])}; `data list` shows the registered ones.")
    return load_dataset(path, fmt, ferplus=None if str(ferplus).lower() == "none" else ferplus,
                        cache=not getattr(args, "no_cache", False), **opts)


def load_split_data(args: argparse.Namespace, *, allow_all: bool = False):
    """:func:`load_data`, checked to have the split ``args.split`` (or ``'all'`` when *allow_all*)."""
    from ..errors import ConfigError

    ds = load_data(args)
    if not (allow_all and args.split == "all") and args.split not in ds.available_splits():
        also = " (or 'all')" if allow_all else ""
        raise ConfigError(f"{ds.display_name} has no {args.split!r} split; it has {ds.available_splits()}. "
                          f"Use --split with one of them{also}.")
    return ds


def add_json_option(p: argparse.ArgumentParser, what: str = "the results", note: str = "", *,
                    nested: bool = False) -> None:
    """Add ``--json [OUT]``. ``nested``: a subcommand's copy that keeps the parent command's value."""
    p.add_argument("--json", nargs="?", const="-", metavar="OUT", default=argparse.SUPPRESS if nested else None,
                   help=f"print {what} as JSON instead of text, or write it to the file OUT{note}")


def add_list_command(subparsers: argparse._SubParsersAction, name: str, help: str, what: str,
                     statuses: tuple[str, ...] | None, handler: Callable[[argparse.Namespace], int]):
    """``NAME [list] [--status S] [--json [OUT]]``, listing ``what`` by default (no ``--status`` when
    ``statuses`` is None); returns it and its subcommands."""
    cmd = subparsers.add_parser(name, help=help)
    sub = cmd.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    for p, nested in ((cmd, False), (sub.add_parser("list", help=f"all {what}, newest first (the default)"), True)):
        add_json_option(p, nested=nested)
        if statuses is not None:
            p.add_argument("--status", default=argparse.SUPPRESS if nested else None, choices=statuses,
                           help=f"only {what} with this status")
        p.set_defaults(handler=handler)
    return cmd, sub


def emit_json(args: argparse.Namespace, obj: Any) -> bool:
    """Print ``obj`` as JSON (bare ``--json``) or write it to OUT; False when ``--json`` was not given."""
    dest = getattr(args, "json", None)
    if dest is None:
        return False
    from ..io import atomic_write_text, json_text

    text = json_text(obj, lenient=True)
    if dest == "-":
        print(text)
    else:
        atomic_write_text(dest, text + "\n")
        print(f"wrote {dest}")
    return True


def text_printer(args: argparse.Namespace) -> Callable[..., None]:
    """``print``, or a no-op for a bare ``--json`` (stdout then carries only the JSON)."""
    return (lambda *a, **k: None) if getattr(args, "json", None) == "-" else print


def fmt(x: float | None) -> str:
    """A metric with four decimals, ``-`` when missing."""
    return "-" if x is None else f"{x:.4f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table with a dashed line under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def add_where_options(p: argparse.ArgumentParser, *, resume: bool = False, local: str = "as a local process") -> None:
    """``--ray ADDRESS`` (a Ray cluster; default ``$RAY_ADDRESS``) and ``--local`` (ignore it)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ray", metavar="ADDRESS", default=None,
                   help=("resume on this Ray cluster" if resume else "run on the Ray cluster at ADDRESS (host:port of "
                         "`ray start --head`, or ray://host:10001)") + ("" if resume else "; default $RAY_ADDRESS when set"))
    g.add_argument("--local", action="store_true",
                   help=f"resume {local}" if resume else f"run {local} even if $RAY_ADDRESS is set")
