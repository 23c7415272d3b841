"""Command line: ``python -m fer_core <command> ...``.

Everything the dashboard does can be scripted from here. Commands print human-readable text;
``--json`` prints JSON instead and ``--json OUT`` writes it to OUT (:mod:`fer_core.cli.common`).
Errors on bad input print one clear line and exit with status 2. TensorFlow's start-up lines
are hidden unless ``--verbose`` is given. One module per command group:

    data.py      data info | audit | add | list | remove
    train.py     train (foreground) | jobs (background)
    runs.py      runs
    sweep.py     sweep (Ray Tune grid) | sweeps
    analysis.py  evaluate | robustness | predict | export
    compare.py   compare | ensemble
    explain.py   explain
    whatif.py    whatif
    faces.py     (the faces explain and whatif take)
    bench.py     bench train | bench predict
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import FERError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each command's handler is ``args.handler``."""
    from . import analysis, bench, compare, data, explain, runs, sweep, train, whatif

    parser = argparse.ArgumentParser(prog="python -m fer_core",
                                     description="FER Studio: facial expression recognition from the command line.")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up messages too")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, train, sweep, runs, analysis, compare, explain, whatif, bench):
        module.register(sub)
    _finish(parser)
    return parser


def _finish(parser: argparse.ArgumentParser) -> None:
    """Every (sub)command: its one-line help as its description, and ``--verbose`` accepted after it too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                text = helps.get(name) or ""
                child.description = child.description or text[:1].upper() + text[1:] or None
                child.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                                   help=argparse.SUPPRESS)
                _finish(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status: 0 on success, 2 on bad input, 130 when interrupted."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "uses_tf", False):
            from ..tf_quiet import import_tensorflow_quietly

            import_tensorflow_quietly(verbose=args.verbose)
        return args.handler(args)
    except (FERError, TimeoutError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
