"""Cached access to fer_core for the pages: datasets and the current selection."""
from __future__ import annotations

import streamlit as st

from fer_core.data import FERDataset, load_dataset

DEFAULT_DATASET = "synthetic"


@st.cache_resource(show_spinner="Loading dataset…")
def dataset(path: str = DEFAULT_DATASET) -> FERDataset:
    """A loaded dataset, shared between sessions (treat as read-only)."""
    return load_dataset(path)


def current_dataset_path() -> str:
    """The dataset the user picked (session state), the embedded synthetic set by default."""
    return st.session_state.get("dataset_path", DEFAULT_DATASET)


def dataset_caption(ds: FERDataset) -> str:
    """What a page is showing, with the synthetic data clearly labelled."""
    note = " — generated faces, not real people" if ds.synthetic else ""
    return f"Dataset: **{ds.display_name}**{note} · {ds.describe().split(': ', 1)[1]}"
