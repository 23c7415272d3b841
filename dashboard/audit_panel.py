"""The Data page's audit results: summary metrics and one tab per finding, with the faces concerned."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.images import enlarge
from fer_core.audit.groups import duplicate_groups, group_members
from fer_core.data import FERDataset


def _show_group(ds, members: pd.DataFrame, title: str) -> None:
    st.markdown(title)
    idx = members["index"].to_numpy()[:8]
    st.image([enlarge(ds.images[i], 96) for i in idx],
             caption=[f"{ds.splits[i]} · {ds.classes[ds.labels[i]]}" for i in idx], width=96)


def audit_panel(ds: FERDataset, report) -> None:
    """Summary metrics and tabs (leakage, duplicates, label conflicts, blank, not a face, FER+ agreement)."""
    s = report.summary()
    m = st.columns(5)
    m[0].metric("Exact duplicate groups", s["exact_groups"], help=f"{s['exact_redundant']} redundant images")
    m[1].metric("Near-duplicate groups", s["near_groups"])
    m[2].metric("Leaking groups", s["leakage_groups_exact"] + s["leakage_groups_near"],
                help="groups whose images sit in more than one split")
    m[3].metric("Label conflicts", s["label_conflict_groups"])
    m[4].metric("Near-blank images", s["blank_images"])
    t_leak, t_dup, t_conf, t_blank, t_nf, t_fp = st.tabs(
        ["Leakage", "Duplicates", "Label conflicts", "Blank", "Not a face", "FER+ agreement"])
    groups = duplicate_groups(report)
    with t_leak:
        if report.leakage.empty:
            st.success("No image group spans two splits.")
        for _, row in report.leakage.head(10).iterrows():
            members = group_members(groups, row["kind"], row["group"])
            _show_group(ds, members, f"**{row['kind']} group {row['group']}** · splits {row['splits']} · "
                                     f"labels {row['labels']}")
        if len(report.leakage) > 10:
            st.caption(f"… and {len(report.leakage) - 10} more groups.")
    with t_dup:
        for kind, table in (("exact", report.exact_groups), ("near", report.near_groups)):
            n = table["group"].nunique() if len(table) else 0
            st.markdown(f"**{kind.capitalize()} duplicates: {n} groups**")
            for gid in sorted(table["group"].unique())[:6] if n else []:
                _show_group(ds, table[table["group"] == gid], f"{kind} group {gid}")
        st.caption(f"Near duplicates: perceptual hashes within {report.near_threshold} of 64 bits — candidates "
                   "to look at, not proven copies.")
    with t_conf:
        if report.label_conflicts.empty:
            st.success("No duplicate group carries two different labels.")
        for _, row in report.label_conflicts.head(10).iterrows():
            members = group_members(groups, row["kind"], row["group"])
            _show_group(ds, members, f"**{row['kind']} group {row['group']}** · labels {row['labels']}")
    with t_blank:
        if report.blank.empty:
            st.success(f"No near-blank image (pixel std < {report.blank_std}).")
        else:
            idx = report.blank["index"].to_numpy()[:24]
            st.image([enlarge(ds.images[i], 72) for i in idx], width=72)
            st.dataframe(report.blank, hide_index=True)
    with t_nf:
        if report.not_face is None:
            st.info("This dataset carries no 'not a face' annotations (FER+ votes provide them).")
        elif report.not_face.empty:
            st.success("No image is marked 'not a face'.")
        else:
            idx = report.not_face["index"].to_numpy()[:24]
            st.image([enlarge(ds.images[i], 72) for i in idx], width=72)
            st.dataframe(report.not_face, hide_index=True)
    with t_fp:
        agree = report.ferplus_agreement
        if agree is None:
            st.info("No FER+ votes attached (put fer2013new.csv or ferplus/ferplus_map.csv beside the data).")
        else:
            st.metric("Labels agreeing with the FER+ majority vote",
                      f"{agree['agreement']:.1%}" if agree["agreement"] is not None else "–",
                      help=f"{agree['n_compared']} images compared")
            st.dataframe(pd.DataFrame(agree["per_class"]).T, key="data_ferplus_per_class")
            st.plotly_chart(charts.confusion_table(agree["confusion"], "Original label vs FER+ majority"),
                            key="data_ferplus_confusion")
