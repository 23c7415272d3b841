"""Plotly figures the pages share (each takes tables fer_core computed)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go


def class_balance(counts: pd.DataFrame, title: str = "Images per class and split") -> go.Figure:
    """Grouped bars of a class x split count table (``FERDataset.counts()``)."""
    table = counts.drop(columns=["total"], errors="ignore")
    long = table.reset_index().melt(id_vars="class", var_name="split", value_name="images")
    totals = long.groupby("split")["images"].transform("sum")
    long["percent"] = (100 * long["images"] / totals.where(totals > 0, 1)).round(1)
    fig = px.bar(long, x="class", y="images", color="split", barmode="group", title=title,
                 hover_data={"percent": True}, text="images")
    fig.update_layout(legend_title_text="split", margin=dict(t=50, b=10))
    return fig
