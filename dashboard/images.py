"""Enlarging faces for display (the function lives in fer_core, which the CLI shares)."""
from __future__ import annotations

from fer_core.data.images import enlarge

__all__ = ["enlarge"]
