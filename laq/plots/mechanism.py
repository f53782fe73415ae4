"""Figures of what label-aware calibration changes (issue 21): the all-classes gain split into a
within-subset part and out-of-subset predictions avoided, and gains against each dose of a sweep.

Every function writes `<stem>.png` and `<stem>.svg` and returns warnings; an empty table still gives a
figure. Values are percentage points (pp) with the 95 % intervals of laq.stats.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from laq.design import GAINS
from laq.plots.style import new_figure, save_figure

_COMPONENTS = (
    ("all", "all classes (= within + outside)", "#333333"),
    ("within", "within the subset's classes", "#0072B2"),
    ("outside", "out-of-subset predictions avoided", "#E69F00"),
)
_TEXT = {g.name: g.text for g in GAINS}


def plot_decomposition(dec: pd.DataFrame, path: str | os.PathLike, *, title: str) -> list[str]:
    """One row per gain of `dec` (laq.stats.decomposition_statistics): the all-classes gain and its two
    parts as bars with their 95 % intervals; right of 0 = label-aware better."""
    warnings: list[str] = []
    gains = list(dict.fromkeys(dec["comparison"])) if len(dec) else []
    fig = new_figure(8.4, float(np.clip(1.6 + 0.9 * len(gains), 2.8, 12.0)))
    ax = fig.add_subplot()
    ax.axvline(0.0, color="0.25", linewidth=1.0, zorder=1)
    height = 0.26
    for i, name in enumerate(gains):
        part = dec[dec["comparison"] == name].set_index("component")
        for j, (comp, label, colour) in enumerate(_COMPONENTS):
            if comp not in part.index:
                warnings.append(f"{name}: no {comp} component")
                continue
            r = part.loc[comp]
            y = i + (j - 1) * height
            m, lo, hi = float(r["mean_pp"]), float(r["ci_low"]), float(r["ci_high"])
            ax.barh(y, m, height=height * 0.9, color=colour, alpha=0.85, label=label if i == 0 else None, zorder=2)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.errorbar(m, y, xerr=[[m - lo], [hi - m]], fmt="none", ecolor="0.15", elinewidth=1.0, capsize=2.5, zorder=3)
            share = float(r["share"]) if comp != "all" and np.isfinite(float(r["share"])) else None
            note = f"{m:+.2f}" + (f" ({share:.0%})" if share is not None else "")
            ax.annotate(note, (max(m, hi if np.isfinite(hi) else m, 0.0), y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7, color="0.2")
    ax.set_yticks(range(len(gains)), [f"{n}\n{_TEXT.get(n, '')}" for n in gains], fontsize=7)
    ax.set_ylim(len(gains) - 0.5, -0.5) if gains else ax.set_ylim(0.5, -0.5)
    if not gains:
        ax.text(0.5, 0.5, "no decomposition (evaluation without per-image flags)", transform=ax.transAxes, ha="center",
                va="center", color="0.4")
        warnings.append("the decomposition table is empty")
    else:
        rates = dec[dec["component"] == "all"].iloc[0]
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8,
                  title=f"images predicted outside the subset:\n{rates['subtrahend_outside_pct']:.1f} % ({rates['subtrahend']})"
                        f"\n{rates['minuend_outside_pct']:.1f} % ({rates['minuend']})", title_fontsize=7)
    ax.set_xlabel("label-aware gain in top-1 (percentage points), bars: mean over subsets, whiskers: 95 % CI")
    ax.set_title(f"{title}\nwhere the all-classes gain comes from (within + outside = all, per subset and draw)", loc="left")
    ax.grid(False, axis="y")
    save_figure(fig, path)
    return warnings


_GAIN_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def varying_doses(dose: pd.DataFrame) -> list[tuple[str, str]]:
    """The doses (laq.stats.DOSES) that take two or more values among the gain rows of a dose table."""
    from laq.stats import DOSES

    gains = dose[dose["kind"] == "gain"] if len(dose) else dose
    return [(c, label) for c, label in DOSES if c in gains and pd.to_numeric(gains[c], errors="coerce").dropna().nunique() >= 2]


def plot_dose_response(dose: pd.DataFrame, path: str | os.PathLike, *, title: str) -> list[str]:
    """Gain against each dose the run sweeps (one row of panels per dose: all classes left, restricted to
    the subset right), mean over subsets with its 95 % CI; one line per gain and per combination of the
    other doses. Without a sweep, a figure that says so."""
    from laq.stats import DOSES

    warnings: list[str] = []
    swept = varying_doses(dose)
    fig = new_figure(10.0, float(2.2 + 3.0 * max(1, len(swept))))
    if not swept:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "this run sweeps no dose (bits, calibration images or subset size)", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
        ax.set_axis_off()
        ax.set_title(title, loc="left")
        warnings.append("no dose varies in this run")
        save_figure(fig, path)
        return warnings
    gains = dose[dose["kind"] == "gain"]
    names = list(dict.fromkeys(gains["comparison"]))
    axes = fig.subplots(len(swept), 2, squeeze=False)
    for r, (col, label) in enumerate(swept):
        others = [c for c, _ in DOSES if c != col and c in gains and gains[c].dropna().nunique() >= 2]
        for c, mode in enumerate(("all", "sub")):
            ax = axes[r][c]
            ax.axhline(0.0, color="0.3", linewidth=0.9, zorder=1)
            sel = gains[gains["mode"] == mode]
            for i, name in enumerate(names):
                part = sel[sel["comparison"] == name]
                groups = part.groupby(others, dropna=False) if others else [((), part)]
                for j, (key, grp) in enumerate(groups):
                    grp = grp.sort_values(col)
                    x, m = grp[col].to_numpy(np.float64), grp["mean_pp"].to_numpy(np.float64)
                    lo, hi = grp["ci_low"].to_numpy(np.float64), grp["ci_high"].to_numpy(np.float64)
                    key = key if isinstance(key, tuple) else (key,)
                    extra = ", ".join(f"{o} {v:g}" for o, v in zip(others, key))
                    ax.errorbar(x + 0.0, m, yerr=[np.nan_to_num(m - lo), np.nan_to_num(hi - m)], color=_GAIN_COLOURS[i % 7],
                                marker="osD^v"[j % 5], linestyle=("-", "--", ":", "-.")[j % 4], capsize=2.5, linewidth=1.2,
                                markersize=4.5, label=f"{name}" + (f" ({extra})" if extra else "") if c == 0 else None)
            if col == "size":
                from matplotlib.ticker import FuncFormatter

                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel(label)
            ax.set_ylabel("gain (pp), mean and 95 % CI")
            ax.set_title(("top-1 over all classes" if mode == "all" else "top-1 restricted to the subset's classes")
                         + f" vs {label}", loc="left", fontsize=8)
        axes[r][0].legend(loc="upper left", bbox_to_anchor=(2.25, 1.0), fontsize=7, borderaxespad=0.0)
    fig.subplots_adjust(hspace=0.5)
    fig.suptitle(f"{title}\nlabel-aware gains against each dose of the sweep", x=0.02, ha="left", fontsize=10)
    save_figure(fig, path)
    return warnings
