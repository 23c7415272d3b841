"""A sweep's table as accuracy-against-severity curves: every corruption's curve starts at the clean accuracy."""
from __future__ import annotations

import pandas as pd


def severity_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a sweep table (``model``, ``corruption``, ``severity``, ``accuracy``; severity 0 = clean)
    with the clean rows repeated for every corruption, sorted by model, corruption and severity."""
    clean = table[table["severity"] == 0]
    rows = [table[table["severity"] > 0]]
    for corruption in table.loc[table["severity"] > 0, "corruption"].unique():
        rows.append(clean.assign(corruption=corruption))
    return pd.concat(rows, ignore_index=True).sort_values(["model", "corruption", "severity"])
