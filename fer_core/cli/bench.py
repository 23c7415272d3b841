"""``python -m fer_core bench train|predict``: speed benchmarks on this machine (:mod:`fer_core.bench`)."""
from __future__ import annotations

import argparse
from typing import Any

from ..bench import bench_predict, bench_train, train_markdown
from .common import add_json_option, emit_json, text_printer


def cmd_bench_train(args: argparse.Namespace) -> int:
    from ..paths import data_dir
    from ..io import atomic_write_json
    from ..models import list_models

    names = args.models or list_models()
    table = bench_train(names, batch=args.batch, seconds=args.seconds, rounds=args.rounds,
                        min_batches=args.min_batches)
    say = text_printer(args)
    say(table.to_string(index=False))
    say("\n" + train_markdown(table))
    result = {"batch": args.batch, "input": "48x48x1", "models": table.to_dict(orient="records")}
    if args.json in (None, "-"):  # --json OUT replaces the dashboard's copy
        out = data_dir() / "bench_train.json"
        atomic_write_json(out, result)
        say(f"wrote {out} (the dashboard's Train page reads it for expected epoch times)")
    emit_json(args, result)
    return 0


def cmd_bench_predict(args: argparse.Namespace) -> int:
    from ..inference import default_tta, load_model_ref
    from ..models import create_model

    models: dict[str, Any] = {}
    tta: dict[str, str | None] = {}
    for ref in args.runs or []:
        models[str(ref)] = load_model_ref(ref)[0]
        tta[str(ref)] = default_tta(ref)
    models.update(_votes(args.vote or [], args.vote_tta, args.unfused))
    for name in args.models if not (args.runs or args.vote) else []:
        models[name] = create_model(name, (48, 48, 1), 7)
    table = bench_predict(models, repeats=args.repeats, batch=args.batch, detector=args.detector,
                          formats=tuple(args.formats), tta=tta)
    say = text_printer(args)
    say(table.attrs["photo"])
    say(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    emit_json(args, {"photo": table.attrs["photo"], "rows": table.to_dict(orient="records")})
    return 0


def _votes(refs: list[str], ttas: list[str], unfused: bool) -> dict[str, Any]:
    """Equal-weight votes of ``refs``, one per TTA (modes joined by '+'), fused (and not, if asked)."""
    from ..errors import ConfigError
    from ..evaluation import Ensemble
    from ..evaluation.evaluate import model_classes
    from ..inference import load_model_ref

    if not refs:
        return {}
    if len(refs) < 2:
        raise ConfigError("bench predict --vote needs at least two members, e.g. --vote fer2013-fernet-g "
                          "fer2013-fernet-h.")
    members = [load_model_ref(r)[0] for r in refs]
    classes = model_classes(members[0])
    out: dict[str, Any] = {}
    for tta in ttas:
        for fuse in (True, False) if unfused else (True,):
            name = f"vote of {len(members)}, {tta}{'' if fuse else ', unfused'}"
            out[name] = Ensemble(members, name=name, tta=tta, classes=classes, fuse=fuse)
    return out


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench train`` and ``bench predict``."""
    bench = sub.add_parser("bench", help="speed benchmarks on this machine",
                           description="Speed benchmarks on this machine.")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    pred = bsub.add_parser("predict", help="photo-to-prediction latency and batch throughput")
    pred.add_argument("--models", nargs="*", default=["five_layer", "fer_net"],
                      help="registered architectures to time (untrained weights; speed only)")
    pred.add_argument("--runs", nargs="*", help="time these runs / .keras models instead")
    pred.add_argument("--vote", nargs="*", metavar="REF",
                      help="also time the equal-weight vote of these runs / bundled ids, once per --vote-tta "
                           "(an ensemble that is not saved anywhere: to weigh TTA against latency)")
    pred.add_argument("--vote-tta", nargs="*", default=["flip", "spread", "flip+shift", "tencrop"], metavar="TTA",
                      help="the votes' TTA: none, flip, shift, tencrop, spread or modes joined by '+' "
                           "(default: flip spread flip+shift tencrop)")
    pred.add_argument("--unfused", action="store_true",
                      help="time each vote also with one call per member (Ensemble(fuse=False)) beside the fused one")
    pred.add_argument("--formats", nargs="*", default=["keras", "onnx", "tflite"])
    pred.add_argument("--repeats", type=int, default=50)
    pred.add_argument("--batch", type=int, default=256)
    pred.add_argument("--detector", choices=["blazeface", "haar", "mtcnn"], default="blazeface")
    add_json_option(pred, "the table")
    pred.set_defaults(handler=cmd_bench_predict, uses_tf=True)
    tr = bsub.add_parser("train", help="training images/s per model: plain model.fit vs FER Studio's pipeline")
    tr.add_argument("--models", nargs="*", help="registered models (default: all)")
    tr.add_argument("--batch", type=int, default=64)
    tr.add_argument("--seconds", type=float, default=12.0, help="approximate time per measurement")
    tr.add_argument("--rounds", type=int, default=2)
    tr.add_argument("--min-batches", type=int, default=10,
                    help="at least this many batches per timed round (slow models)")
    add_json_option(tr, "the table", " instead of $FER_STUDIO_HOME/bench_train.json (the dashboard's copy)")
    tr.set_defaults(handler=cmd_bench_train, uses_tf=True)
