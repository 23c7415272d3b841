"""Data: pick or register a dataset; class balance, sample faces, image statistics and the audit."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, state, tables
from dashboard.images import enlarge
from fer_core.audit import audit
from fer_core.paths import data_dir
from fer_core.data import load_dataset
from fer_core.data.sources import extract_zip
from fer_core.data.registry import register_dataset
from fer_core.errors import FERError
from fer_core.io import atomic_write_bytes


@st.cache_data(show_spinner=False, max_entries=8)
def _stats(path: str, fmt: str, opts: str, split: str | None) -> pd.DataFrame:
    return tables.image_stats(state.dataset(path, fmt, opts), split)


@st.cache_data(show_spinner=False, max_entries=16)
def _stat_histogram(path: str, fmt: str, opts: str, split: str | None, column: str, title: str):
    """The per-class histogram figure, cached: plotly express facets cost ~180 ms to build."""
    return charts.image_stat_histograms(_stats(path, fmt, opts, split), column, title)


@st.cache_data(show_spinner=False, max_entries=4)
def _audit(path: str, fmt: str, opts: str):
    return audit(state.dataset(path, fmt, opts))


def _register(path: str, name: str, skip_bad: bool) -> None:
    """Load once (to check it reads), register, make it the current dataset."""
    options = {"on_error": "skip"} if skip_bad else {}
    with st.spinner(f"Reading {path} …"):
        ds = load_dataset(path, **options)
    entry = register_dataset(path, name or None, options=options)
    st.session_state["dataset_key"] = entry.name
    st.session_state["data_flash"] = f"Registered **{entry.name}**: {ds.describe()}"
    st.rerun()


def _pick() -> None:
    st.session_state["dataset_key"] = st.session_state["data_pick"]


def _show_group(ds, members: pd.DataFrame, title: str) -> None:
    st.markdown(title)
    idx = members["index"].to_numpy()[:8]
    st.image([enlarge(ds.images[i], 96) for i in idx],
             caption=[f"{ds.splits[i]} · {ds.classes[ds.labels[i]]}" for i in idx], width=96)


st.title("Data")
if msg := st.session_state.pop("data_flash", None):
    st.success(msg)

options = state.dataset_options()
current = state.current_dataset_key()
if st.session_state.get("data_pick") != current:
    st.session_state["data_pick"] = current
st.selectbox("Dataset", list(options), format_func=options.get, key="data_pick", on_change=_pick,
             help="The synthetic set is generated on the fly (no files); register real data below.")

with st.expander("Register a dataset (remembered across restarts)"):
    tab_path, tab_zip = st.tabs(["Folder or FER2013 CSV path", "Upload a .zip"])
    with tab_path:
        path = st.text_input("Path", key="data_reg_path", placeholder="../shared/data/fer2013  or  /data/fer2013.csv",
                             help="Kaggle split folders, one folder per class, OAHEGA (with data.csv) or the "
                                  "FER2013 CSV (emotion,pixels,Usage).")
        name = st.text_input("Name (optional)", key="data_reg_name")
        skip = st.checkbox("Skip unreadable files (and list them)", key="data_reg_skip")
        if st.button("Register", key="data_reg_button", disabled=not path.strip()):
            try:
                _register(path.strip(), name.strip(), skip)
            except FERError as exc:
                st.error(str(exc))
    with tab_zip:
        up = st.file_uploader("Dataset .zip", type=["zip"], key="data_reg_zip")
        zname = st.text_input("Name (optional)", key="data_reg_zip_name")
        if st.button("Unpack and register", key="data_reg_zip_button", disabled=up is None):
            target = data_dir() / "uploads" / f"{state.slug(up.name)}"
            try:
                atomic_write_bytes(target, up.getvalue())
                with st.spinner("Unpacking …"):
                    root = extract_zip(target)
                target.unlink(missing_ok=True)
                _register(str(root), zname.strip() or state.slug(up.name.rsplit(".", 1)[0]), False)
            except FERError as exc:
                st.error(str(exc))

ds = state.load_or_stop(state.current_dataset_key())
spec = state.dataset_spec(state.current_dataset_key())
st.caption(state.dataset_caption(ds))
if ds.synthetic:
    st.info("These are **generated cartoon faces**, not real people: the studio works offline with them. "
            "Register real data above to study real faces.")
if ds.issues:
    with st.expander(f"{len(ds.issues)} file(s) or row(s) were skipped while loading"):
        st.dataframe(pd.DataFrame([{"source": i.source, "reason": i.reason} for i in ds.issues]), hide_index=True)
if len(ds) == 0:
    st.info("This dataset holds no images. Next step: check the path, or pick another dataset above.")
    st.stop()

# -- class balance --------------------------------------------------------------------------
st.subheader("Class balance per split")
counts = ds.counts()
ratios = tables.imbalance_ratios(counts)
cols = st.columns(len(ratios))
for col, (split, ratio) in zip(cols, ratios.items()):
    col.metric(f"Imbalance ({split})", f"{ratio:.1f}×" if ratio else "–", help="largest / smallest class present")
st.plotly_chart(charts.class_balance(counts), key="data_balance")
st.dataframe(tables.balance_table(counts), key="data_counts")

# -- samples --------------------------------------------------------------------------------
st.subheader("Sample faces per class")
splits = ds.available_splits()
c1, c2 = st.columns([2, 1])
split = c1.segmented_control("Split", splits, default=splits[0], key="data_split") or splits[0]
per_class = c2.slider("Faces per class", 2, 12, 6, key="data_per_class")
for cls, idx in tables.sample_indices(ds, split, per_class).items():
    n_cls = int(counts.loc[cls, split]) if split in counts.columns else 0
    st.markdown(f"**{cls}** · {n_cls} images in {split}")
    if len(idx):
        st.image([enlarge(ds.images[i], 72) for i in idx], width=72)

# -- image statistics -----------------------------------------------------------------------
st.subheader("Brightness and contrast per class")
st.plotly_chart(_stat_histogram(*spec, split, "brightness", f"Brightness (mean grey level), {split}"),
                key="data_brightness")
st.plotly_chart(_stat_histogram(*spec, split, "contrast", f"Contrast (grey-level std), {split}"),
                key="data_contrast")

# -- audit ------------------------------------------------------------------------------------
st.subheader("Audit")
st.write("Exact and near duplicates, images shared across splits (leakage), conflicting labels, "
         "near-blank and non-face images, FER+ agreement.")
audit_key = f"audit_requested::{'|'.join(spec)}"
if st.button("Run the audit", key="data_audit_button"):
    st.session_state[audit_key] = True
if st.session_state.get(audit_key):
    with st.spinner("Auditing (pixel hashes, perceptual hashes, near-duplicate search) …"):
        report = _audit(*spec)
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
    groups = pd.concat([report.exact_groups.assign(kind="exact"), report.near_groups.assign(kind="near")],
                       ignore_index=True)
    with t_leak:
        if report.leakage.empty:
            st.success("No image group spans two splits.")
        for _, row in report.leakage.head(10).iterrows():
            members = groups[(groups["kind"] == row["kind"]) & (groups["group"] == row["group"])]
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
            members = groups[(groups["kind"] == row["kind"]) & (groups["group"] == row["group"])]
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
else:
    st.caption("The audit runs on demand (seconds for tens of thousands of images) and is cached.")
