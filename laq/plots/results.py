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

from laq.io import LaqError, rebuild_hint
from laq.plots.style import STRATEGY_COLOURS, STRATEGY_LABELS, VARIANT_STYLES, new_figure, save_figure
from laq.stats import log_fit, mean_with_ci, spearman

DISTANCE_LABEL = "median inter-class distance (symmetric KL, nats)"
MODE_TEXT = {
    "all": "top-1 over all classes of the dataset",
    "sub": "top-1 restricted to each subset's own classes",
}
METHOD_LABELS = {"gpfq": "GPFQ", "sgpfq": "stochastic GPFQ", "gpfq_l0": "GPFQ-L0", "gpfq_l1": "GPFQ-L1", "gptq": "GPTQ", "rtn": "RTN"}
SCHEDULE_BITS = {"asc": (3, 5), "desc": (5, 3)}  # as laq.quant.spec.SCHEDULES (not imported: it pulls in torch)
_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, handlelength=2.6)


# ------------------------------------------------------------------------------------ table helpers


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """An accuracy table written by the `table` rule; LaqError if it is missing, empty or lacks dist_median."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise LaqError(f"accuracy table {path} does not exist; {rebuild_hint(path)}.") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise LaqError(f"accuracy table {path} is unreadable ({e}); {rebuild_hint(path)}.") from None
    if "dist_median" not in df.columns:
        raise LaqError(f"accuracy table {path} has no dist_median column; {rebuild_hint(path)}.")
    return df


def _first(table: pd.DataFrame, column: str) -> Any:
    if column in table.columns:
        values = table[column].dropna()
        if len(values):
            return values.iloc[0]
    return None


def table_context(table: pd.DataFrame, path: str | os.PathLike, spec_name: str | None = None) -> tuple[str, str]:
    """(model, dataset) from the table's own columns, else from results/<dataset>/tables/<model>_<spec>.csv."""
    p = Path(path)
    model = _first(table, "model")
    if model is None:
        stem = p.stem
        model = stem[: -len(spec_name) - 1] if spec_name and stem.endswith("_" + spec_name) else stem.rsplit("_", 1)[0]
    dataset = _first(table, "dataset")
    if dataset is None:
        dataset = p.parent.parent.name if p.parent.name == "tables" else p.parent.name
    return str(model), str(dataset)


def bits_label(bits: Any) -> str:
    """"4 bits", "3→5 bits (asc)", "per-layer 3–5 bits (mean 4.2)" for an int, a schedule name or a list."""
    if bits is None or (isinstance(bits, float) and np.isnan(bits)):
        return "bits unknown"
    if isinstance(bits, (list, tuple)):
        values = [int(b) for b in bits]
    else:
        s = str(bits).strip()
        try:
            n = float(s)
            return f"{int(n)} bits" if n == int(n) else f"{n:g} bits"
        except ValueError:
            pass
        if s in SCHEDULE_BITS:
            a, b = SCHEDULE_BITS[s]
            return f"{a}→{b} bits ({s})"
        values = [int(v) for v in re.findall(r"\d+", s)]
        if not values:
            return s
    if len(set(values)) == 1:
        return f"{values[0]} bits"
    return f"per-layer {min(values)}–{max(values)} bits (mean {np.mean(values):.2g})"


def spec_label(table: pd.DataFrame, spec: Mapping[str, Any] | None = None) -> str:
    """"GPFQ, 4 bits": the method and bits of a spec (config dict), else of the table's method/bits columns."""
    method = (spec or {}).get("method", _first(table, "method"))
    bits = (spec or {}).get("bits", _first(table, "bits"))
    parts = [METHOD_LABELS.get(str(method), str(method))] if method is not None else []
    return ", ".join(parts + [bits_label(bits)])


def figure_title(table: pd.DataFrame, path: str | os.PathLike, spec_name: str, spec: Mapping[str, Any] | None = None) -> str:
    """"<model> on <dataset> · <spec> (<method>, <bits>)" for the table at `path`."""
    model, dataset = table_context(table, path, spec_name)
    return f"{model} on {dataset} · {spec_name} ({spec_label(table, spec)})"


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
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
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


def _scatter_series(
    ax: Axes, x: np.ndarray, series: list[tuple[str, np.ndarray, str, str, str]], *, fmt_value: str, unit: str
) -> tuple[list[str], list[Line2D], int]:
    """Points and a·log(b·x)+c fit per series (key, y, label, colour, marker); (warnings, legend handles, fits drawn)."""
    warnings: list[str] = []
    handles: list[Line2D] = []
    log = _distance_axis(ax, x)
    fits = 0
    for key, y, label, colour, marker in series:
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            warnings.append(f"{key}: no subset with a finite distance and accuracy; not plotted")
            continue
        ax.scatter(x[ok], y[ok], s=26, marker=marker, color=colour, alpha=0.85, edgecolors="white", linewidths=0.4, zorder=3)
        fit = log_fit(x, y)
        if fit.ok:
            xc = _curve_x(x[ok], log)
            ax.plot(xc, fit(xc), color=colour, linestyle="--", linewidth=1.3, zorder=2)
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


def _legend(ax: Axes, handles: list[Line2D], fits: int, *, title: str | None = None) -> None:
    if not handles:
        return
    if fits:
        handles = handles + [Line2D([], [], color="0.6", linestyle="--", linewidth=1.0, label="dashed: least-squares fit\n  a·log(b·x)+c per series")]
    ax.legend(handles=handles, title=title, labelspacing=0.9, **_LEGEND)


# ------------------------------------------------------------------------------------------ figures


def plot_accuracy_vs_distance(table: pd.DataFrame, mode: str, path: str | os.PathLike, *, title: str) -> list[str]:
    """Top-1 (`top1_<mode>`) of every variant against the subset's median class distance, with log fits.

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
    w, handles, fits = _scatter_series(ax, x, series, fmt_value=".1f", unit=" %")
    warnings += w
    if not handles:
        _no_data(ax, "no subset has both a distance and an accuracy")
    ax.set_ylabel("top-1 accuracy (%)")
    if ax.get_ylim()[1] > 101:  # fitted curves may overshoot; accuracies cannot
        ax.set_ylim(top=101)
    ax.set_title(f"{title}\n{MODE_TEXT[mode]}, {_n_subsets(len(table))}", loc="left")
    _legend(ax, handles, fits)
    save_figure(fig, path)
    return warnings


DROPS = (
    ("original", "quant_aware", "original − quantized (label-aware)"),
    ("original", "quant_agnostic", "original − quantized (label-agnostic)"),
    ("finetuned", "finetuned_quant", "fine-tuned − fine-tuned + quantized"),
)


def plot_quant_drop(table: pd.DataFrame, path: str | os.PathLike, *, title: str) -> list[str]:
    """Top-1 (all classes) lost to quantization against median class distance: original − each quantized
    model, and fine-tuned − fine-tuned + quantized, with log fits; positive = accuracy lost."""
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
    w, handles, fits = _scatter_series(ax, x, series, fmt_value="+.1f", unit=" pp")
    warnings += w
    if not handles:
        _no_data(ax, "no subset has both a distance and the accuracies")
    ax.set_ylabel("top-1 lost to quantization (percentage points)")
    ax.set_title(f"{title}\nquantization drop, top-1 over all classes, {_n_subsets(len(table))} (above 0 = worse)", loc="left")
    _legend(ax, handles, fits)
    save_figure(fig, path)
    return warnings


def plot_aware_gain(table: pd.DataFrame, path: str | os.PathLike, *, title: str) -> list[str]:
    """Per subset, quant_aware − quant_agnostic top-1 (all classes and within the subset), subsets sorted by
    median distance (closest classes at the top), coloured by selection strategy; right of 0 = label-aware better."""
    warnings: list[str] = [] if len(table) else ["the table has no subsets"]
    n = len(table)
    x = _num(table, "dist_median")
    order = np.argsort(np.where(np.isfinite(x), x, np.inf), kind="stable")
    t = table.iloc[order].reset_index(drop=True)
    d = x[order]
    ids = t["subset"].astype(str).tolist() if "subset" in t.columns else [f"subset {i}" for i in range(n)]
    strategy = t["strategy"].astype(str).tolist() if "strategy" in t.columns else ["random"] * n
    colours = [STRATEGY_COLOURS.get(s, "0.2") for s in strategy]
    modes = [("all", "o", "all classes", -0.16), ("sub", "D", "subset's classes", 0.16)]

    height = float(np.clip(1.5 + 0.22 * n, 3.2, 20.0))
    fig = new_figure(7.4, height)
    ax = fig.add_subplot()
    ax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
    rows = np.arange(n)
    gains = {}
    for mode, marker, _, off in modes:
        cols = (f"quant_aware_top1_{mode}", f"quant_agnostic_top1_{mode}")
        missing = [c for c in cols if c not in t.columns]
        if missing:
            warnings.append(f"label-aware gain ({mode}): column(s) {', '.join(missing)} missing; not plotted")
            continue
        g = _num(t, cols[0]) - _num(t, cols[1])
        gains[mode] = g
        ok = np.isfinite(g)
        if not ok.all():
            warnings.append(f"label-aware gain ({mode}): {int((~ok).sum())} subset(s) without finite accuracies")
        face = [c if mode == "all" else "white" for c in colours]
        ax.scatter(g[ok], rows[ok] + off, s=34, marker=marker, facecolors=np.array(face, dtype=object)[ok],
                   edgecolors=np.array(colours, dtype=object)[ok], linewidths=1.2, zorder=3)
    if len(gains) == 2:  # join the two values of each subset
        for i in rows:
            a, b = gains["all"][i], gains["sub"][i]
            if np.isfinite(a) and np.isfinite(b):
                ax.plot([a, b], [i - 0.16, i + 0.16], color="0.7", linewidth=0.8, zorder=2)
    if n == 0 or not gains:
        _no_data(ax, "no subsets" if n == 0 else "no accuracies of the quantized models")
    per_row = (height - 1.5) * 72 / max(n, 1)  # points of axis height per subset
    font = float(np.clip(0.75 * per_row, 5.5, 8.0))
    step = max(1, int(np.ceil(1.3 * font / per_row)))  # thin the labels rather than overlap them
    ax.set_yticks(rows[::step], [f"{ids[i]}  ({d[i]:.3g})" if np.isfinite(d[i]) else ids[i] for i in rows[::step]], fontsize=font)
    ax.set_ylim(n - 0.5, -0.5) if n else ax.set_ylim(0.5, -0.5)
    ax.grid(False, axis="y")
    ax.set_ylabel("class subset (median inter-class distance)")
    ax.set_xlabel("label-aware gain in top-1 (percentage points)\nquantized (label-aware) − quantized (label-agnostic)")
    if gains:  # keep zero in view and the axis symmetric enough to judge the sign
        finite = np.concatenate([g[np.isfinite(g)] for g in gains.values()] + [np.zeros(1)])
        span = max(float(np.max(np.abs(finite))), 1.0) * 1.1
        ax.set_xlim(min(-0.25 * span, finite.min() - 0.05 * span), max(0.25 * span, finite.max() + 0.05 * span))

    handles = []
    for s in dict.fromkeys(strategy):
        handles.append(Line2D([], [], color=STRATEGY_COLOURS.get(s, "0.2"), marker="s", linestyle="none", markersize=7,
                              label=STRATEGY_LABELS.get(s, s)))
    for mode, marker, text, _ in modes:
        if mode in gains:
            m, lo, hi = mean_with_ci(gains[mode], n_boot=1000, seed=0)
            if not np.isfinite(m):
                continue
            ci = f" [{lo:+.1f}, {hi:+.1f}]" if np.isfinite(lo) else ""
            handles.append(Line2D([], [], color="0.2", marker=marker, markerfacecolor="0.2" if mode == "all" else "white",
                                  linestyle="none", markersize=6, label=f"top-1, {text}\n  mean {m:+.2f} pp{ci}"))
    if handles:
        ax.legend(handles=handles, labelspacing=0.9, **_LEGEND)
    ax.set_title(f"{title}\nlabel-aware gain per subset (right of 0 = label-aware quantization better)", loc="left")
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
