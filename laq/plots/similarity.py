"""Figures of the class-distance matrix: clustered heatmap, closest/farthest pairs, 2-D embedding, histogram.

Each function writes `<path>.png` and `<path>.svg` (a `.png`/`.svg` suffix on `path` is replaced),
atomically. Figures are built with matplotlib's object API on the Agg canvas, so no global backend
is switched; rcParams (e.g. set by the workflow's plot style) still apply.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from matplotlib.ticker import FuncFormatter, MaxNLocator
from scipy.cluster.hierarchy import dendrogram, leaves_list, linkage
from scipy.spatial.distance import squareform

from laq import seeding
from laq.plots.style import figure_paths, new_figure, number, save_figure  # noqa: F401 - figure_paths re-exported

_MEDIAN_COLOUR = "#c0392b"


# ------------------------------------------------------------------------------------------ helpers


def _new_figure(width: float, height: float) -> Figure:
    return new_figure(width, height)


def _symmetric(kl: np.ndarray) -> np.ndarray:
    m = np.asarray(kl, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"distance matrix must be square, got {m.shape}")
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0.0)
    return m


def _names(names: Sequence[str], c: int) -> list[str]:
    if len(names) != c:
        raise ValueError(f"{len(names)} class names for a {c}x{c} matrix")
    return [str(n) for n in names]


def _skewed(m: np.ndarray) -> bool:
    """Strongly right-skewed distances (largest / 5th percentile > 100): shown and clustered on a log scale."""
    pos = _upper(m)[_upper(m) > 0]
    return bool(pos.size > 0 and pos.max() / np.percentile(pos, 5) > 100)


def _linkage(m: np.ndarray) -> np.ndarray:
    # on log distances when they are skewed: a few huge distances would otherwise flatten the dendrogram
    # into one bracket and leave the order of the other classes arbitrary
    d = squareform(np.log1p(m) if _skewed(m) else m, checks=False)
    return linkage(d, method="average", optimal_ordering=True)


def cluster_order(kl: np.ndarray) -> np.ndarray:
    """Leaf order of average-linkage clustering on the (symmetric) distance matrix (log distances when skewed)."""
    m = _symmetric(kl)
    if len(m) < 3:
        return np.arange(len(m))
    return leaves_list(_linkage(m))


def class_colours(c: int) -> np.ndarray:
    """[c,4] RGBA colours far apart for neighbouring indices (golden-ratio hues, alternating lightness)."""
    i = np.arange(c)
    hsv = np.column_stack([(i * 0.618034) % 1.0, 0.55 + 0.35 * (i % 2), 0.85 - 0.25 * ((i // 2) % 2)])
    return np.column_stack([mcolors.hsv_to_rgb(hsv), np.ones(c)])


def _upper(kl: np.ndarray) -> np.ndarray:
    return kl[np.triu_indices(len(kl), 1)]


_fmt = number


def _tick_font(c: int) -> float:
    return float(np.clip(420 / max(c, 1), 3.0, 9.0))


# ------------------------------------------------------------------------------------------ heatmap


def plot_heatmap(
    kl: np.ndarray, names: Sequence[str], path: str | os.PathLike, *, label: str = "symmetric KL divergence"
) -> tuple[Path, Path]:
    """Distance matrix with rows/columns ordered by average-linkage clustering, dendrogram on top.

    Right-skewed matrices (largest / 5th-percentile distance > 100) use a logarithmic colour scale.
    """
    m = _symmetric(kl)
    c = len(m)
    names = _names(names, c)
    order = cluster_order(m)
    mo = m[np.ix_(order, order)]
    off = _upper(m)
    pos = off[off > 0]
    log = _skewed(m)
    if log:
        vmin, vmax = float(np.percentile(pos, 0.5)), float(pos.max())
        norm: mcolors.Normalize = mcolors.LogNorm(vmin=vmin, vmax=vmax, clip=True)
        shown = np.maximum(mo, vmin)
    else:
        norm = mcolors.Normalize(vmin=0.0, vmax=float(off.max()) if off.size and off.max() > 0 else 1.0)
        shown = mo
    shown = np.ma.masked_array(shown, mask=np.eye(c, dtype=bool))
    cmap = matplotlib.colormaps["magma_r"].with_extremes(bad="#d9d9d9")

    side = float(np.clip(0.1 * c + 3.0, 5.0, 14.0))
    fig = _new_figure(side + 1.2, side + 1.4)
    grid = fig.add_gridspec(2, 2, height_ratios=[1.2, side], width_ratios=[side, 0.25], hspace=0.01, wspace=0.03)
    ax = fig.add_subplot(grid[1, 0])
    ax_tree = fig.add_subplot(grid[0, 0])
    ax_cb = fig.add_subplot(grid[1, 1])

    im = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest", aspect="equal")
    ax.grid(False)  # the default style's grid would draw over the matrix
    step = max(1, int(np.ceil(c / 150)))
    ticks = np.arange(0, c, step)
    font = float(np.clip(0.8 * side * 0.8 * 72 / (c / step), 3.0, 8.0))  # most of a row's height, in points
    ax.set_xticks(ticks, [names[order[t]] for t in ticks], rotation=90, fontsize=font)
    ax.set_yticks(ticks, [names[order[t]] for t in ticks], fontsize=font)
    ax.tick_params(length=1.5, width=0.4, pad=1)
    for s in ax.spines.values():
        s.set_linewidth(0.4)

    if c >= 3:
        z = _linkage(m)
        dendrogram(z, ax=ax_tree, no_labels=True, color_threshold=0, above_threshold_color="0.35")
        for coll in ax_tree.collections:
            coll.set_linewidth(0.5)
        ax_tree.set_xlim(0, 10 * c)
    ax_tree.set_axis_off()
    ax_tree.set_title(
        f"Class distances ({c} classes, ordered by average-linkage clustering{' of log distances' if log else ''}; median {_fmt(np.median(off))})"
        if off.size
        else f"Class distances ({c} classes)",
        fontsize=10,
    )
    cb = fig.colorbar(im, cax=ax_cb)
    cb.set_label(label + (" (log scale)" if log else ""), fontsize=9)
    if not log:
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
    cb.ax.tick_params(labelsize=8)
    # Align the colourbar with the matrix (equal aspect shrinks the image inside its grid cell).
    fig.canvas.draw()
    bb, cbb = ax.get_position(), ax_cb.get_position()
    ax_cb.set_position([cbb.x0, bb.y0, cbb.width, bb.height])
    ax_tree.set_position([bb.x0, ax_tree.get_position().y0, bb.width, ax_tree.get_position().height])
    # Tiny tick labels need more pixels to stay legible at 100 classes.
    return save_figure(fig, path, min_dpi=150 if c <= 40 else 220)


# -------------------------------------------------------------------------------------------- pairs


def _samples(images: np.ndarray, labels: np.ndarray, cls: int, k: int, seed: int) -> list[np.ndarray]:
    idx = np.flatnonzero(labels == cls)
    if len(idx) == 0:
        return []
    rng = seeding.rng(seed, "pairs", int(cls))
    return [images[i] for i in np.sort(rng.choice(idx, size=min(k, len(idx)), replace=False))]


def _mosaic(left: list[np.ndarray], right: list[np.ndarray], k: int, shape: tuple[int, int], pad: int, gap: int) -> np.ndarray:
    """One row: k images of class a, a gap, k images of class b, on white (grey tiles for missing images)."""
    h, w = shape
    out = np.full((h, 2 * k * w + (2 * k - 2) * pad + gap, 3), 255, dtype=np.uint8)
    x = 0
    for side, imgs in enumerate((left, right)):
        for j in range(k):
            out[:, x : x + w] = imgs[j] if j < len(imgs) else 200
            x += w + (pad if j < k - 1 else 0)
        if side == 0:
            x += gap
    return out


def plot_pairs(
    kl: np.ndarray,
    names: Sequence[str],
    images: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike,
    n: int = 8,
    *,
    per_class: int = 4,
    seed: int = 0,
) -> tuple[Path, Path]:
    """The n closest (left) and n farthest (right) class pairs, `per_class` sample images of each class side by side."""
    m = _symmetric(kl)
    c = len(m)
    names = _names(names, c)
    images = np.asarray(images)
    labels = np.asarray(labels)
    iu = np.triu_indices(c, 1)
    d = m[iu]
    n = int(min(n, d.size))
    order = np.argsort(d, kind="stable")
    columns = [("closest", order[:n]), ("farthest", order[::-1][:n])]
    h, w = images.shape[1:3]
    pad, gap = max(1, w // 16), max(4, w // 3)
    tile_width = 2 * per_class * w + (2 * per_class - 2) * pad + gap
    right_x = (per_class * w + (per_class - 1) * pad + gap) / tile_width

    fig = _new_figure(2 * (2 * per_class * 0.62 + 0.4), 0.95 * n + 0.6)
    grid = fig.add_gridspec(n, 2, wspace=0.14, hspace=0.55)
    for col, (title, pairs) in enumerate(columns):
        for row, pi in enumerate(pairs):
            a, b = int(iu[0][pi]), int(iu[1][pi])
            ax = fig.add_subplot(grid[row, col])
            left, right = _samples(images, labels, a, per_class, seed), _samples(images, labels, b, per_class, seed)
            tile = _mosaic(left, right, per_class, (h, w), pad, gap)
            ax.imshow(tile, interpolation="nearest" if h < 96 else "antialiased")
            ax.set_axis_off()
            # Each name sits over its own block of images; the distance closes the row.
            ax.set_title(names[a], loc="left", fontsize=7.5, pad=2)
            ax.text(right_x, 1.0, names[b], transform=ax.transAxes, ha="left", va="bottom", fontsize=7.5)
            ax.set_title(f"d = {_fmt(d[pi])}", loc="right", fontsize=7.5, pad=2, color="0.35")
            if row == 0:
                ax.text(0.5, 1.75, f"{n} {title} class pairs", transform=ax.transAxes, ha="center", va="bottom", fontsize=10, weight="bold")
    return save_figure(fig, path)


# ----------------------------------------------------------------------------------------- embedding


def plot_embedding(
    points2d: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    path: str | os.PathLike,
    *,
    axis_name: str = "UMAP",
) -> tuple[Path, Path]:
    """2-D points coloured by class, with each class's Gaussian as 1-sigma (solid) and 2-sigma (dashed) ellipses
    and its name at the class mean. Pass axis_name="PC" for principal-component views."""
    pts = np.asarray(points2d, dtype=np.float64).reshape(-1, 2)
    labels = np.asarray(labels, dtype=np.int64)
    c = len(names)
    names = [str(x) for x in names]
    fig = _new_figure(10, 10)
    ax = fig.add_subplot()
    if len(pts) == 0:
        msg = "no 2-D points (the distance was computed without a 2-D embedding)"
        ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return save_figure(fig, path)
    cols = class_colours(c)
    # Marker size and opacity shrink with the number of points so that dense classes stay visible as clouds.
    size = float(np.clip(40000 / len(pts), 1.0, 12.0))
    alpha = float(np.clip(4000 / len(pts), 0.25, 0.7))
    ax.scatter(pts[:, 0], pts[:, 1], c=cols[labels], s=size, alpha=alpha, linewidths=0, rasterized=True)
    font = _tick_font(c) + 0.5
    halo = [patheffects.withStroke(linewidth=1.5, foreground="white")]
    for k in range(c):
        x = pts[labels == k]
        if len(x) < 3:
            continue
        mu = x.mean(axis=0)
        evals, evecs = np.linalg.eigh(np.cov(x, rowvar=False))
        angle = float(np.degrees(np.arctan2(evecs[1, -1], evecs[0, -1])))
        for nsig, style, lw in ((1, "-", 0.8), (2, "--", 0.5)):
            w, h = 2 * nsig * np.sqrt(np.maximum(evals[::-1], 0))
            ax.add_patch(Ellipse(mu, w, h, angle=angle, fill=False, edgecolor=cols[k], linestyle=style, linewidth=lw, alpha=0.9))
        ax.text(mu[0], mu[1], names[k], fontsize=font, ha="center", va="center", path_effects=halo, zorder=5)
    ax.set_xlabel(f"{axis_name} 1")
    ax.set_ylabel(f"{axis_name} 2")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"Class embedding: {len(pts)} points, {c} classes (ellipses: 1 and 2 standard deviations)", fontsize=10)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return save_figure(fig, path, min_dpi=150 if c <= 40 else 200)


# ----------------------------------------------------------------------------------------- histogram


def plot_histogram(kl: np.ndarray, path: str | os.PathLike, *, label: str = "symmetric KL divergence") -> tuple[Path, Path]:
    """Histogram of the C(C-1)/2 pairwise distances, linear (left) and log-scaled (right), median marked."""
    m = _symmetric(kl)
    d = _upper(m)
    fig = _new_figure(10, 3.8)
    axes = fig.subplots(1, 2)
    if d.size == 0:
        for ax in axes:
            ax.set_axis_off()
        axes[0].text(0.5, 0.5, "fewer than 2 classes: no pairs", ha="center", transform=axes[0].transAxes)
        return save_figure(fig, path)
    med = float(np.median(d))
    pos = d[d > 0]
    # skewed distances would put the bulk into the linear panel's first bar: that panel then shows the pairs
    # up to the 95th percentile or 3x the median, whichever is smaller, and the log panel shows them all
    top = float(min(np.percentile(d, 95), 3 * med))
    cut = 0 < top and d.max() > 3 * np.percentile(d, 95)
    shown = d[d <= top] if cut else d
    specs = [(axes[0], shown, np.linspace(0, shown.max() if shown.max() > 0 else 1, 61), False)]
    if pos.size:
        lo, hi = pos.min(), pos.max()
        specs.append((axes[1], pos, np.geomspace(lo, hi if hi > lo else lo * 10, 51), True))
    else:
        axes[1].set_axis_off()
    for ax, values, bins, logx in specs:
        ax.hist(values, bins=bins, color="#4c72b0", edgecolor="white", linewidth=0.3)
        ax.axvline(med, color=_MEDIAN_COLOUR, linestyle="--", linewidth=1.2)
        ax.text(
            med, 0.97, f" median {_fmt(med)}", color=_MEDIAN_COLOUR, transform=ax.get_xaxis_transform(), ha="left", va="top",
            fontsize=8, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        if logx:
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
        ax.set_xlabel(label + (" (log axis)" if logx else ""))
        if not logx and cut:
            ax.set_title(f"pairs up to {_fmt(top)} ({d.size - shown.size} larger ones: log axis, right)", fontsize=8.5)
        else:
            ax.set_title("all pairs" + (" above 0" if logx and pos.size < d.size else ""), fontsize=8.5)
        ax.set_ylabel("class pairs")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        for s in ("top", "right"):
            ax.spines[s].set_visible(False)
    zeros = d.size - pos.size
    note = f"; {zeros} pairs at 0 not shown on the log axis" if zeros and pos.size else ""
    fig.suptitle(
        f"Pairwise class distances: {d.size} pairs, median {_fmt(med)}, mean {_fmt(d.mean())}, max {_fmt(d.max())}{note}", fontsize=10
    )
    fig.tight_layout()
    return save_figure(fig, path)
