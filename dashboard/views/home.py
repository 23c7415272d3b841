"""Home: what is loaded, the class balance, and where to go next."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state

st.title("FER Studio")
st.write("Facial expression recognition research: datasets, training, comparison, explanation, "
         "robustness and prediction — all computed by the `fer_core` library.")

ds = state.dataset(state.current_dataset_path())
st.caption(state.dataset_caption(ds))
if ds.synthetic:
    st.info("You are looking at the **embedded synthetic dataset**: drawn faces generated on the fly, "
            "so the studio works offline with no data. Point it at real data on the Data page.")
counts = ds.counts()
c1, c2, c3 = st.columns(3)
c1.metric("Images", f"{len(ds):,}")
c2.metric("Classes", len(ds.classes))
present = counts["total"][counts["total"] > 0]
c3.metric("Imbalance ratio (max/min class)", f"{present.max() / present.min():.1f}" if len(present) else "–")
st.plotly_chart(charts.class_balance(counts), key="home_balance")
