"""Mapping dataset-specific class names onto the canonical seven."""
from __future__ import annotations

from typing import Mapping

from .. import CLASSES
from ..errors import DataError

#: Common spellings of the canonical classes in FER datasets (CK+, JAFFE, OAHEGA, FER+, AffectNet).
SYNONYMS: dict[str, str] = {
    "anger": "angry", "angry": "angry", "an": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear", "fe": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "ha": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "neutral": "neutral", "calm": "neutral", "ne": "neutral",
}
#: Classes some datasets have that match none of the seven.
KNOWN_EXTRA = ("contempt", "ahegao")


def canonical_name(name: str) -> str:
    """Lower-case, trimmed form of a class name used for lookups."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def map_class_names(
    names: list[str],
    label_map: Mapping[str, str | None] | None = None,
    extra: str = "keep",
    where: str = "",
) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """Map raw class names (folder names, CSV labels) to class names.

    Parameters
    ----------
    names : the raw names found in the data.
    label_map : explicit ``{raw name: class}`` entries (``None`` drops that class); they take
        precedence over the built-in synonyms.
    extra : ``"keep"`` keeps classes with no canonical match (contempt, ahegao, or a name given in
        ``label_map``) as extra classes after the seven; ``"drop"`` drops them. Names that are
        neither canonical, known extras nor in ``label_map`` are refused with a DataError.
    where : how to name the data in errors.

    Returns
    -------
    classes : the canonical seven, then any kept extra classes (sorted).
    mapping : raw name -> class name, or None for dropped names.
    """
    if extra not in ("keep", "drop"):
        raise DataError(f"extra must be 'keep' or 'drop', got {extra!r}.")
    user = {canonical_name(k): v for k, v in (label_map or {}).items()}
    mapping: dict[str, str | None] = {}
    for raw in names:
        key = canonical_name(raw)
        if key in user:
            target = user[key]
            mapping[raw] = None if target is None else SYNONYMS.get(canonical_name(target), canonical_name(target))
        elif key in SYNONYMS:
            mapping[raw] = SYNONYMS[key]
        elif key in KNOWN_EXTRA:
            mapping[raw] = key
        else:
            raise DataError(
                f"unknown class {raw!r}{' in ' + where if where else ''}: it matches none of "
                f"{', '.join(CLASSES + KNOWN_EXTRA)}. Pass label_map={{{raw!r}: 'happy'}} to map it, "
                f"{{{raw!r}: None}} to drop it, or {{{raw!r}: {key!r}}} to keep it as an extra class."
            )
        if extra == "drop" and mapping[raw] not in CLASSES:
            mapping[raw] = None
    extras = {t for t in mapping.values() if t is not None and t not in CLASSES}
    return CLASSES + tuple(sorted(extras)), mapping
