"""Test-time augmentation (TTA): its modes and the names of their views, without numpy or Keras
(the CLI checks ``--tta`` with :func:`parse_tta` and stays light to import). The views are
applied to model-ready images by :func:`fer_core.evaluation.predict.augment`:

=========  ===================================================================
"none"     the image itself
"flip"     the image and its horizontal mirror
"shift"    the image and 4 copies shifted by :data:`SHIFT_PX` pixels (up, down,
           left, right; the border pixels are repeated)
"tencrop"  ten-crop (Krizhevsky et al. 2012): the centre and the 4 corner crops of
           :data:`CROP_FRACTION` of each side, each resized back to the input size
           (bilinear), and the mirror of each
"spread"   for an ensemble: the ten-crop views and the image with its mirror, as 6 mirror
           pairs (:data:`SPREAD_PAIRS`) spread over the members: member k sees pair
           k mod 6 (:func:`fer_core.evaluation.predict.member_views`). Flip's cost (2 views per member), most of
           ten-crop's gain when the members are many. A single model sees pair 0: flip
=========  ===================================================================

A list such as ``["flip", "shift"]`` uses the union of the views (here 6: the image, its mirror
and the 4 shifts). The TTA probabilities are the mean of the probabilities over the views.
``"spread"`` stands alone: it assigns views to members rather than adding views.
"""
from __future__ import annotations

from typing import Sequence

from .errors import ConfigError

__all__ = ["CROPS", "CROP_FRACTION", "SHIFTS", "SHIFT_PX", "SPREAD_PAIRS", "TTA_HELP", "TTA_MODES", "parse_tta",
           "tta_views"]

#: Test-time augmentation modes.
TTA_MODES: tuple[str, ...] = ("none", "flip", "shift", "tencrop", "spread")
#: Shift of the ``"shift"`` views, in pixels of the model's input.
SHIFT_PX = 2
SHIFTS = ((-SHIFT_PX, 0), (SHIFT_PX, 0), (0, -SHIFT_PX), (0, SHIFT_PX))  # (dy, dx)
#: Side of the ``"tencrop"`` crops, as a fraction of the input's side (44 of 48 pixels).
CROP_FRACTION = 11 / 12
CROPS = ("centre", "top-left", "top-right", "bottom-left", "bottom-right")
#: One line per TTA mode, for captions.
TTA_HELP: dict[str, str] = {
    "none": "the face alone",
    "flip": "the face and its mirror",
    "shift": "the face and 4 copies moved by 2 px",
    "tencrop": "the face, 5 crops and their mirrors",
    "spread": "each member of the ensemble sees another of 6 mirror pairs (the face, 5 crops)",
}
#: The view pairs of ``"spread"``: member k of an ensemble sees pair k mod 6.
SPREAD_PAIRS: tuple[tuple[str, str], ...] = (("identity", "flip"),) + tuple(
    (f"crop({where})", f"crop({where},flip)") for where in CROPS)


def parse_tta(tta: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise a TTA option: ``"none"``/``None``/``[]`` -> ``()``; ``"flip"`` -> ``("flip",)``;
    a list, or modes joined by ``+`` (``"flip+shift"``) -> its distinct modes in :data:`TTA_MODES`
    order (``"none"`` entries ignored)."""
    if tta is None:
        return ()
    modes = tta.split("+") if isinstance(tta, str) else list(tta) if isinstance(tta, (list, tuple)) else None
    if modes is None or not all(isinstance(m, str) for m in modes):
        raise ConfigError(f"tta must be one of {TTA_MODES} or a list of them, got {tta!r}.")
    bad = [m for m in modes if m not in TTA_MODES]
    if bad:
        raise ConfigError(f"Unknown tta mode(s) {bad} in {tta!r}: use one of {', '.join(TTA_MODES)}, or several "
                          f"joined by '+' (e.g. 'flip+shift') or in a list (['flip', 'shift']).")
    if "spread" in modes and len(set(modes) - {"none"}) > 1:
        raise ConfigError(f"tta 'spread' assigns views to an ensemble's members and takes no other mode, got "
                          f"{tta!r}: use 'spread' alone.")
    return tuple(m for m in TTA_MODES if m in modes and m != "none")


def tta_views(tta: str | Sequence[str] | None) -> list[str]:
    """Names of the views a TTA option averages over, e.g. ``["identity", "flip"]`` (for
    ``"spread"``, what a single model or an ensemble's first member sees: see :func:`fer_core.evaluation.predict.member_views`)."""
    modes = parse_tta(tta)
    if "spread" in modes:
        return list(SPREAD_PAIRS[0])
    views = ["identity"]
    if "flip" in modes:
        views.append("flip")
    if "shift" in modes:
        views += [f"shift({dy:+d},{dx:+d})" for dy, dx in SHIFTS]
    if "tencrop" in modes:
        views += [f"crop({where}{mirror})" for mirror in ("", ",flip") for where in CROPS]
    return views
