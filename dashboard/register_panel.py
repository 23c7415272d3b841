"""The Data page's "register a dataset" panel: a path in an allowed folder, an uploaded .zip, unpacked archives."""
from __future__ import annotations

import streamlit as st

from fer_core.data.archives import MAX_ARCHIVE_MB, register_path, register_zip
from fer_core.data.unzip import remove_unpacked, unpacked_archives
from fer_core.errors import FERError
from fer_core.paths import DATA_ROOTS_ENV, allowed_data_roots
from fer_core.tables import format_bytes


def _registered(entry, ds) -> None:
    """Make a newly registered dataset the current one and say so."""
    st.session_state["dataset_key"] = entry.name
    st.session_state["data_flash"] = f"Registered **{entry.name}**: {ds.describe()}"
    st.rerun()


def _path_tab() -> None:
    roots = ", ".join(f"`{r}`" for r in allowed_data_roots())
    path = st.text_input("Path", key="data_reg_path", placeholder="../shared/data/fer2013",
                         help="Kaggle split folders, one folder per class, OAHEGA (with data.csv) or the FER2013 "
                              f"CSV (emotion,pixels,Usage), inside {roots}. Add folders with ${DATA_ROOTS_ENV}.")
    name = st.text_input("Name (optional)", key="data_reg_name")
    skip = st.checkbox("Skip unreadable files (and list them)", key="data_reg_skip")
    if st.button("Register", key="data_reg_button", disabled=not path.strip()):
        try:
            with st.spinner(f"Reading {path.strip()} …"):
                registered = register_path(path.strip(), name.strip() or None, skip_bad=skip)
            _registered(*registered)
        except FERError as exc:
            st.error(str(exc))


def _zip_tab() -> None:
    up = st.file_uploader("Dataset .zip", type=["zip"], key="data_reg_zip", max_upload_size=MAX_ARCHIVE_MB)
    zname = st.text_input("Name (optional)", key="data_reg_zip_name")
    if st.button("Unpack and register", key="data_reg_zip_button", disabled=up is None):
        try:
            with st.spinner("Unpacking …"):
                registered = register_zip(up, up.name, zname.strip() or None)
            _registered(*registered)
        except FERError as exc:
            st.error(str(exc))


def _unpacked_tab() -> None:
    archives = unpacked_archives()
    if not archives:
        st.caption("No uploaded archive is unpacked on the server.")
        return
    for u in archives:
        c1, c2 = st.columns([4, 1])
        used = ", ".join(u.used_by) or "no registered dataset"
        c1.markdown(f"`{u.name}` · {format_bytes(u.bytes)} · used by {used}")
        if c2.button("Remove", key=f"data_rm_{u.name}", help="Delete the unpacked files and unregister their datasets"):
            try:
                gone = remove_unpacked(u.name)
            except FERError as exc:
                st.error(str(exc))
                return
            if st.session_state.get("dataset_key") in gone:
                st.session_state.pop("dataset_key")
            st.session_state["data_flash"] = f"Removed `{u.name}`" + (f" and unregistered {', '.join(gone)}" if gone else "")
            st.rerun()


def register_panel() -> None:
    """Register a dataset (remembered across restarts), or remove unpacked uploads."""
    with st.expander("Register a dataset (remembered across restarts)"):
        tab_path, tab_zip, tab_unpacked = st.tabs(["Folder or FER2013 CSV path", "Upload a .zip", "Unpacked uploads"])
        with tab_path:
            _path_tab()
        with tab_zip:
            _zip_tab()
        with tab_unpacked:
            _unpacked_tab()
