"""File-name-safe names for things the user names (ensembles, uploads, runs)."""
from __future__ import annotations

import re


def slug(text: str, default: str = "ensemble", max_len: int = 48) -> str:
    """A file-name-safe version of ``text`` (at most ``max_len`` characters; ``default`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text).strip()).strip("_.-")[:max_len] or default
