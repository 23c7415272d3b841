"""Data: class balance per split, sample faces, and the dataset audit."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, state

st.title("Data")
ds = state.dataset(state.current_dataset_path())
st.caption(state.dataset_caption(ds))
counts = ds.counts()
st.plotly_chart(charts.class_balance(counts), key="data_balance")
st.dataframe(counts)
