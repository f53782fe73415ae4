"""Statistics behind the result figures: the a·log(b·x)+c fit, Spearman's rho and means with bootstrap CIs.

Conventions
-----------
* Non-finite pairs (NaN/inf in x or y) are dropped before anything is computed.
* Confidence intervals are 95 % bootstrap percentile intervals (pairs are resampled together),
  computed vectorised from `laq.seeding.rng(seed, "bootstrap")`, so they are reproducible.
* Whatever is undefined (too few points, constant input) is NaN, never an exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from laq import seeding
from laq.io import atomic_path
from laq.design import GAINS, VARIANTS

_CHUNK = 1 << 22  # elements per bootstrap block: bounds memory for large tables


# ------------------------------------------------------------------------------------------ log fit


@dataclass(frozen=True)
class LogFit:
    """Least-squares fit of y = a·log(b·x) + c, or the reason there is none.

    a·log(b·x)+c equals a·log(x) + (a·log(b) + c): only the slope `a` and the sum are identified.
    Convention: b = 1/median(x), so `c` is the fitted y at the median x and `a` is the change of y
    per e-fold (×2.718) of x.
    """

    a: float = float("nan")
    b: float = float("nan")
    c: float = float("nan")
    r2: float = float("nan")
    n: int = 0
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def params(self) -> tuple[float, float, float] | None:
        return (self.a, self.b, self.c) if self.ok else None

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        return self.a * np.log(self.b * np.asarray(x, dtype=np.float64)) + self.c


def _finite_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size} vs {y.size})")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def log_fit(x, y) -> LogFit:
    """Fit y = a·log(b·x) + c by ordinary least squares on log x (see LogFit for the convention on b).

    No fit (LogFit.reason says why) when x has a non-positive value, or fewer than 3 distinct values
    among the finite (x, y) pairs.
    """
    x, y = _finite_pairs(x, y)
    if np.any(x <= 0):
        return LogFit(n=int(x.size), reason=f"{int(np.sum(x <= 0))} non-positive distance(s): log(x) is undefined")
    distinct = np.unique(x).size
    if distinct < 3:
        return LogFit(n=int(x.size), reason=f"only {distinct} distinct distance value(s) with finite accuracy; need 3")
    b = 1.0 / float(np.median(x))
    u = np.log(b * x)  # centred near 0: well conditioned
    design = np.column_stack([u, np.ones_like(u)])
    (a, c), *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - (a * u + c)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return LogFit(float(a), b, float(c), r2, int(x.size))


def fit_log_curve(x, y) -> tuple[float, float, float] | None:
    """(a, b, c) of y = a·log(b·x) + c with b = 1/median(x), or None; `log_fit` also gives the reason."""
    return log_fit(x, y).params


# ----------------------------------------------------------------------------------------- bootstrap


def _rows_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair; NaN for rows where either is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    num = np.sum(a * b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12 * np.maximum(1.0, np.abs(num)), num / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def _rank_rows(m: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(m, axis=-1)  # average ranks for ties, as Spearman's rho uses


def _boot_indices(rng: np.random.Generator, n: int, n_boot: int):
    rows = max(1, _CHUNK // max(n, 1))
    done = 0
    while done < n_boot:
        k = min(rows, n_boot - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def _percentile_ci(samples: np.ndarray) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(s, [2.5, 97.5])
    return float(lo), float(hi)


def spearman(x, y) -> float:
    """Spearman's rank correlation of the finite pairs; NaN with fewer than 2 pairs or a constant input."""
    x, y = _finite_pairs(x, y)
    if x.size < 2:
        return float("nan")
    return float(_rows_pearson(_rank_rows(x[None]), _rank_rows(y[None]))[0])


def spearman_with_ci(x, y, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(rho, low, high): Spearman's rho and its 95 % bootstrap percentile CI (pairs resampled together).

    NaN where undefined: rho with < 2 pairs or constant x or y; the CI also with < 3 pairs. Resamples
    that happen to be constant are left out of the percentiles.
    """
    x, y = _finite_pairs(x, y)
    rho = spearman(x, y)
    if not np.isfinite(rho) or x.size < 3:
        return rho, float("nan"), float("nan")
    rng = seeding.rng(seed, "bootstrap")
    boots = [_rows_pearson(_rank_rows(x[idx]), _rank_rows(y[idx])) for idx in _boot_indices(rng, x.size, n_boot)]
    lo, hi = _percentile_ci(np.concatenate(boots))
    return rho, lo, hi


def mean_with_ci(v, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the finite values with a 95 % bootstrap percentile CI.

    NaN for no values; the CI is NaN for a single value and zero-width for constant values.
    """
    v = np.asarray(v, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float("nan"), float("nan")
    if np.all(v == v[0]):
        return float(v[0]), float(v[0]), float(v[0])
    rng = seeding.rng(seed, "bootstrap")
    boots = [v[idx].mean(axis=1) for idx in _boot_indices(rng, v.size, n_boot)]
    lo, hi = _percentile_ci(np.concatenate(boots))
    return float(v.mean()), lo, hi


# ---------------------------------------------------------------------------------- figure statistics

# Paired differences reported next to the variants: (name, minuend, subtrahend): the gains of the
# study design and the cost of quantizing the fine-tuned model.
DIFFERENCES = tuple((f"{g.minuend}-{g.subtrahend}", g.minuend, g.subtrahend) for g in GAINS) + (
    ("finetuned_quant-finetuned", "finetuned_quant", "finetuned"),
)
STAT_COLUMNS = [
    "mode", "kind", "variant", "n_subsets", "spearman_rho", "rho_ci_low", "rho_ci_high",
    "mean_top1", "mean_ci_low", "mean_ci_high", "fit_a", "fit_b", "fit_c", "fit_r2", "fit_note",
]


def figure_statistics(table: pd.DataFrame, mode: str, seed: int, *, n_boot: int = 2000) -> pd.DataFrame:
    """The numbers behind the accuracy-vs-distance figure of `mode` ("all" or "sub"), one row per series,
    from a table with one row per subset (average the draws first: `laq.tables.per_subset`).

    kind == "variant": top-1 of one variant. kind == "difference": the per-subset paired difference
    named in `variant` (e.g. quant_aware-quant_agnostic, the label-aware gain), in percentage points.
    Columns: n_subsets (finite pairs), Spearman's rho between dist_median and the value with its 95 % CI,
    mean_top1 (mean of the value) with its 95 % CI, and the a·log(b·x)+c fit (b = 1/median distance;
    fit_note says why there is none). Variants missing from the table are left out.
    """
    if mode not in ("all", "sub"):
        raise ValueError(f"mode must be 'all' or 'sub', not {mode!r}")
    x = pd.to_numeric(table["dist_median"], errors="coerce").to_numpy(np.float64) if "dist_median" in table else None
    series: list[tuple[str, str, np.ndarray]] = []
    col = lambda v: f"{v}_top1_{mode}"  # noqa: E731
    for v in VARIANTS:
        if col(v) in table:
            series.append(("variant", v, pd.to_numeric(table[col(v)], errors="coerce").to_numpy(np.float64)))
    for name, a, b in DIFFERENCES:
        if col(a) in table and col(b) in table:
            diff = pd.to_numeric(table[col(a)], errors="coerce") - pd.to_numeric(table[col(b)], errors="coerce")
            series.append(("difference", name, diff.to_numpy(np.float64)))
    rows = []
    for kind, name, y in series:
        xs = x if x is not None else np.full_like(y, np.nan)
        finite = np.isfinite(xs) & np.isfinite(y)
        rho, rlo, rhi = spearman_with_ci(xs, y, n_boot=n_boot, seed=seed)
        m, mlo, mhi = mean_with_ci(y, n_boot=n_boot, seed=seed)
        fit = log_fit(xs, y)
        rows.append(
            {
                "mode": mode, "kind": kind, "variant": name, "n_subsets": int(finite.sum()),
                "spearman_rho": rho, "rho_ci_low": rlo, "rho_ci_high": rhi,
                "mean_top1": m, "mean_ci_low": mlo, "mean_ci_high": mhi,
                "fit_a": fit.a, "fit_b": fit.b, "fit_c": fit.c, "fit_r2": fit.r2, "fit_note": fit.reason or "",
            }
        )
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


def write_statistics(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the statistics table as CSV (6 significant digits, NaN as empty), atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")


# ------------------------------------------------------------------------------- paired statistics
#
# The design: S subsets x D calibration draws. A gain (e.g. label-aware − label-agnostic top-1) is
# measured per (subset, draw), pairing the two models' draws by index; draws of different conditions
# are independent, so the pairing is arbitrary but harmless. Subsets share classes, so everything
# computed over subsets treats overlapping subsets as independent and is optimistic.

OVERLAP_NOTE = (
    "subsets share classes, so tests over subsets (bootstrap CI, Wilcoxon) treat overlapping subsets as "
    "independent and are optimistic"
)


def hierarchical_bootstrap(g, *, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean over subsets of each subset's mean over draws, with a 95 % percentile CI
    from a two-level bootstrap: resample subsets with replacement, then draws within each chosen subset.

    `g` is S x D (subsets x draws). Subsets with any non-finite value are dropped. NaN where undefined:
    the mean with no subset; the CI with fewer than 2 subsets.
    """
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 2:
        raise ValueError(f"g must be subsets x draws, got shape {g.shape}")
    g = g[np.isfinite(g).all(axis=1)]
    s, d = g.shape
    if s == 0 or d == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(g.mean())
    if s < 2:
        return mean, float("nan"), float("nan")
    gen = seeding.rng(seed, "hierarchical-bootstrap")
    stats, done = [], 0
    rows = max(1, _CHUNK // (s * d))
    while done < n_boot:
        k = min(rows, n_boot - done)
        si = gen.integers(0, s, size=(k, s))
        di = gen.integers(0, d, size=(k, s, d))
        stats.append(g[si[:, :, None], di].mean(axis=(1, 2)))
        done += k
    lo, hi = _percentile_ci(np.concatenate(stats))
    return mean, lo, hi


def wilcoxon_p(x) -> float:
    """Two-sided Wilcoxon signed-rank p of the finite values (scipy's default method: exact for small
    samples without ties or zeros); NaN with fewer than 2 non-zero values."""
    from scipy.stats import wilcoxon

    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if np.count_nonzero(x) < 2:
        return float("nan")
    return float(wilcoxon(x).pvalue)


def pooled_draw_sd(g) -> float:
    """Draw-to-draw standard deviation within a subset, pooled over subsets: sqrt(mean of the per-subset
    sample variances, ddof=1), over subsets with finite values; NaN with fewer than 2 draws."""
    g = np.asarray(g, dtype=np.float64)
    g = g[np.isfinite(g).all(axis=1)]
    if g.shape[0] == 0 or g.shape[1] < 2:
        return float("nan")
    return float(np.sqrt(np.mean(np.var(g, axis=1, ddof=1))))


@dataclass(frozen=True)
class McNemar:
    """McNemar's test of two classifiers on the same images: only_a / only_b = images only A / only B got right."""

    only_a: int
    only_b: int
    p: float
    test: str  # "exact" (binomial, fewer than EXACT_BELOW discordant pairs) or "chi2" (continuity-corrected)


EXACT_BELOW = 25


def mcnemar(a_correct, b_correct) -> McNemar:
    """McNemar's two-sided test on paired per-image correctness: the exact binomial test on the discordant
    pairs when there are fewer than 25, else the chi-square statistic (|b − c| − 1)² / (b + c) with 1 dof."""
    from scipy.stats import binomtest, chi2

    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired predictions differ in shape: {a.shape} vs {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = only_a + only_b
    if n == 0:
        return McNemar(0, 0, 1.0, "exact")
    if n < EXACT_BELOW:
        return McNemar(only_a, only_b, float(binomtest(only_a, n, 0.5).pvalue), "exact")
    stat = (abs(only_a - only_b) - 1) ** 2 / n
    return McNemar(only_a, only_b, float(chi2.sf(stat, 1)), "chi2")


# Comparisons summarised per spec: the design's gains (with McNemar per subset and draw) and the cost
# of quantization (original − quantized), which says whether the spec leaves room for a gain.
COMPARISONS: tuple[tuple[str, str, str, str], ...] = tuple(("gain", g.name, g.minuend, g.subtrahend) for g in GAINS) + (
    ("cost", "cost_agnostic", "original", "quant_agnostic"),
    ("cost", "cost_aware", "original", "quant_aware"),
    ("cost", "cost_finetuned", "finetuned", "finetuned_quant"),
)
GAIN_COLUMNS = [
    "kind", "comparison", "minuend", "subtrahend", "mode", "n_subsets", "n_draws", "mean_pp", "ci_low", "ci_high",
    "wilcoxon_p", "draw_sd_pp", "subsets_positive", "minuend_top1", "subtrahend_top1",
    "mcnemar_tests", "mcnemar_below_05", "note",
]
MCNEMAR_COLUMNS = ["comparison", "mode", "subset", "draw", "n_images", "only_minuend", "only_subtrahend", "p", "test"]


def _by_subset(table: pd.DataFrame, column: str) -> tuple[list[str], np.ndarray]:
    """subset ids and the S x D matrix of `column` (rows in draw order)."""
    wide = table.pivot(index="subset", columns="draw", values=column).sort_index()
    return list(wide.index), wide.to_numpy(np.float64)


def gain_statistics(
    table: pd.DataFrame, correct: dict[str, np.ndarray], *, seed: int, n_boot: int = 10000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, mcnemar) for one spec's long table (one row per subset and draw).

    summary: one row per comparison and mode with the mean difference over subsets (pp), its
    hierarchical-bootstrap 95 % CI, the Wilcoxon signed-rank p over the per-subset means, the pooled
    draw-to-draw SD of the difference, how many subsets had a positive mean difference, the mean top-1
    of both sides, and (gains) how many per-(subset, draw) McNemar tests gave p < 0.05.
    mcnemar: per gain, mode, subset and draw, McNemar's test on the two models' test predictions, from
    `correct["<subset>/<variant>/top1_<mode>"]` (draws x images, see laq.stages.evaluate_checkpoints).
    """
    summary, tests = [], []
    for kind, name, a, b in COMPARISONS:
        if f"{a}_top1_all" not in table or f"{b}_top1_all" not in table:
            continue  # a condition this run did not make (quantization.conditions)
        for mode in ("all", "sub"):
            ids, ga = _by_subset(table, f"{a}_top1_{mode}")
            _, gb = _by_subset(table, f"{b}_top1_{mode}")
            g = ga - gb
            ok = np.isfinite(g).all(axis=1)
            mean, lo, hi = hierarchical_bootstrap(g, n_boot=n_boot, seed=seed)
            rows = []
            if kind == "gain":
                for sid in ids:
                    ca, cb = correct[f"{sid}/{a}/top1_{mode}"], correct[f"{sid}/{b}/top1_{mode}"]
                    for d in range(ca.shape[0]):
                        t = mcnemar(ca[d], cb[d])
                        rows.append({"comparison": name, "mode": mode, "subset": sid, "draw": d, "n_images": ca.shape[1],
                                     "only_minuend": t.only_a, "only_subtrahend": t.only_b, "p": t.p, "test": t.test})
                tests += rows
            summary.append({
                "kind": kind, "comparison": name, "minuend": a, "subtrahend": b, "mode": mode,
                "n_subsets": int(ok.sum()), "n_draws": int(g.shape[1]),
                "mean_pp": mean, "ci_low": lo, "ci_high": hi,
                "wilcoxon_p": wilcoxon_p(g[ok].mean(axis=1)), "draw_sd_pp": pooled_draw_sd(g),
                "subsets_positive": int((g[ok].mean(axis=1) > 0).sum()),
                "minuend_top1": float(np.mean(ga[ok])) if ok.any() else float("nan"),
                "subtrahend_top1": float(np.mean(gb[ok])) if ok.any() else float("nan"),
                "mcnemar_tests": len(rows) if kind == "gain" else None,
                "mcnemar_below_05": sum(r["p"] < 0.05 for r in rows) if kind == "gain" else None,
                "note": OVERLAP_NOTE,
            })
    return pd.DataFrame(summary, columns=GAIN_COLUMNS), pd.DataFrame(tests, columns=MCNEMAR_COLUMNS)
