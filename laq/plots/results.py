"""Figures of the accuracy tables: accuracy vs class distance, quantization drop, label-aware gain, bits.

Every plotting function writes `<stem>.png` and `<stem>.svg` (see laq.plots.style.save_figure) and
returns a list of warnings (fits that failed, columns that were missing, ...). Degenerate tables
(one subset, equal distances, NaN accuracies, no rows) still give a figure, never an exception.
Accuracies are in percent; differences are in percentage points (pp).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from laq.plots.style import STRATEGY_COLOURS, STRATEGY_LABELS, VARIANT_STYLES, new_figure, number, save_figure
from laq.stats import log_fit, mean_with_ci, spearman
from laq.tables import per_subset, spec_label

DISTANCE_LABEL = "median inter-class distance (symmetric KL, nats)"
MODE_TEXT = {
    "all": "top-1 over all classes of the dataset",
    "sub": "top-1 restricted to each subset's own classes",
}
_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, handlelength=2.6)


# ------------------------------------------------------------------------------------ table helpers


def _first(table: pd.DataFrame, column: str) -> Any:
    if column in table.columns:
        values = table[column].dropna()
        if len(values):
            return values.iloc[0]
    return None


def table_context(table: pd.DataFrame, path: str | os.PathLike, spec_name: str | None = None) -> tuple[str, str]:
    """(model, dataset) from the table's own columns, else from results/<dataset>/[seed-<s>/]tables/<model>_<spec>.csv."""
    p = Path(path)
    model = _first(table, "model")
    if model is None:
        stem = p.stem
        model = stem[: -len(spec_name) - 1] if spec_name and stem.endswith("_" + spec_name) else stem.rsplit("_", 1)[0]
    dataset = _first(table, "dataset")
    if dataset is None:
        up = p.parent.parent if p.parent.name == "tables" else p.parent
        dataset = up.parent.name if re.fullmatch(r"seed-\d+", up.name) else up.name
    return str(model), str(dataset)


def figure_title(table: pd.DataFrame, path: str | os.PathLike, spec_name: str) -> str:
    """"<model> on <dataset> · <spec> (<method>, <bits>)" for the table at `path`, from the table's own columns."""
    model, dataset = table_context(table, path, spec_name)
    return f"{model} on {dataset} · {spec_name} ({spec_label(table)})"


# --------------------------------------------------------------------------------------- internals


def _num(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)


def _distance_axis(ax: Axes, x: np.ndarray) -> bool:
    """Log x axis when every finite distance is positive and they span at least a factor 5."""
    fx = x[np.isfinite(x)]
    log = fx.size >= 2 and bool(np.all(fx > 0)) and fx.max() / fx.min() >= 5
    if log:
        ax.set_xscale("log")
        decades = np.log10(fx.max() / fx.min())
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(DISTANCE_LABEL + (", log scale" if log else ""))
    return log


def _curve_x(x: np.ndarray, log: bool) -> np.ndarray:
    fx = x[np.isfinite(x) & (x > 0)]
    return np.geomspace(fx.min(), fx.max(), 200) if log else np.linspace(fx.min(), fx.max(), 200)


def _n_subsets(n: int) -> str:
    return f"{n} class subset" + ("" if n == 1 else "s")


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _strategy_rug(ax: Axes, table: pd.DataFrame, x: np.ndarray) -> list[Line2D]:
    """A tick per subset along the bottom of the axes in its strategy's colour (similar, dissimilar, ...),
    so the distance ranges of the strategies show without taking the variants' colours; legend handles."""
    if "strategy" not in table.columns or not len(table):
        return []
    strategy = table["strategy"].astype(str).to_numpy()
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo - 0.07 * (hi - lo), hi)  # room below the points for the ticks
    handles = []
    for s in dict.fromkeys(strategy):
        ok = (strategy == s) & np.isfinite(x)
        colour = STRATEGY_COLOURS.get(s, "0.2")
        ax.plot(x[ok], np.full(ok.sum(), 0.025), linestyle="none", marker="|", markersize=9, markeredgewidth=1.6,
                color=colour, transform=ax.get_xaxis_transform(), zorder=4, clip_on=False)
        handles.append(Line2D([], [], color=colour, marker="|", markersize=9, markeredgewidth=1.6, linestyle="none",
                              label=f"{STRATEGY_LABELS.get(s, s)} ({int(ok.sum())})"))
    return handles


def _scatter_series(
    ax: Axes, x: np.ndarray, series: list[tuple[str, np.ndarray, str, str, str]], *, fmt_value: str, unit: str,
    y_range: tuple[float, float] = (-np.inf, np.inf),
) -> tuple[list[str], list[Line2D], int]:
    """Points and a·log(b·x)+c fit per series (key, y, label, colour, marker); (warnings, legend handles, fits drawn).
    A fit is drawn over the distances of its own points only and where it stays inside `y_range`."""
    warnings: list[str] = []
    handles: list[Line2D] = []
    log = _distance_axis(ax, x)
    fits = 0
    for key, y, label, colour, marker in series:
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            warnings.append(f"{key}: no subset with a finite distance and accuracy; not plotted")
            continue
        ax.scatter(x[ok], y[ok], s=26, marker=marker, color=colour, alpha=0.85, zorder=3, edgecolors="white", linewidths=0.4)
        fit = log_fit(x, y)
        if fit.ok:
            xc = _curve_x(x[ok], log)
            yc = fit(xc)
            ax.plot(xc, np.where((yc >= y_range[0]) & (yc <= y_range[1]), yc, np.nan), color=colour, linestyle="--",
                    linewidth=1.3, zorder=2)
            fits += 1
        else:
            warnings.append(f"{key}: no a*log(b*x)+c fit ({fit.reason})")
        rho = spearman(x, y)
        mean = float(np.mean(y[ok]))
        stats = [f"mean {mean:{fmt_value}}{unit}"] + ([f"Spearman ρ = {rho:+.2f}"] if np.isfinite(rho) else [])
        handles.append(
            Line2D([], [], color=colour, marker=marker, markersize=5.5, markeredgecolor="white", markeredgewidth=0.4,
                   linestyle="--" if fit.ok else "none", label=f"{label}\n  {', '.join(stats)}")
        )
    return warnings, handles, fits


def _legend(ax: Axes, handles: list[Line2D], fits: int, *, title: str | None = None, strategies: list[Line2D] = ()) -> None:
    if not handles:
        return
    if fits:
        handles = handles + [Line2D([], [], color="0.6", linestyle="--", linewidth=1.0, label="dashed: least-squares fit\n  a·log(b·x)+c per series")]
    if strategies:
        handles = handles + [Line2D([], [], linestyle="none", label="ticks on the axis: subsets by strategy")] + list(strategies)
    ax.legend(handles=handles, title=title, labelspacing=0.9, **_LEGEND)


# ------------------------------------------------------------------------------------------ figures


def plot_accuracy_vs_distance(table: pd.DataFrame, mode: str, path: str | os.PathLike, *, title: str) -> list[str]:
    """Top-1 (`top1_<mode>`) of every variant against the subset's median class distance, with log fits.

    `table` has one row per subset (the draws averaged: `laq.tables.per_subset`).

    Returns warnings (missing variants, fits that failed); writes the figure whatever the data.
    """
    if mode not in MODE_TEXT:
        raise ValueError(f"mode must be one of {sorted(MODE_TEXT)}, not {mode!r}")
    x = _num(table, "dist_median")
    warnings: list[str] = []
    series = []
    for v, st in VARIANT_STYLES.items():
        col = f"{v}_top1_{mode}"
        if col not in table.columns:
            warnings.append(f"{v}: column {col} is missing; not plotted")
            continue
        series.append((v, _num(table, col), st.label, st.colour, st.marker))
    fig = new_figure(7.4, 4.4)
    ax = fig.add_subplot()
    w, handles, fits = _scatter_series(ax, x, series, fmt_value=".1f", unit=" %", y_range=(0.0, 100.0))
    warnings += w
    if not handles:
        _no_data(ax, "no subset has both a distance and an accuracy")
    strategies = _strategy_rug(ax, table, x) if handles else []
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{title}\n{MODE_TEXT[mode]}, {_n_subsets(len(table))}", loc="left")
    _legend(ax, handles, fits, strategies=strategies)
    save_figure(fig, path)
    return warnings


DROPS = (
    ("original", "quant_aware", "original − quantized (label-aware)"),
    ("original", "quant_agnostic", "original − quantized (label-agnostic)"),
    ("original", "quant_mismatched", "original − quantized (mismatched classes)"),
    ("finetuned", "finetuned_quant", "fine-tuned − its quantization"),
)


def plot_quant_drop(table: pd.DataFrame, path: str | os.PathLike, *, title: str) -> list[str]:
    """Top-1 (all classes) lost to quantization against median class distance: original − each quantized
    model, and fine-tuned − fine-tuned + quantized, with log fits; positive = accuracy lost.
    `table` has one row per subset (the draws averaged: `laq.tables.per_subset`)."""
    x = _num(table, "dist_median")
    warnings: list[str] = []
    series = []
    for ref, quant, label in DROPS:
        missing = [c for c in (f"{ref}_top1_all", f"{quant}_top1_all") if c not in table.columns]
        if missing:
            warnings.append(f"{ref} - {quant}: column(s) {', '.join(missing)} missing; not plotted")
            continue
        st = VARIANT_STYLES[quant]
        series.append((f"{ref} - {quant}", _num(table, f"{ref}_top1_all") - _num(table, f"{quant}_top1_all"), label, st.colour, st.marker))
    fig = new_figure(7.4, 4.4)
    ax = fig.add_subplot()
    ax.axhline(0.0, color="0.3", linewidth=0.9, zorder=1)
    w, handles, fits = _scatter_series(ax, x, series, fmt_value="+.1f", unit=" pp", y_range=(-100.0, 100.0))
    warnings += w
    if not handles:
        _no_data(ax, "no subset has both a distance and the accuracies")
    strategies = _strategy_rug(ax, table, x) if handles else []
    ax.set_ylabel("top-1 lost to quantization (percentage points)")
    ax.set_title(f"{title}\nquantization drop, top-1 over all classes, {_n_subsets(len(table))} (above 0 = worse)", loc="left")
    _legend(ax, handles, fits, strategies=strategies)
    save_figure(fig, path)
    return warnings


GAIN_MARKERS = {"aware_vs_agnostic": ("o", "vs all-class calibration"), "aware_vs_mismatched": ("D", "vs mismatched classes")}


def plot_aware_gain(table: pd.DataFrame, gains: pd.DataFrame | None, path: str | os.PathLike, *, title: str) -> list[str]:
    """Per subset, the label-aware gains (quant_aware − quant_agnostic, quant_aware − quant_mismatched) in top-1,
    over all classes (left) and within the subset (right): the mean over calibration draws as a marker and the
    range of the draws as a bar; subsets sorted by median distance (closest classes at the top), coloured by
    selection strategy. `table` is the long table (one row per subset and draw); `gains` (laq.stats.gain_statistics)
    supplies each panel's mean and hierarchical-bootstrap CI. Right of 0 = label-aware better."""
    warnings: list[str] = [] if len(table) else ["the table has no subsets"]
    subsets = per_subset(table) if len(table) else table
    n = len(subsets)
    x = _num(subsets, "dist_median")
    order = np.argsort(np.where(np.isfinite(x), x, np.inf), kind="stable")
    ids = [str(subsets["subset"].iloc[i]) for i in order] if n else []
    d = x[order]
    strategy = [str(subsets["strategy"].iloc[i]) for i in order] if "strategy" in subsets else ["random"] * n
    colours = np.array([STRATEGY_COLOURS.get(s, "0.2") for s in strategy], dtype=object)
    height = float(np.clip(1.6 + 0.24 * n, 3.2, 20.0))
    fig = new_figure(9.0, height)
    axes = fig.subplots(1, 2, sharey=True)
    rows = np.arange(n)
    spans: list[float] = [1.0]
    for ax, mode, text in zip(axes, ("all", "sub"), ("top-1 over all classes", "top-1 within the subset's classes")):
        ax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
        notes = []
        for k, (name, (marker, label)) in enumerate(GAIN_MARKERS.items()):
            a, b = name.replace("aware_vs_", "quant_"), "quant_aware"
            cols = [f"{b}_top1_{mode}", f"{a}_top1_{mode}"]
            missing = [c for c in cols if c not in table.columns]
            if missing:
                warnings.append(f"{name} ({mode}): column(s) {', '.join(missing)} missing; not plotted")
                continue
            g = pd.DataFrame({"subset": table["subset"], "g": _num(table, cols[0]) - _num(table, cols[1])})
            stats = g.groupby("subset")["g"].agg(["mean", "min", "max"]).reindex(ids)
            mean, lo, hi = (stats[c].to_numpy(np.float64) for c in ("mean", "min", "max"))
            ok = np.isfinite(mean)
            if not ok.all():
                warnings.append(f"{name} ({mode}): {int((~ok).sum())} subset(s) without finite accuracies")
            off = -0.17 if k == 0 else 0.17
            ax.hlines(rows[ok] + off, lo[ok], hi[ok], colors=list(colours[ok]), linewidth=1.2, zorder=2)
            ax.scatter(mean[ok], rows[ok] + off, s=30, marker=marker, facecolors=list(colours[ok]) if k == 0 else "white",
                       edgecolors=list(colours[ok]), linewidths=1.2, zorder=3)
            spans += [float(np.nanmax(np.abs(np.concatenate([lo[ok], hi[ok]])))) if ok.any() else 1.0]
            if gains is not None:
                hit = gains[(gains["comparison"] == name) & (gains["mode"] == mode)]
                if len(hit):
                    r = hit.iloc[0]
                    notes.append(f"{label}: {r['mean_pp']:+.2f} pp [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]")
        ax.set_title(text + ("\n" + "\n".join(notes) if notes else ""), loc="left", fontsize=8)
        ax.set_xlabel("label-aware gain (percentage points)")
        ax.grid(False, axis="y")
    span = max(spans) * 1.1
    for ax in axes:
        ax.set_xlim(-span, span)
    if n == 0:
        _no_data(axes[0], "no subsets")
    per_row = (height - 1.6) * 72 / max(n, 1)
    font = float(np.clip(0.75 * per_row, 5.5, 8.0))
    step = max(1, int(np.ceil(1.3 * font / per_row)))
    axes[0].set_yticks(rows[::step], [f"{ids[i]}  ({number(d[i])})" if np.isfinite(d[i]) else ids[i] for i in rows[::step]], fontsize=font)
    axes[0].set_ylim(n - 0.5, -0.5) if n else axes[0].set_ylim(0.5, -0.5)
    axes[0].set_ylabel("class subset (median inter-class distance)")
    handles = [Line2D([], [], color=STRATEGY_COLOURS.get(s, "0.2"), marker="s", linestyle="none", markersize=7,
                      label=STRATEGY_LABELS.get(s, s)) for s in dict.fromkeys(strategy)]
    handles += [Line2D([], [], color="0.2", marker=m, markerfacecolor="0.2" if i == 0 else "white", linestyle="-",
                       markersize=6, label=f"label-aware {label}\n  mean of draws; bar: range of draws")
                for i, (m, label) in enumerate(GAIN_MARKERS.values())]
    axes[1].legend(handles=handles, labelspacing=0.9, **_LEGEND)
    # above the panel titles (up to three lines each); the tight bounding box makes room for it
    fig.suptitle(f"{title}\nlabel-aware gain per subset (right of 0 = calibrating on the subset's classes helped)",
                 x=0.02, y=fig.subplotpars.top + 0.62 / height, ha="left", va="bottom", fontsize=10)
    save_figure(fig, path)
    return warnings


def plot_bits_vs_accuracy(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike, *, title: str) -> list[str]:
    """Mean top-1 (all classes) of every variant per quantization spec, with 95 % bootstrap CIs over subsets.

    `tables` maps spec name -> accuracy table, in the order to plot; each tick is labelled with the
    spec's method and bits as found in its table (integer bits, schedules such as "asc", or lists).
    """
    warnings: list[str] = []
    names = list(tables)
    k = len(names)
    fig = new_figure(float(np.clip(3.2 + 1.25 * k, 6.0, 15.0)), 4.4)
    ax = fig.add_subplot()
    nv = len(VARIANT_STYLES)
    width = 0.7
    handles = []
    for j, (v, st) in enumerate(VARIANT_STYLES.items()):
        off = (j - (nv - 1) / 2) * width / nv
        means, los, his, xs = [], [], [], []
        for i, name in enumerate(names):
            col = f"{v}_top1_all"
            if col not in tables[name].columns:
                warnings.append(f"{name}: column {col} is missing; {v} not plotted for this spec")
                continue
            m, lo, hi = mean_with_ci(_num(tables[name], col), n_boot=2000, seed=0)
            if not np.isfinite(m):
                warnings.append(f"{name}: no finite {col}; {v} not plotted for this spec")
                continue
            means.append(m)
            los.append(m - lo if np.isfinite(lo) else 0.0)
            his.append(hi - m if np.isfinite(hi) else 0.0)
            xs.append(i + off)
        if not xs:
            continue
        ax.errorbar(xs, means, yerr=[los, his], fmt=st.marker, color=st.colour, markersize=6, markeredgecolor="white",
                    markeredgewidth=0.5, elinewidth=1.3, capsize=2.5, zorder=3)
        handles.append(Line2D([], [], color=st.colour, marker=st.marker, markersize=6, markeredgecolor="white",
                              linestyle="none", label=st.label))
    labels = []
    for name in names:
        t = tables[name]
        labels.append(f"{name}\n{spec_label(t)}\nn = {len(t)}")
    ax.set_xticks(np.arange(k), labels)
    ax.set_xlim(-0.6, k - 0.4)
    ax.grid(False, axis="x")
    for i in range(1, k):
        ax.axvline(i - 0.5, color="0.9", linewidth=0.8, zorder=0)
    if not handles:
        _no_data(ax, "no accuracies to plot")
    ax.set_xlabel("quantization spec (method, bits; n = class subsets)")
    ax.set_ylabel("top-1 accuracy (%), all classes")
    ax.set_title(f"{title}\nmean top-1 over class subsets with 95 % bootstrap CI", loc="left")
    if handles:
        ax.legend(handles=handles, labelspacing=0.7, **_LEGEND)
    save_figure(fig, path)
    return warnings
