"""The audit's tables (duplicate groups, imbalance, FER+ agreement) and :class:`AuditReport`."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.dataset import SPLITS, FERDataset
from ..io import atomic_write_text, jsonable

GROUP_COLUMNS = ["group", "index", "source", "split", "label", "group_size", "spans_splits",
                  "labels_conflict"]
_SUMMARY_COLUMNS = ["kind", "group", "group_size", "splits", "labels", "spans_splits",
                    "labels_conflict", "sources"]


def _ordered(values: set[str], order: list[str]) -> str:
    return ",".join(v for v in order if v in values)


def group_table(ds: FERDataset, index: np.ndarray, raw_group: np.ndarray) -> pd.DataFrame:
    """One row per member: groups renumbered 0.. by their first source, rows by (group, source)."""
    names = np.asarray(ds.classes, dtype=object)
    table = pd.DataFrame({
        "raw": raw_group.astype(np.int64),
        "index": index.astype(np.int64),
        "source": ds.sources[index].astype(object),
        "split": ds.splits[index].astype(object),
        "label": names[ds.labels[index]] if len(index) else np.empty(0, object),
    })
    by = table.groupby("raw", sort=False)
    table["group_size"] = by["index"].transform("size").astype(np.int64)
    table["spans_splits"] = by["split"].transform("nunique").astype(np.int64) > 1
    table["labels_conflict"] = by["label"].transform("nunique").astype(np.int64) > 1
    table["first"] = by["source"].transform("min")
    table = table.sort_values(["first", "source", "index"], kind="stable")
    table["group"] = pd.factorize(table["first"])[0].astype(np.int64) if len(table) else np.empty(0, np.int64)
    return table.drop(columns=["first"]).reset_index(drop=True)


def group_summary(table: pd.DataFrame, kind: str, classes: tuple[str, ...]) -> pd.DataFrame:
    """One row per group of a member table: kind, group, size, splits, labels, flags, sources."""
    rows = []
    for gid, members in table.groupby("group", sort=True):
        rows.append({
            "kind": kind,
            "group": int(gid),
            "group_size": len(members),
            "splits": _ordered(set(members["split"]), list(SPLITS)),
            "labels": _ordered(set(members["label"]), list(classes)),
            "spans_splits": bool(members["spans_splits"].iloc[0]),
            "labels_conflict": bool(members["labels_conflict"].iloc[0]),
            "sources": "; ".join(members["source"]),
        })
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


def imbalance(counts: pd.DataFrame) -> dict:
    """Per split column (and "overall" for the total): max/min ratio over non-empty classes."""
    out: dict[str, dict] = {}
    for column in counts.columns:
        col = counts[column]
        present = col[col > 0]
        key = "overall" if column == "total" else str(column)
        if present.empty:
            out[key] = {"ratio": None, "majority": None, "minority": None, "max": 0, "min": 0,
                        "empty_classes": [str(c) for c in col.index]}
            continue
        out[key] = {
            "ratio": float(present.max() / present.min()),
            "majority": str(present.idxmax()),
            "minority": str(present.idxmin()),
            "max": int(present.max()),
            "min": int(present.min()),
            "empty_classes": [str(c) for c in col.index[col == 0]],
        }
    return out


def ferplus_agreement(ds: FERDataset) -> dict | None:
    """Agreement of ``ds.labels`` with the argmax of ``ds.soft_labels`` (votes > 0, faces only)."""
    if ds.soft_labels is None:
        return None
    soft = np.asarray(ds.soft_labels, dtype=np.float64)
    voted = soft.sum(axis=1) > 0
    face = np.ones(len(ds), bool) if ds.not_face is None else ~np.asarray(ds.not_face, bool)
    use = voted & face
    original = ds.labels[use]
    ferplus = soft[use].argmax(axis=1) if use.any() else np.empty(0, np.int64)
    names = list(ds.classes)
    confusion = pd.DataFrame(
        np.zeros((len(names), len(names)), np.int64),
        index=pd.Index(names, name="original"),
        columns=pd.Index(names, name="ferplus"),
    )
    if len(original):
        np.add.at(confusion.values, (original, ferplus), 1)
    per_class = {}
    for c, name in enumerate(names):
        mask = original == c
        per_class[name] = {
            "n": int(mask.sum()),
            "agreement": float((ferplus[mask] == c).mean()) if mask.any() else None,
        }
    return {
        "n_compared": int(use.sum()),
        "n_without_soft_label": int((~voted).sum()),
        "n_not_face_excluded": int((voted & ~face).sum()),
        "agreement": float((original == ferplus).mean()) if len(original) else None,
        "per_class": per_class,
        "confusion": confusion,
    }




@dataclass
class AuditReport:
    """The result of :func:`audit`.

    Attributes
    ----------
    dataset, synthetic, n_images : the audited dataset's name, synthetic flag and size
    counts : DataFrame, images per class (rows) and split (columns) plus ``total``;
        :attr:`percentages` gives the same as shares of each column
    imbalance : dict, per split and ``"overall"``: ``ratio`` (max/min over non-empty classes),
        ``majority``, ``minority``, ``max``, ``min``, ``empty_classes``
    exact_groups : DataFrame, one row per image in a pixel-identical group: ``group, index,
        source, split, label, group_size, spans_splits, labels_conflict``
    near_groups : DataFrame, the same for near-duplicate groups, plus ``exact_group`` (the exact
        group the image also belongs to, or -1) and ``max_distance`` (largest pairwise pHash
        distance in the group, which chaining can make larger than the threshold)
    leakage : DataFrame, one row per group (``kind`` "exact" or "near") spanning splits
    label_conflicts : DataFrame, one row per group whose members carry different labels
    blank : DataFrame, near-blank images: ``index, source, split, label, std, mean``
    not_face : DataFrame or None, images marked "not a face" (when the dataset says)
    ferplus_agreement : dict or None, agreement of the labels with the FER+ vote argmax
    near_threshold, blank_std : the options used
    """

    dataset: str
    synthetic: bool
    n_images: int
    counts: pd.DataFrame
    imbalance: dict
    exact_groups: pd.DataFrame
    near_groups: pd.DataFrame
    leakage: pd.DataFrame
    label_conflicts: pd.DataFrame
    blank: pd.DataFrame
    not_face: pd.DataFrame | None
    ferplus_agreement: dict | None
    near_threshold: int = 4
    blank_std: float = 1.0

    @property
    def percentages(self) -> pd.DataFrame:
        """Share of each class within each column of :attr:`counts`, in percent."""
        totals = self.counts.sum(axis=0).replace(0, np.nan)
        return (self.counts / totals * 100).fillna(0.0)

    def summary(self) -> dict:
        """The headline figures, as plain Python values."""
        exact, near = self.exact_groups, self.near_groups
        leak_exact = self.leakage[self.leakage["kind"] == "exact"]
        leak_near = self.leakage[self.leakage["kind"] == "near"]
        agreement = self.ferplus_agreement
        return {
            "dataset": self.dataset,
            "synthetic": self.synthetic,
            "n_images": self.n_images,
            "images_per_split": {str(c): int(v) for c, v in self.counts.sum(axis=0).items() if c != "total"},
            "imbalance_ratio": self.imbalance.get("overall", {}).get("ratio"),
            "exact_groups": int(exact["group"].nunique()),
            "exact_images": len(exact),
            "exact_redundant": len(exact) - int(exact["group"].nunique()),
            "near_groups": int(near["group"].nunique()),
            "near_images": len(near),
            "leakage_groups_exact": len(leak_exact),
            "leakage_groups_near": len(leak_near),
            "label_conflict_groups": len(self.label_conflicts),
            "blank_images": len(self.blank),
            "not_face_images": None if self.not_face is None else len(self.not_face),
            "ferplus_agreement": None if agreement is None else agreement["agreement"],
            "near_threshold": self.near_threshold,
            "blank_std": self.blank_std,
        }

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable: tables as lists of records, counts keyed by class."""
        counts = self.counts.copy()
        counts.index = counts.index.astype(str)
        return jsonable({
            "summary": self.summary(),
            "counts": {str(c): {str(k): int(v) for k, v in counts[c].items()} for c in counts.columns},
            "percentages": {str(c): {str(k): float(v) for k, v in self.percentages[c].items()}
                            for c in counts.columns},
            "imbalance": self.imbalance,
            "exact_groups": self.exact_groups,
            "near_groups": self.near_groups,
            "leakage": self.leakage,
            "label_conflicts": self.label_conflicts,
            "blank": self.blank,
            "not_face": self.not_face,
            "ferplus_agreement": None if self.ferplus_agreement is None else {
                **self.ferplus_agreement,
                "confusion": {str(r): {str(c): int(v) for c, v in row.items()}
                              for r, row in self.ferplus_agreement["confusion"].iterrows()},
            },
        })

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` to ``path`` atomically (see :mod:`fer_core.io`)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))

    def format_text(self, max_rows: int = 10) -> str:
        """A readable multi-section report (at most ``max_rows`` examples per section)."""
        s = self.summary()
        title = f"Audit of {self.dataset}" + (" (SYNTHETIC data)" if self.synthetic else "")
        out = [title, "=" * len(title), f"{self.n_images} images", ""]

        def section(name: str) -> None:
            out.extend([name, "-" * len(name)])

        def more(n: int) -> None:
            if n > max_rows:
                out.append(f"  ... and {n - max_rows} more")

        section("Class counts")
        pct = self.percentages
        table = self.counts.astype(str) + " (" + pct.round(1).astype(str) + "%)"
        out.extend("  " + line for line in table.to_string().splitlines())
        out.append("")

        section("Imbalance (max/min class count)")
        for key, v in self.imbalance.items():
            if v["ratio"] is None:
                out.append(f"  {key}: no images")
                continue
            line = f"  {key}: {v['ratio']:.1f}x ({v['majority']} {v['max']} vs {v['minority']} {v['min']})"
            if v["empty_classes"]:
                line += f"; empty: {', '.join(v['empty_classes'])}"
            out.append(line)
        out.append("")

        section("Exact duplicates (identical pixels)")
        out.append(f"  {s['exact_groups']} groups, {s['exact_images']} images "
                   f"({s['exact_redundant']} redundant copies)")
        self._list_groups(out, self.exact_groups, max_rows)
        more(s["exact_groups"])
        out.append("")

        section(f"Near duplicates (pHash distance <= {self.near_threshold})")
        out.append(f"  {s['near_groups']} groups, {s['near_images']} images. Candidates to review: at "
                   "48x48 pHash can also match different but very similar faces.")
        self._list_groups(out, self.near_groups, max_rows)
        more(s["near_groups"])
        out.append("")

        section("Split leakage (groups spanning splits)")
        out.append(f"  {s['leakage_groups_exact']} exact and {s['leakage_groups_near']} near groups")
        for row in self.leakage.head(max_rows).itertuples():
            out.append(f"  {row.kind} group {row.group} [{row.splits}] {row.labels}: {row.sources}")
        more(len(self.leakage))
        out.append("")

        section("Label conflicts (duplicate groups with different labels)")
        out.append(f"  {s['label_conflict_groups']} groups")
        for row in self.label_conflicts.head(max_rows).itertuples():
            out.append(f"  {row.kind} group {row.group} [{row.labels}]: {row.sources}")
        more(len(self.label_conflicts))
        out.append("")

        section(f"Near-blank images (pixel std < {self.blank_std:g})")
        out.append(f"  {len(self.blank)} images")
        for row in self.blank.head(max_rows).itertuples():
            out.append(f"  {row.source} ({row.split}, {row.label}): std {row.std:.2f}, mean {row.mean:.1f}")
        more(len(self.blank))

        if self.not_face is not None:
            out.append("")
            section('Marked "not a face" by annotators')
            out.append(f"  {len(self.not_face)} images")
            for row in self.not_face.head(max_rows).itertuples():
                out.append(f"  {row.source} ({row.split}, {row.label})")
            more(len(self.not_face))

        if self.ferplus_agreement is not None:
            fa = self.ferplus_agreement
            out.append("")
            section("Agreement with FER+ majority vote")
            overall = "n/a" if fa["agreement"] is None else f"{fa['agreement']:.1%}"
            out.append(f"  {overall} of {fa['n_compared']} images ({fa['n_without_soft_label']} without soft label, "
                       f"{fa['n_not_face_excluded']} not-a-face excluded)")
            for name, v in fa["per_class"].items():
                if v["agreement"] is not None:
                    out.append(f"  {name:>10}: {v['agreement']:.1%} of {v['n']}")
            out.append("  confusion (rows original, columns FER+):")
            out.extend("  " + line for line in fa["confusion"].to_string().splitlines())
        return "\n".join(out) + "\n"

    @staticmethod
    def _list_groups(out: list[str], table: pd.DataFrame, max_rows: int) -> None:
        for gid, members in table.groupby("group", sort=True):
            if gid >= max_rows:
                break
            flags = [f for f, on in (("spans splits", members["spans_splits"].iloc[0]),
                                     ("labels conflict", members["labels_conflict"].iloc[0])) if on]
            extra = f" [{', '.join(flags)}]" if flags else ""
            items = ", ".join(f"{r.source} ({r.split}/{r.label})" for r in members.itertuples())
            out.append(f"  group {gid}{extra}: {items}")

