"""Widgets several pages share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from fer_core.choices import ModelChoice
from fer_core.data.archives import MAX_PHOTO_MB
from fer_core.data.upload import face_from_upload
from fer_core.errors import FERError
from fer_core.evaluation.evalset import EvalSet
from fer_core.modelcard import CARD_MD

UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "webp"]


@dataclass(frozen=True)
class Face:
    """A face picked by :func:`face_input`: pixels, its true class (None when uploaded) and where it is from."""

    image: np.ndarray
    true: str | None
    where: str


def face_input(es: EvalSet | None, key: str, upload_hint: str, label: str = "Image",
               container=st) -> Face | None:
    """"Test image or upload a face": a radio, then a test-image slider or an uploader.

    Uploaded faces are cropped (largest face) and resized to the test images' size and colour
    (48x48 grey without test images). Returns None, after an info or error, when there is no face
    yet. Widget keys: ``<key>_source``, ``<key>_index``, ``<key>_upload``.
    """
    sources = (["Test image"] if es is not None else []) + ["Upload a face"]
    source = container.radio(label, sources, horizontal=True, key=f"{key}_source")
    if source == "Test image":
        i = st.slider(f"Test image (0–{len(es.images) - 1})", 0, len(es.images) - 1, 0, key=f"{key}_index")
        return Face(es.images[i], es.classes[es.labels[i]], es.describe(i))
    up = st.file_uploader("A face photo (the largest face is cropped)", type=UPLOAD_TYPES, key=f"{key}_upload",
                          max_upload_size=MAX_PHOTO_MB)
    if up is None:
        st.info(upload_hint)
        return None
    size = es.images.shape[1:3] if es is not None else (48, 48)
    try:
        image, note = face_from_upload(up.getvalue(), up.name, tuple(size), es is None or es.images.ndim == 3)
    except FERError as exc:
        st.error(str(exc))
        return None
    return Face(image, None, f"uploaded {up.name} ({note})")


def model_card(run_id: str | None, container=st) -> None:
    """The model card of a bundled model in an expander (nothing for the user's own runs)."""
    from fer_core.bundled import get_bundled, is_bundled

    if not run_id or not is_bundled(run_id):
        return
    b = get_bundled(run_id)
    card = b.path / CARD_MD
    with container.expander(f"Model card: {b.record.get('name') or b.id} (bundled, read-only)"):
        if card.is_file():
            st.markdown(card.read_text(encoding="utf-8"))
        else:
            st.warning(f"{card} is missing: this bundled model ships without its card.")


def tta_note(choices: ModelChoice | list[ModelChoice], container=st, extra: str = "") -> None:
    """A caption naming the test-time augmentation the page scores with, then ``extra`` (nothing
    when there is no TTA); ``choices`` is one ModelChoice or a list of them."""
    from dashboard.state import tta_caption

    if caption := tta_caption(choices):
        container.caption(caption + extra)
