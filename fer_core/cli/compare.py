"""``compare`` and ``ensemble``: what the Compare page does — models side by side with a paired test,
and soft-voting ensembles saved where the dashboard finds them."""
from __future__ import annotations

import argparse

from ..errors import ConfigError, FERError
from ..tta import TTA_MODES
from .analysis import RUN_HELP, TTA_ARG_HELP, tta_arg
from .common import add_data_options, add_json_option, emit_json, load_split_data, text_printer


def _compared_reports(args: argparse.Namespace) -> dict[str, object]:
    """One EvalReport per model: its saved test predictions, or (``--data``) a fresh evaluation on
    the split with the model's own TTA unless ``--tta``; keyed by the names the user gave."""
    from ..evaluation.evalset import run_report
    from ..run_files import PREDICTIONS_FILE
    from ..runs import RunStore

    if args.data is None:
        store, reports = RunStore(), {}
        for ref in args.runs:
            try:
                run = store.get(ref)
            except FERError as exc:
                raise ConfigError(f"{exc} Without --data, compare reads the saved test predictions of runs and "
                                  "bundled models; give --data PATH to score files and ensembles on a dataset.") from exc
            if not (run.path / PREDICTIONS_FILE).is_file():
                raise ConfigError(f"{ref} has no saved test predictions (an unfinished run?); give --data PATH to "
                                  "score every model on that dataset instead.")
            reports[ref] = run_report(run)
        return reports
    from ..evaluation import evaluate_model
    from ..inference import default_tta, load_model_ref

    ds = load_split_data(args)
    reports = {}
    for ref in args.runs:
        model, classes = load_model_ref(ref)
        tta = args.tta if args.tta is not None else default_tta(ref)
        reports[ref] = evaluate_model(model, ds, split=args.split, tta=tta, classes=classes, name=str(ref))
    return reports


def cmd_compare(args: argparse.Namespace) -> int:
    from ..evaluation.verdict import compare_reports
    from ..tables import evaluated_on, metrics_table

    if len(args.runs) < 2 or len(set(args.runs)) < len(args.runs):
        raise ConfigError("compare needs two or more different models (run ids, bundled ids, files).")
    reports = _compared_reports(args)
    say, table = text_printer(args), metrics_table(reports)
    where = evaluated_on(reports.values())
    say(f"Evaluated on: {'; '.join(where)}" + ("  (different data: the numbers are not directly comparable)"
                                               if len(where) > 1 else ""))
    say(table.to_string(index=False))
    first, tests = args.runs[0], []
    for other in args.runs[1:]:
        verdict = compare_reports(reports[first], reports[other], metric=args.metric, n=args.resamples)
        if verdict is None:
            say(f"\nA = {first}, B = {other}: not scored on the same images with the same classes, so no paired test.")
            tests.append({"model_a": first, "model_b": other, "decision": None})
            continue
        say(f"\nA = {first}, B = {other}: " + verdict.text.replace("**", ""))
        tests.append({"model_a": first, "model_b": other, "decision": verdict.decision, "n_images": verdict.n_images,
                      **{k: (float(v) if isinstance(v, float) else v) for k, v in verdict.result.items()}})
    emit_json(args, {"evaluated_on": where, "metrics": table.to_dict(orient="records"), "paired_tests": tests})
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from ..evaluation import save_ensemble
    from ..evaluation.ensemble import load_ensemble
    from ..evaluation.evalset import check_ensemble_members, run_eval_set, run_report, score_ensemble
    from ..names import slug
    from ..paths import ensembles_dir
    from ..tables import accuracy_text, macro_f1_text

    runs, classes = check_ensemble_members(args.members)
    path = ensembles_dir() / f"{slug(args.name)}.json"
    if path.exists() and not args.force:
        raise ConfigError(f"an ensemble is already saved as {path}; pick another name or add --force to replace it.")
    save_ensemble(path, [r.id for r in runs], args.weights, tta=args.tta or "none", name=args.name,
                  classes=list(classes))
    say = text_printer(args)
    say(f"saved {path}: {args.name} = " + " + ".join(r.id for r in runs) + f", TTA {'+'.join(args.tta or ['none'])}"
        " (the dashboard lists it; evaluate, predict, explain and compare take the file)")
    try:
        report = score_ensemble(load_ensemble(path), run_eval_set(runs[0]), runs[0].dataset)
    except FERError as exc:
        raise FERError(f"saved {path}, but not evaluated: {exc}") from exc
    members = {r.id: run_report(r) for r in runs}
    say(f"on the test images of {runs[0].id} ({report.meta['dataset']}, {report.n} faces): accuracy "
        f"{accuracy_text(report)}, macro-F1 {macro_f1_text(report)}; members, each with its own TTA: "
        + ", ".join(f"{k} {v.accuracy:.1%}" for k, v in members.items()))
    emit_json(args, {"path": str(path), "name": args.name, "members": [r.id for r in runs],
                     "accuracy": report.accuracy, "macro_f1": report.macro_f1, "n_images": report.n,
                     "member_accuracy": {k: v.accuracy for k, v in members.items()}})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``ensemble``."""
    cp = sub.add_parser("compare", help="models side by side, with a paired test: is A really better?")
    cp.add_argument("runs", nargs="+", metavar="MODEL", help=RUN_HELP + ", or a bundled id; the first is A")
    add_data_options(cp, positional=False)
    cp.set_defaults(data=None)
    cp.add_argument("--split", default="test", help="split of --data (default test)")
    cp.add_argument("--tta", type=tta_arg, default=None, metavar="TTA",
                    help="with --data: " + TTA_ARG_HELP.replace("the model's own", "each model's own"))
    cp.add_argument("--metric", choices=["accuracy", "macro_f1"], default="accuracy",
                    help="metric of the paired test (default accuracy)")
    cp.add_argument("--resamples", type=int, default=2000, help="paired bootstrap resamples (default 2000)")
    add_json_option(cp, "the metrics and the paired tests")
    cp.set_defaults(handler=cmd_compare, uses_tf=True)

    en = sub.add_parser("ensemble", help="save a soft-voting ensemble of runs and score it on its first member's test images")
    en.add_argument("name", help="its name (the file is NAME.json in the studio's ensembles folder)")
    en.add_argument("members", nargs="+", metavar="MEMBER", help="run ids or bundled ids, two or more")
    en.add_argument("--weights", type=float, nargs="+", default=None, metavar="W",
                    help="one weight per member (normalised; default equal)")
    en.add_argument("--tta", nargs="+", choices=[m for m in TTA_MODES if m != "none"], default=None,
                    help="test-time augmentation of the ensemble (default none)")
    en.add_argument("--force", action="store_true", help="replace an ensemble saved under the same name")
    add_json_option(en, "where it was saved and its scores")
    en.set_defaults(handler=cmd_ensemble, uses_tf=True)
