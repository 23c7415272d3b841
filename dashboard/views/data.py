"""Data: pick or register a dataset; class balance, sample faces, image statistics and the audit."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.audit_panel import audit_panel
from dashboard.register_panel import register_panel
from dashboard.images import enlarge
from fer_core.audit import audit
from fer_core.data.stats import balance_table, image_stats, imbalance_ratios, issues_table, sample_indices


@st.cache_data(show_spinner=False, max_entries=8)
def _stats(path: str, fmt: str, opts: str, split: str | None) -> pd.DataFrame:
    return image_stats(state.dataset(path, fmt, opts), split)


@st.cache_data(show_spinner=False, max_entries=16)
def _stat_histogram(path: str, fmt: str, opts: str, split: str | None, column: str, title: str):
    """The per-class histogram figure, cached: plotly express facets cost ~180 ms to build."""
    return charts.image_stat_histograms(_stats(path, fmt, opts, split), column, title)


@st.cache_data(show_spinner=False, max_entries=4)
def _audit(path: str, fmt: str, opts: str):
    return audit(state.dataset(path, fmt, opts))


def _pick() -> None:
    st.session_state["dataset_key"] = st.session_state["data_pick"]


st.title("Data")
if msg := st.session_state.pop("data_flash", None):
    st.success(msg)

options = state.dataset_options()
current = state.current_dataset_key()
if st.session_state.get("data_pick") != current:
    st.session_state["data_pick"] = current
st.selectbox("Dataset", list(options), format_func=options.get, key="data_pick", on_change=_pick,
             help="The synthetic set is generated on the fly (no files); register real data below.")

register_panel()

ds = state.load_or_stop(state.current_dataset_key())
spec = state.dataset_spec(state.current_dataset_key())
st.caption(state.dataset_caption(ds))
if ds.synthetic:
    st.info("These are **generated cartoon faces**, not real people: the studio works offline with them. "
            "Register real data above to study real faces.")
if ds.issues:
    with st.expander(f"{len(ds.issues)} file(s) or row(s) were skipped while loading"):
        st.dataframe(issues_table(ds), hide_index=True)
if len(ds) == 0:
    st.info("This dataset holds no images. Next step: check the path, or pick another dataset above.")
    st.stop()

# -- class balance --------------------------------------------------------------------------
st.subheader("Class balance per split")
counts = ds.counts()
ratios = imbalance_ratios(counts)
cols = st.columns(len(ratios))
for col, (split, ratio) in zip(cols, ratios.items()):
    col.metric(f"Imbalance ({split})", f"{ratio:.1f}×" if ratio else "–", help="largest / smallest class present")
if ds.split_note:
    st.caption(f"This data has no split folders: its images were {ds.split_note} when loaded.")
st.plotly_chart(charts.class_balance(counts), key="data_balance")
st.dataframe(balance_table(counts), key="data_counts")

# -- samples --------------------------------------------------------------------------------
st.subheader("Sample faces per class")
splits = ds.available_splits()
c1, c2 = st.columns([2, 1])
split = c1.segmented_control("Split", splits, default=splits[0], key="data_split") or splits[0]
per_class = c2.slider("Faces per class", 2, 12, 6, key="data_per_class")
for cls, idx in sample_indices(ds, split, per_class).items():
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
    audit_panel(ds, report)
else:
    st.caption("The audit runs on demand (seconds for tens of thousands of images) and is cached.")
