"""Plotly figures the pages share; each takes tables or reports that fer_core computed."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer_core.data.stats import balance_long
from fer_core.robustness.curves import severity_curves

_MARGIN = dict(t=50, b=10, l=10, r=10)


def class_balance(counts: pd.DataFrame, title: str = "Images per class and split") -> go.Figure:
    """Grouped bars of a class x split count table (``FERDataset.counts()``), percentages on hover."""
    fig = px.bar(balance_long(counts), x="class", y="images", color="split", barmode="group", title=title,
                 hover_data={"percent": True}, text="images")
    fig.update_layout(legend_title_text="split", margin=_MARGIN)
    return fig


def image_stat_histograms(stats: pd.DataFrame, column: str, title: str) -> go.Figure:
    """One histogram of ``column`` per class (small multiples), as percent of the class's images."""
    fig = px.histogram(stats, x=column, facet_col="class", facet_col_wrap=4, histnorm="percent", nbins=30,
                       color="class", title=title)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(showlegend=False, margin=_MARGIN, height=420)
    return fig


def probability_bars(probs: Mapping[str, Sequence[float]], classes: Sequence[str],
                     title: str = "Class probabilities") -> go.Figure:
    """Grouped bars: one bar per class for every model (``{model name: probs (C,)}``)."""
    fig = go.Figure()
    for name, p in probs.items():
        fig.add_bar(x=list(classes), y=[float(v) for v in p], name=name,
                    text=[f"{v:.0%}" for v in p], textposition="outside")
    fig.update_layout(barmode="group", title=title, yaxis=dict(range=[0, 1.1], title="probability"),
                      margin=_MARGIN, legend=dict(orientation="h", y=-0.2))
    return fig


def leaderboard(table: pd.DataFrame) -> go.Figure:
    """Accuracy and macro-F1 per run with 95% bootstrap intervals (columns of the Home table)."""
    fig = go.Figure()
    for metric, lo, hi in (("accuracy", "acc_low", "acc_high"), ("macro_f1", "f1_low", "f1_high")):
        fig.add_bar(x=table["run"], y=table[metric], name=metric.replace("_", "-"),
                    error_y=dict(type="data", symmetric=False, array=table[hi] - table[metric],
                                 arrayminus=table[metric] - table[lo]))
    fig.update_layout(barmode="group", title="Test accuracy and macro-F1 (95% bootstrap CI)",
                      yaxis=dict(range=[0, 1], title="score"), margin=_MARGIN)
    return fig


def per_class_f1(reports: Mapping[str, Any]) -> go.Figure:
    """Grouped per-class F1 bars, one colour per model."""
    fig = go.Figure()
    for name, r in reports.items():
        pc = r.per_class
        fig.add_bar(x=list(pc.index), y=pc["f1"].fillna(0).tolist(), name=name)
    fig.update_layout(barmode="group", title="F1 per class", yaxis=dict(range=[0, 1], title="F1"), margin=_MARGIN)
    return fig


def confusion_table(cm: pd.DataFrame, title: str, normalised: bool = False) -> go.Figure:
    """Heatmap of a square class x class table (rows true / original, columns predicted / other)."""
    fig = px.imshow(cm.fillna(0).to_numpy(), x=[str(c) for c in cm.columns], y=[str(i) for i in cm.index],
                    text_auto=".2f" if normalised else True, color_continuous_scale="Blues", aspect="auto",
                    zmin=0, zmax=1 if normalised else None,
                    labels=dict(x=cm.columns.name or "predicted", y=cm.index.name or "true",
                                color="share" if normalised else "images"))
    fig.update_layout(title=title, margin=_MARGIN, coloraxis_showscale=False, height=380)
    return fig


def confusion(report: Any, normalised: bool, title: str) -> go.Figure:
    """Heatmap of a report's confusion matrix (rows true, columns predicted), counts or row shares."""
    return confusion_table(report.confusion_normalized if normalised else report.confusion, title, normalised)


def curves(reports: Mapping[str, Any], kind: str, which: str) -> go.Figure:
    """One-vs-rest ROC (``kind="roc"``) or precision-recall (``"pr"``) curves of ``which`` (a class,
    ``"micro"`` or, for ROC, ``"macro"``), one line per model with its AUC / AP in the legend."""
    fig = go.Figure()
    for name, r in reports.items():
        if kind == "roc":
            c = r.roc.get(which, {})
            x, y, score, label = c.get("fpr", []), c.get("tpr", []), r.auc.get(which, math.nan), "AUC"
        else:
            c = r.pr.get(which, {})
            x, y = c.get("recall", []), c.get("precision", [])
            score, label = r.average_precision.get(which, math.nan), "AP"
        fig.add_scatter(x=np.asarray(x, float), y=np.asarray(y, float), mode="lines",
                        name=f"{name} ({label} {score:.3f})")
    if kind == "roc":
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="chance")
        axes = dict(xaxis_title="false positive rate", yaxis_title="true positive rate")
    else:
        axes = dict(xaxis_title="recall", yaxis_title="precision")
    fig.update_layout(title=f"{'ROC' if kind == 'roc' else 'Precision-recall'}: {which} (one-vs-rest)",
                      margin=_MARGIN, legend=dict(orientation="h", y=-0.25), **axes)
    return fig


def reliability(reports: Mapping[str, Any]) -> go.Figure:
    """Reliability diagram: accuracy against confidence per bin, ECE in the legend."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="perfect calibration")
    for name, r in reports.items():
        rel = r.reliability[r.reliability["count"] > 0]
        fig.add_scatter(x=rel["confidence"], y=rel["accuracy"], mode="lines+markers", name=f"{name} (ECE {r.ece:.3f})",
                        customdata=rel["count"], hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}"
                                                             "<br>%{customdata} images")
    fig.update_layout(title="Reliability diagram", xaxis_title="confidence (top class)", yaxis_title="accuracy",
                      xaxis_range=[0, 1], yaxis_range=[0, 1], margin=_MARGIN, legend=dict(orientation="h", y=-0.25))
    return fig


def training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[str],
                    title: str = "Training curves") -> go.Figure:
    """Per-epoch curves (``history.json`` rows) of several runs overlaid, one dash style per metric."""
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    for name, hist in histories.items():
        for k, m in enumerate(metrics):
            ep = [h.get("epoch") for h in hist if h.get(m) is not None]
            val = [h.get(m) for h in hist if h.get(m) is not None]
            if val:
                fig.add_scatter(x=ep, y=val, mode="lines+markers", name=f"{name}: {m}",
                                line=dict(dash=dashes[k % len(dashes)]))
    fig.update_layout(title=title, xaxis_title="epoch", margin=_MARGIN, legend=dict(orientation="h", y=-0.25))
    return fig


def sweep_curves(table: pd.DataFrame) -> go.Figure:
    """Accuracy against severity, one line per corruption, one panel per model (a sweep's table)."""
    fig = px.line(severity_curves(table), x="severity", y="accuracy", color="corruption", facet_col="model",
                  facet_col_wrap=2, markers=True, title="Accuracy under corruption (severity 0 = clean)", range_y=[0, 1])
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_layout(margin=_MARGIN, height=420)
    return fig


def sweep_parallel(table: pd.DataFrame, settings: Sequence[str], metric: str = "best val_accuracy") -> go.Figure:
    """Parallel coordinates of a sweep's trials (``fer_core.sweeps.sweep_table``): one axis per
    setting (text values get one tick each), the last one ``metric``, lines coloured by it.
    Trials without a value of ``metric`` yet are left out."""
    rows = table[table[metric].notna()] if metric in table else table.iloc[0:0]
    dims = []
    for key in settings:
        col = rows[key]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            dims.append(dict(label=key, values=col.astype(float).tolist()))
        else:
            names = sorted({str(v) for v in col})
            codes = {n: i for i, n in enumerate(names)}
            dims.append(dict(label=key, values=[codes[str(v)] for v in col], tickvals=list(range(len(names))),
                             ticktext=names, range=[-0.5, max(len(names) - 0.5, 0.5)]))
    values = rows[metric].astype(float).tolist() if len(rows) else []
    dims.append(dict(label=metric, values=values, range=[0.0, 1.0]))
    fig = go.Figure(go.Parcoords(line=dict(color=values, colorscale="Viridis", cmin=0.0, cmax=1.0, showscale=True,
                                           colorbar=dict(title=metric)), dimensions=dims))
    fig.update_layout(title=f"Settings against {metric} ({len(rows)} of {len(table)} trials)", margin=dict(t=80, b=30, l=60, r=40))
    return fig


def emotion_timeline(long: pd.DataFrame, x: str = "time_s", title: str = "Emotions over time",
                     x_title: str = "time (s)") -> go.Figure:
    """One panel per face: a line per emotion, probability against time (a long table with ``x``,
    ``face``, ``emotion``, ``probability``, e.g. ``VideoAnalysis.timeline()``)."""
    faces = list(dict.fromkeys(long["face"])) if len(long) else []
    fig = px.line(long, x=x, y="probability", color="emotion", facet_row="face" if len(faces) > 1 else None,
                  category_orders={"face": faces}, title=title, range_y=[0, 1])
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_xaxes(title_text=x_title, row=1)
    fig.update_layout(margin=_MARGIN, height=160 + 180 * max(1, len(faces)), legend_title_text="emotion")
    return fig
