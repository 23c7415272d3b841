"""The images of an audit's duplicate groups (exact and near), for showing a group's faces."""
from __future__ import annotations

from typing import Any

import pandas as pd


def duplicate_groups(report: Any) -> pd.DataFrame:
    """Exact and near duplicate group rows of an audit report in one table, with a ``kind`` column."""
    return pd.concat([report.exact_groups.assign(kind="exact"), report.near_groups.assign(kind="near")],
                     ignore_index=True)


def group_members(groups: pd.DataFrame, kind: str, group: Any) -> pd.DataFrame:
    """The rows (one per image, with its ``index``) of group ``group`` of ``kind`` ("exact" / "near")."""
    return groups[(groups["kind"] == kind) & (groups["group"] == group)]
