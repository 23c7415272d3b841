"""File-name-safe names for things the user names (ensembles, uploads, runs)."""
from __future__ import annotations

import re


def slug(text: str, default: str = "ensemble") -> str:
    """A file-name-safe version of ``text`` (at most 48 characters; ``default`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("_.-")[:48] or default
