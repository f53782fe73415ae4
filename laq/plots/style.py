"""The look shared by every figure of the workflow: rc defaults, per-variant colours/markers/labels, saving.

`apply_style(rc)` sets the Agg backend and a clean default style, then the user's `plots.rc` from the
config. `save_figure(fig, path)` writes `<stem>.png` and `<stem>.svg` atomically and closes the figure.
Figures are built with matplotlib's object API (`new_figure`), so no GUI backend is ever needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from laq.design import VARIANT_LABELS, VARIANTS
from laq.io import atomic_path
from laq.plots.rc import check_rc

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale by marker.
_BLACK, _ORANGE, _SKY, _GREEN, _YELLOW, _BLUE, _VERMILLION, _PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
)


@dataclass(frozen=True)
class VariantStyle:
    label: str
    colour: str
    marker: str


# Colour and marker per variant; names and labels come from laq.design (a test checks every variant has one).
_LOOK: dict[str, tuple[str, str]] = {
    "original": ("#555555", "o"),
    "quant_aware": (_BLUE, "s"),
    "quant_agnostic": (_ORANGE, "^"),
    "quant_mismatched": (_SKY, "P"),
    "quant_density": (_VERMILLION, "X"),
    "quant_mix0": (_YELLOW, "<"),
    "quant_mix25": ("#8C564B", ">"),
    "quant_mix50": ("#17BECF", "h"),
    "finetuned": (_GREEN, "D"),
    "finetuned_quant": (_PURPLE, "v"),
}
VARIANT_STYLES: dict[str, VariantStyle] = {v: VariantStyle(VARIANT_LABELS[v], *_LOOK[v]) for v in VARIANTS}

# Greys: strategy ticks must not read as one of the variants' colours.
STRATEGY_COLOURS: dict[str, str] = {
    "similar": "#1a1a1a",
    "dissimilar": "#808080",
    "random": "#c4c4c4",
    "file": "#4d4d4d",
}
STRATEGY_LABELS: dict[str, str] = {
    "similar": "similar classes",
    "dissimilar": "dissimilar classes",
    "random": "random classes",
    "file": "from subsets file",
}

def number(x: float) -> str:
    """A distance or count for a label: 3 significant digits, but whole numbers from 1,000 up with thousands
    separators, so one axis never mixes `100000` with `1e+06` (beyond 10^9, powers of ten: 1.2e+12)."""
    return f"{x:,.0f}" if 1000 <= abs(x) < 1e9 else f"{x:.3g}"


DEFAULT_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: identical output on every machine
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "normal",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "0.88",
    "grid.linewidth": 0.6,
    "grid.linestyle": "-",
    "axes.linewidth": 0.8,
    "axes.edgecolor": "0.25",
    "xtick.color": "0.25",
    "ytick.color": "0.25",
    "lines.linewidth": 1.4,
    "lines.markersize": 5,
    "errorbar.capsize": 2.5,
    "svg.hashsalt": "laq",  # deterministic SVG ids
    "savefig.facecolor": "white",
}


def apply_style(rc: Mapping[str, Any] | None = None) -> None:
    """Agg backend, the default style above, then `rc` (config `plots.rc`) on top.

    Every key and value of `rc` is checked before anything is changed; an unknown key or a value
    matplotlib rejects raises LaqError.
    """
    checked = check_rc(rc)
    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update(DEFAULT_RC)
    matplotlib.rcParams.update(checked)


def new_figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A figure on an Agg canvas (not registered with pyplot), sized in inches."""
    fig = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(fig)
    return fig


def figure_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(`.png`, `.svg`) paths for `path` given with or without a .png/.svg suffix."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() in (".png", ".svg") else p
    return base.with_name(base.name + ".png"), base.with_name(base.name + ".svg")


def save_figure(fig: Figure, path: str | os.PathLike, *, min_dpi: float = 150) -> tuple[Path, Path]:
    """Write `fig` as PNG (at least `min_dpi`) and SVG, atomically and without timestamps; then close it."""
    png, svg = figure_paths(path)
    dpi = max(float(min_dpi), float(fig.dpi))
    try:
        # The tight bounding box, measured once at the PNG's dpi, serves both files: each savefig with
        # bbox_inches="tight" would draw the whole figure an extra time.
        screen_dpi = fig.dpi
        fig.set_dpi(dpi)
        try:
            bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(matplotlib.rcParams["savefig.pad_inches"])
        finally:
            fig.set_dpi(screen_dpi)
        with matplotlib.rc_context({"svg.hashsalt": "laq"}):
            with atomic_path(png) as tmp:
                fig.savefig(tmp, format="png", dpi=dpi, bbox_inches=bbox, metadata={"Software": None})
            with atomic_path(svg) as tmp:
                fig.savefig(tmp, format="svg", bbox_inches=bbox, metadata={"Date": None, "Creator": None})
    finally:
        close_figure(fig)
    return png, svg


def close_figure(fig: Figure) -> None:
    """Release `fig`: unregister it from pyplot if pyplot made it (figures from `new_figure` need nothing)."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
