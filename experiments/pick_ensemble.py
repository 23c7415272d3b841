"""Which bundled models, with which test-time augmentation, make the best ensemble? Validation only.

    .venv/bin/python experiments/pick_ensemble.py fer2013-fernet-a fer2013-fernet-b fer2013-fast \
        [--tta none flip flip+shift] [--min-size 2] [--policies]

Scores every subset of the given bundled models (soft voting, equal weights, as
:class:`fer_core.evaluation.Ensemble` does) under each TTA option on the validation images the
FER2013 configs hold out of the train split (5%, seed 0): the same images for every member, never
seen in training. PublicTest is not read. Each member's probabilities are computed once per TTA
option and averaged per subset. Prints a Markdown table, best first, with a 95% bootstrap interval
(validation is only ~1,400 images: differences under ~1 point are within noise). A second table
gives each member's average effect: the mean accuracy of the subsets of a size that hold it minus
the mean of those that do not, per TTA option; a member whose effect is not positive at the sizes
that matter earns no place, whatever the single best subset says (a one-face lead is noise).
A third table (``--policies``) compares ways of building the ensemble by nested cross-validation on
the validation faces: each way picks its members on 4/5 of them and is scored on the other fifth
(5 folds, 20 shuffles): "best subset" (the best-scoring subset, how the defaults were picked until
2026-12-06), "all" (every given member: nothing is picked, so nothing is over-fitted), "top k"
(the k best single members) and "weighted" (every member, with the non-negative weights that
minimise the log-loss of the vote on the fitting faces: :func:`fit_weights`; a line after the
table gives the weights fitted on all validation faces). With ``--tta spread`` a subset's j-th member (in the order of the ids
given) sees view pair j mod 6, as :class:`~fer_core.evaluation.Ensemble` does; in the policies, each
member keeps the pair of its place among all the ids (the same for "all").
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fer_core.tf_quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

from fer_core import bundled  # noqa: E402
from fer_core.evaluation import SPREAD_PAIRS, predict_probs, predict_views  # noqa: E402
from fer_core.evaluation.significance import percentile_ci  # noqa: E402
from experiments.bundle_models import prepared, val_images  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="+", help="bundled model ids (single models)")
    ap.add_argument("--tta", nargs="+", default=["none", "flip", "flip+shift"],
                    help="TTA options to compare; '+' joins modes; 'spread' gives a subset's j-th member the "
                         "j-th ten-crop mirror pair (default: none flip flip+shift)")
    ap.add_argument("--min-size", type=int, default=1, help="smallest subset scored (default 1: singles too)")
    ap.add_argument("--policies", action="store_true",
                    help="also compare ways of building the ensemble by nested cross-validation on validation")
    args = ap.parse_args()

    cfgs = [bundled.get_bundled(i).record["config"] for i in args.ids]
    splits = {(c["data"]["path"], c["data"].get("seed"), c["data"].get("val_fraction")) for c in cfgs}
    if len(splits) != 1:
        sys.exit(f"the members were validated on different splits {sorted(map(str, splits))}: not comparable")
    data = prepared(cfgs[0])  # validation images only matter here: no teacher scoring
    x = val_images(data)
    y = data.labels_val
    models = {i: bundled.load_bundled(i) for i in args.ids}  # each loaded once, scored per TTA option
    probs = {(i, tta): predict_probs(models[i], x, tta=[m for m in tta.split("+") if m]).astype(np.float64)
             for tta in args.tta if tta != "spread" for i in args.ids}
    pairs = {(i, p): probs[i, "flip"] if p == 0 and (i, "flip") in probs  # pair 0 is flip's views
             else predict_views(models[i], x, pair).astype(np.float64)
             for p, pair in enumerate(SPREAD_PAIRS) for i in args.ids} if "spread" in args.tta else {}
    for i, ref in enumerate(args.ids):  # the policies below see each member with its pair in the full list
        if pairs:
            probs[ref, "spread"] = pairs[ref, i % len(SPREAD_PAIRS)]
    resamples = np.random.default_rng(0).integers(0, len(y), size=(1000, len(y)))
    rows = []
    for k in range(max(1, args.min_size), len(args.ids) + 1):
        for subset in itertools.combinations(args.ids, k):
            for tta in args.tta:
                pred = vote(probs, pairs, subset, tta).argmax(1)
                correct = (pred == y).astype(np.float64)
                lo, hi = percentile_ci(correct[resamples].mean(axis=1))
                rows.append((correct.mean(), " + ".join(subset), tta, lo, hi))
    effects = member_effects(rows, args.ids)
    tta_sizes = tta_by_size(rows, args.tta)
    rows.sort(key=lambda r: -r[0])
    print(f"validation: {len(y)} images held out of train (seed {cfgs[0]['data'].get('seed')}), no PublicTest\n")
    print("| members | TTA | validation accuracy | 95% CI |\n| --- | --- | --- | --- |")
    for acc, members, tta, lo, hi in rows:
        print(f"| {members} | {tta} | {acc:.2%} | {lo:.1%}–{hi:.1%} |")
    if effects:
        sizes = sorted({k for by_size in effects.values() for k in by_size})
        print("\nmember effect (points): mean accuracy of the subsets of a size with the member minus "
              "without it\n")
        print("| member | TTA | " + " | ".join(f"size {k}" for k in sizes) + " |\n"
              + "| --- | --- |" + " --- |" * len(sizes))
        for (member, tta), by_size in effects.items():
            print(f"| {member} | {tta} | " + " | ".join(f"{100 * by_size[k]:+.2f}" if k in by_size else ""
                                                       for k in sizes) + " |")
    if len(args.tta) > 1:
        ref = args.tta[0]
        print(f"\nTTA options over the subsets of each size: mean validation accuracy, and the share of subsets "
              f"where the option beats {ref} (the first given)\n")
        print("| size | subsets | " + " | ".join(args.tta) + " |\n| --- | --- |" + " --- |" * len(args.tta))
        for k, (count, means, wins) in tta_sizes.items():
            cells = [f"{means[t]:.2%}" + ("" if t == ref else f" (beats {ref} in {wins[t]:.0%})") for t in args.tta]
            print(f"| {k} | {count} | " + " | ".join(cells) + " |")
    if args.policies:
        for tta in args.tta:
            scores = policy_cv({i: probs[i, tta] for i in args.ids}, y, min_size=max(1, args.min_size))
            print(f"\nways to build the ensemble, TTA {tta}: accuracy on the held-out fifth of validation (nested "
                  "cross-validation: 5 folds x 20 shuffles)\n")
            print("| policy | held-out accuracy | minus \"all\" (paired) | folds it beats \"all\" |\n"
                  "| --- | --- | --- | --- |")
            for name, acc in scores.items():
                diff = acc - scores["all"]
                print(f"| {name} | {acc.mean():.2%} | {100 * diff.mean():+.2f} | {np.mean(diff > 0):.0%} |")
            w = fit_weights(np.stack([probs[i, tta] for i in args.ids]), y)
            print("\nweights fitted on all validation faces: " + ", ".join(f"{i} {x:.3f}" for i, x in zip(args.ids, w)))


def vote(probs: dict[tuple[str, str], np.ndarray], pairs: dict[tuple[str, int], np.ndarray],
         subset: tuple[str, ...], tta: str) -> np.ndarray:
    """A subset's mean probabilities under ``tta`` (``probs[member, tta]``); with ``"spread"`` its j-th
    member contributes ``pairs[member, j mod 6]``, as :class:`~fer_core.evaluation.Ensemble` does."""
    if tta == "spread":
        return np.mean([pairs[i, j % len(SPREAD_PAIRS)] for j, i in enumerate(subset)], axis=0)
    return np.mean([probs[i, tta] for i in subset], axis=0)


def policy_cv(probs: dict[str, np.ndarray], y: np.ndarray, *, min_size: int = 1, folds: int = 5,
              repeats: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Held-out accuracy of each way of building a soft-voting ensemble from ``probs`` (member ->
    (n, classes) validation probabilities), by nested cross-validation: per shuffle and fold, a
    policy picks its members on the other folds and is scored on this one. Returns policy -> one
    accuracy per (shuffle, fold), in the same order for every policy (so differences are paired)."""
    ids = list(probs)
    subsets = [s for k in range(min_size, len(ids) + 1) for s in itertools.combinations(range(len(ids)), k)]
    stacked = np.stack([probs[i] for i in ids])  # (members, n, classes)
    correct = np.stack([stacked[list(s)].mean(axis=0).argmax(1) == y for s in subsets])  # (subsets, n)
    index = {frozenset(s): row for row, s in enumerate(subsets)}
    single = stacked.argmax(2) == y
    tops = [k for k in (3, 5) if min_size <= k < len(ids)]
    out: dict[str, list[float]] = {"best subset": [], "all": [], **{f"top {k}": [] for k in tops}, "weighted": []}
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        for held in np.array_split(rng.permutation(len(y)), folds):
            fit = np.setdiff1d(np.arange(len(y)), held)
            out["best subset"].append(correct[correct[:, fit].sum(1).argmax(), held].mean())
            out["all"].append(correct[index[frozenset(range(len(ids)))], held].mean())
            order = np.argsort(-single[:, fit].sum(1), kind="stable")
            for k in tops:
                out[f"top {k}"].append(correct[index[frozenset(order[:k].tolist())], held].mean())
            w = fit_weights(stacked[:, fit], y[fit])
            out["weighted"].append((np.einsum("m,mnc->nc", w, stacked[:, held]).argmax(1) == y[held]).mean())
    return {name: np.asarray(v) for name, v in out.items()}


def fit_weights(stacked: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative member weights summing to 1 that minimise the mean log-loss of the weighted vote
    ``sum_m w_m * stacked[m]`` (members, n, classes) on labels ``y``: a convex problem, solved over
    ``w = softmax(theta)`` by L-BFGS with the exact gradient, from equal weights."""
    from scipy.optimize import minimize
    from scipy.special import softmax

    p_true = stacked[:, np.arange(len(y)), y]  # (members, n): each member's probability of the label

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = softmax(theta)
        mix = np.maximum(w @ p_true, 1e-12)
        dw = -(p_true / mix).mean(axis=1)  # d loss / d w
        return float(-np.log(mix).mean()), w * (dw - w @ dw)  # chain rule through the softmax

    return softmax(minimize(loss, np.zeros(len(stacked)), jac=True, method="L-BFGS-B").x)


def tta_by_size(rows: list[tuple], ttas: list[str]) -> dict[int, tuple[int, dict[str, float], dict[str, float]]]:
    """Per subset size: the number of subsets, each TTA option's mean accuracy over them, and the share
    of them where each option scores above the first option (ties count as not above)."""
    acc = {(members, tta): a for a, members, tta, _, _ in rows}
    sizes: dict[int, list[str]] = {}
    for members in dict.fromkeys(m for _, m, _, _, _ in rows):
        sizes.setdefault(len(members.split(" + ")), []).append(members)
    out = {}
    for k, subsets in sorted(sizes.items()):
        means = {t: float(np.mean([acc[m, t] for m in subsets])) for t in ttas}
        wins = {t: float(np.mean([acc[m, t] > acc[m, ttas[0]] for m in subsets])) for t in ttas}
        out[k] = (len(subsets), means, wins)
    return out


def member_effects(rows: list[tuple], ids: list[str]) -> dict[tuple[str, str], dict[int, float]]:
    """Per (member, TTA) and subset size: mean accuracy of the subsets holding the member minus the
    mean of those without it (sizes where both kinds exist)."""
    acc: dict[tuple[str, int, bool], list[float]] = {}
    for a, members, tta, _, _ in rows:
        held = members.split(" + ")
        for m in ids:
            acc.setdefault((m, tta, len(held), m in held), []).append(a)
    out: dict[tuple[str, str], dict[int, float]] = {}
    for (m, tta, k, inside), values in acc.items():
        if inside and (m, tta, k, False) in acc:
            out.setdefault((m, tta), {})[k] = float(np.mean(values) - np.mean(acc[m, tta, k, False]))
    return out


if __name__ == "__main__":
    main()
