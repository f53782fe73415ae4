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
