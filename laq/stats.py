"""Statistics of the study: the a·log(b·x)+c fit, Spearman's rho (plain and partial) and means with
bootstrap CIs; the paired gains (hierarchical, class-aware and seed-level bootstraps, Wilcoxon, McNemar,
the minimum detectable effect); the decomposition of an all-classes gain; dose-response cells.

Conventions
-----------
* Non-finite pairs (NaN/inf in x or y) are dropped before anything is computed.
* Confidence intervals are 95 % bootstrap percentile intervals (pairs are resampled together),
  computed vectorised from `laq.seeding.rng(seed, "bootstrap")`, so they are reproducible.
* Whatever is undefined (too few points, constant input) is NaN, never an exception.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

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


def _partial_rows(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Row-wise partial correlation of x and y given z (Pearson on the given values)."""
    rxy, rxz, ryz = _rows_pearson(x, y), _rows_pearson(x, z), _rows_pearson(y, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        den = np.sqrt((1 - rxz**2) * (1 - ryz**2))
        r = np.where(den > 1e-12, (rxy - rxz * ryz) / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def partial_spearman_with_ci(x, y, z, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(rho, low, high): Spearman's rho of x and y with z partialled out (the Pearson correlation of the
    rank residuals of x and y after a linear fit on the ranks of z), and its 95 % bootstrap CI (triples
    resampled together). NaN where undefined (fewer than 4 complete triples, z explaining x or y fully)."""
    x, y, z = (np.asarray(v, dtype=np.float64).ravel() for v in (x, y, z))
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[keep], y[keep], z[keep]
    if x.size < 4:
        return float("nan"), float("nan"), float("nan")
    rho = float(_partial_rows(_rank_rows(x[None]), _rank_rows(y[None]), _rank_rows(z[None]))[0])
    if not np.isfinite(rho):
        return rho, float("nan"), float("nan")
    rng = seeding.rng(seed, "partial-bootstrap")
    boots = [_partial_rows(_rank_rows(x[i]), _rank_rows(y[i]), _rank_rows(z[i])) for i in _boot_indices(rng, x.size, n_boot)]
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
# The cost of quantizing (reference − quantized) against distance, with the reference's accuracy
# partialled out: accuracy vs distance mostly mirrors how hard the subset is for the base model.
COSTS = tuple(("original", q) for q in VARIANTS if q.startswith("quant_")) + (("finetuned", "finetuned_quant"),)
STAT_COLUMNS = [
    "mode", "kind", "variant", "n_subsets", "spearman_rho", "rho_ci_low", "rho_ci_high",
    "mean_top1", "mean_ci_low", "mean_ci_high", "fit_a", "fit_b", "fit_c", "fit_r2", "fit_note",
    "partial_rho", "partial_ci_low", "partial_ci_high",
]


def figure_statistics(table: pd.DataFrame, mode: str, seed: int, *, n_boot: int = 2000) -> pd.DataFrame:
    """The numbers behind the accuracy-vs-distance figure of `mode` ("all" or "sub"), one row per series,
    from a table with one row per subset (average the draws first: `laq.tables.per_subset`).

    kind == "variant": top-1 of one variant. kind == "difference": the per-subset paired difference
    named in `variant` (e.g. quant_aware-quant_agnostic, the label-aware gain), in percentage points.
    kind == "cost": the cost of quantizing, reference − quantized (e.g. original-quant_agnostic), with
    partial_rho: its Spearman rho with the distance, the reference's own top-1 partialled out (CI too).
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
    controls: dict[str, np.ndarray] = {}
    for ref, q in COSTS:
        if col(ref) in table and col(q) in table:
            r = pd.to_numeric(table[col(ref)], errors="coerce").to_numpy(np.float64)
            series.append(("cost", f"{ref}-{q}", r - pd.to_numeric(table[col(q)], errors="coerce").to_numpy(np.float64)))
            controls[f"{ref}-{q}"] = r
    rows = []
    for kind, name, y in series:
        xs = x if x is not None else np.full_like(y, np.nan)
        prho, plo, phi = (partial_spearman_with_ci(xs, y, controls[name], n_boot=n_boot, seed=seed) if kind == "cost"
                          else (float("nan"),) * 3)
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
                "partial_rho": prho, "partial_ci_low": plo, "partial_ci_high": phi,
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
    "independent and are optimistic; the class-aware interval (class_ci_low, class_ci_high in the gains table) "
    "resamples the classes too and is named where it disagrees"
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


# ------------------------------------------------------------------------------ power and variance


def variance_components(g) -> tuple[float, float, float]:
    """(var_means, draw_var, between_var) of an S x D gain matrix (subsets with any non-finite value dropped):
    the sample variance of the per-subset means (ddof 1), the pooled within-subset draw variance (ddof 1;
    0 with one draw) and the between-subset variance var_means - draw_var / D (floored at 0).
    NaN where undefined (fewer than 2 subsets)."""
    g = np.asarray(g, dtype=np.float64)
    g = g[np.isfinite(g).all(axis=1)]
    if g.shape[0] < 2 or g.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    var_means = float(np.var(g.mean(axis=1), ddof=1))
    draw_var = float(np.mean(np.var(g, axis=1, ddof=1))) if g.shape[1] > 1 else 0.0
    return var_means, draw_var, max(0.0, var_means - draw_var / g.shape[1])


def mde(sd_means: float, n_subsets: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect (the unit of `sd_means`): the true mean gain that a two-sided one-sample
    t-test on `n_subsets` per-subset means at level `alpha` detects with probability `power`, given the SD
    of those means (which holds both the between-subset spread and the draw noise, sd^2 = between + draw/D).
    Solved exactly with the noncentral t distribution; NaN with fewer than 2 subsets or an undefined SD.
    The findings' CIs come from a bootstrap, which behaves like this test (see tests/test_stats.py)."""
    from scipy.optimize import brentq
    from scipy.stats import nct, t

    if not (n_subsets >= 2 and math.isfinite(sd_means)):
        return float("nan")
    if sd_means == 0:
        return 0.0
    df, crit = n_subsets - 1, float(t.ppf(1 - alpha / 2, n_subsets - 1))

    def gap(nc: float) -> float:
        return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc)) - power

    hi = 4.0
    while (v := gap(hi)) < 0:  # widen the bracket
        hi *= 1.5
    if not math.isfinite(v):  # scipy's nct turns NaN far out in the tail (2 subsets)
        return float("nan")
    return brentq(gap, 0.0, hi) * sd_means / math.sqrt(n_subsets)


def mde_spearman(n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest |Spearman rho| that `n` pairs detect with probability `power` at two-sided level
    `alpha`: Fisher's z with the variance 1.06 / (n - 3) of Spearman's rho (Fieller, Hartley and Pearson
    1957). NaN with fewer than 5 pairs."""
    from scipy.stats import norm

    if n < 5:
        return float("nan")
    return math.tanh((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * math.sqrt(1.06 / (n - 3)))


def mde_for_design(between_var: float, draw_var: float, n_subsets: int, n_draws: int, **kw) -> float:
    """The MDE of a design with `n_subsets` subsets and `n_draws` draws each, from variance components
    (`variance_components`): what more subsets or more draws would buy."""
    return mde(math.sqrt(between_var + draw_var / n_draws), n_subsets, **kw)


# --------------------------------------------------------------------------- class-aware bootstrap
#
# Subsets share classes, and a class's images carry the same class effect into every subset that holds
# it, so subsets are not independent. The class-aware bootstrap resamples both crossed factors (Owen's
# "pigeonhole" bootstrap, conservative for crossed random effects): each replicate resamples subsets (and
# draws within them) as the hierarchical bootstrap does, and independently the classes in use, a class
# drawn m times weighing its images m times in every subset that holds it (0 times: left out). A subset
# whose classes were all left out drops out of that replicate.


def per_class_gain(a: np.ndarray, b: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gain D x C in pp, count C): the mean of a - b per class over one subset's images (draws x images,
    0/1), and the images per class; classes absent from the subset have count 0 and gain 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    onehot = (np.asarray(labels)[:, None] == np.asarray(classes)[None, :]).astype(np.float64)  # images x C
    count = onehot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(count > 0, 100.0 * ((a - b) @ onehot) / count, 0.0)
    return g, count


def class_bootstrap(gain: np.ndarray, count: np.ndarray, *, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the mean over subsets of the per-subset gain, with a 95 % percentile CI from
    the class-aware bootstrap (see above). gain: S x D x C per-class gains (pp), count: S x C images.
    The mean is the image-weighted subset gain averaged over subsets (as `hierarchical_bootstrap`'s)."""
    gain, count = np.asarray(gain, dtype=np.float64), np.asarray(count, dtype=np.float64)
    s, d, c = gain.shape
    used = np.flatnonzero(count.sum(axis=0) > 0)
    if s == 0 or d == 0 or used.size == 0:
        return float("nan"), float("nan"), float("nan")
    gain, count = gain[:, :, used], count[:, used]
    per_subset = np.einsum("sdc,sc->s", gain, count) / d / count.sum(axis=1)
    mean = float(per_subset.mean())
    if s < 2:
        return mean, float("nan"), float("nan")
    gen = seeding.rng(seed, "class-bootstrap")
    u = used.size
    stats, done = [], 0
    rows = max(1, _CHUNK // (s * d * u))
    while done < n_boot:
        k = min(rows, n_boot - done)
        si = gen.integers(0, s, size=(k, s))
        di = gen.integers(0, d, size=(k, s, d))
        w = gen.multinomial(u, np.full(u, 1.0 / u), size=k).astype(np.float64)  # k x u class multiplicities
        h = gain[si[:, :, None], di].mean(axis=2)  # k x s x u: draws resampled, per class
        wn = w[:, None, :] * count[si]  # k x s x u: image weights
        den = wn.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            sub = np.where(den > 0, (wn * h).sum(axis=2) / den, np.nan)
        ok = np.isfinite(sub)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats.append(np.where(ok, sub, 0.0).sum(axis=1) / ok.sum(axis=1))
        done += k
    lo, hi = _percentile_ci(np.concatenate(stats))
    return mean, lo, hi


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


# Comparisons summarised per spec: the design's gains (with McNemar per subset and draw), the cost of
# quantization (original − quantized), which says whether the spec leaves room for a gain, and the
# controls that give the subtrahend the subset knowledge without calibration (see CONTROLS).
COMPARISONS: tuple[tuple[str, str, str, str], ...] = tuple(("gain", g.name, g.minuend, g.subtrahend) for g in GAINS) + (
    ("cost", "cost_agnostic", "original", "quant_agnostic"),
    ("cost", "cost_aware", "original", "quant_aware"),
    ("cost", "cost_finetuned", "finetuned", "finetuned_quant"),
)
# Controls (kind "control", mode "all"), per gain of the design: the minuend's top-1 over all classes
# against the subtrahend given the subset knowledge for free: `_prior` (its logits shifted by the subset's
# class prior, laq.metrics.subset_flags) and `_restricted` (its outputs restricted to the subset: its
# top1_sub). Both come from the per-image arrays of the evaluation.
CONTROLS: tuple[tuple[str, str], ...] = (("prior", "top1_prior"), ("restricted", "top1_sub"))
GAIN_COLUMNS = [
    "kind", "comparison", "minuend", "subtrahend", "mode", "n_subsets", "n_draws", "mean_pp", "ci_low", "ci_high",
    "wilcoxon_p", "draw_sd_pp", "subsets_positive", "minuend_top1", "subtrahend_top1",
    "mcnemar_tests", "mcnemar_below_05", "between_sd_pp", "draw_noise_share", "mde_pp", "class_ci_low", "class_ci_high",
    "note",
]
MCNEMAR_COLUMNS = ["comparison", "mode", "subset", "draw", "n_images", "only_minuend", "only_subtrahend", "p", "test"]
# Decomposition of an all-classes gain (laq.stats.decomposition): within + outside == all, image by image.
DECOMPOSITION_COLUMNS = [
    "comparison", "minuend", "subtrahend", "component", "n_subsets", "n_draws", "mean_pp", "ci_low", "ci_high",
    "share", "minuend_outside_pct", "subtrahend_outside_pct", "minuend_rescuable_pct", "subtrahend_rescuable_pct",
]
COMPONENTS = ("all", "within", "outside")


def _by_subset(table: pd.DataFrame, column: str) -> tuple[list[str], np.ndarray]:
    """subset ids and the S x D matrix of `column` (rows in draw order)."""
    wide = table.pivot(index="subset", columns="draw", values=column).sort_index()
    return list(wide.index), wide.to_numpy(np.float64)


def _flags(correct: Mapping[str, np.ndarray], sid: str, variant: str, flag: str) -> np.ndarray | None:
    a = correct.get(f"{sid}/{variant}/{flag}")
    return None if a is None else np.asarray(a).astype(np.int64)


def _pp_matrix(correct: Mapping[str, np.ndarray], ids: Sequence[str], a: str, fa: str, b: str, fb: str) -> np.ndarray | None:
    """S x D: 100 * (mean of a's `fa` flags − mean of b's `fb` flags) per subset and draw, or None if missing."""
    rows = []
    for sid in ids:
        x, y = _flags(correct, sid, a, fa), _flags(correct, sid, b, fb)
        if x is None or y is None:
            return None
        rows.append(100.0 * (x.sum(axis=1) - y.sum(axis=1)) / max(x.shape[1], 1))
    return np.array(rows, dtype=np.float64)


def _class_ci(correct: Mapping[str, np.ndarray], ids: Sequence[str], a: str, fa: str, b: str, fb: str, *, n_boot: int,
              seed: int) -> tuple[float, float]:
    """The class-aware bootstrap CI of a gain from the per-image arrays; NaN when they are missing."""
    if not ids or any(f"{sid}/labels" not in correct for sid in ids):
        return float("nan"), float("nan")
    classes = np.unique(np.concatenate([correct[f"{sid}/labels"] for sid in ids]))
    gains, counts = [], []
    for sid in ids:
        x, y = _flags(correct, sid, a, fa), _flags(correct, sid, b, fb)
        if x is None or y is None:
            return float("nan"), float("nan")
        g, n = per_class_gain(x, y, correct[f"{sid}/labels"], classes)
        gains.append(g)
        counts.append(n)
    _, lo, hi = class_bootstrap(np.stack(gains), np.stack(counts), n_boot=n_boot, seed=seed)
    return lo, hi


def _summary(kind: str, name: str, a: str, b: str, mode: str, g: np.ndarray, ga: np.ndarray | None, gb: np.ndarray | None,
             *, n_boot: int, seed: int, class_ci: tuple[float, float], tests: list[dict] | None) -> dict:
    ok = np.isfinite(g).all(axis=1)
    mean, lo, hi = hierarchical_bootstrap(g, n_boot=n_boot, seed=seed)
    var_means, draw_var, _ = variance_components(g)
    means = g[ok].mean(axis=1)
    return {
        "kind": kind, "comparison": name, "minuend": a, "subtrahend": b, "mode": mode,
        "n_subsets": int(ok.sum()), "n_draws": int(g.shape[1]),
        "mean_pp": mean, "ci_low": lo, "ci_high": hi,
        "wilcoxon_p": wilcoxon_p(means), "draw_sd_pp": pooled_draw_sd(g),
        "subsets_positive": int((means > 0).sum()),
        "minuend_top1": float(np.mean(ga[ok])) if ga is not None and ok.any() else float("nan"),
        "subtrahend_top1": float(np.mean(gb[ok])) if gb is not None and ok.any() else float("nan"),
        "mcnemar_tests": len(tests) if tests is not None else None,
        "mcnemar_below_05": sum(r["p"] < 0.05 for r in tests) if tests is not None else None,
        "between_sd_pp": math.sqrt(var_means) if math.isfinite(var_means) else float("nan"),
        # an estimate: sampling can put draw_var / D above var_means, so it is capped at 1
        "draw_noise_share": min(1.0, (draw_var / g.shape[1]) / var_means) if math.isfinite(var_means) and var_means > 1e-9 else float("nan"),
        "mde_pp": mde(math.sqrt(var_means), int(ok.sum())) if math.isfinite(var_means) else float("nan"),
        "class_ci_low": class_ci[0], "class_ci_high": class_ci[1],
        "note": OVERLAP_NOTE,
    }


def gain_statistics(
    table: pd.DataFrame, correct: Mapping[str, np.ndarray], *, seed: int, n_boot: int = 10000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, mcnemar) for one spec's long table (one row per subset and draw).

    summary: one row per comparison and mode with the mean difference over subsets (pp), its
    hierarchical-bootstrap 95 % CI, the Wilcoxon signed-rank p over the per-subset means, the pooled
    draw-to-draw SD of the difference, how many subsets had a positive mean difference, the mean top-1
    of both sides, (gains) how many per-(subset, draw) McNemar tests gave p < 0.05, the SD of the
    per-subset means, the share of their variance that is draw noise, the minimum detectable effect at
    80 % power (`mde`) and the class-aware bootstrap CI (`class_bootstrap`; gains and controls only).
    Controls (kind "control", see CONTROLS) follow the gains. Comparisons whose variants the table lacks
    are left out.
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
            rows = None
            if kind == "gain":
                rows = []
                for sid in ids:
                    ca, cb = correct[f"{sid}/{a}/top1_{mode}"], correct[f"{sid}/{b}/top1_{mode}"]
                    for d in range(ca.shape[0]):
                        t = mcnemar(ca[d], cb[d])
                        rows.append({"comparison": name, "mode": mode, "subset": sid, "draw": d, "n_images": ca.shape[1],
                                     "only_minuend": t.only_a, "only_subtrahend": t.only_b, "p": t.p, "test": t.test})
                tests += rows
            flag = f"top1_{mode}"
            cci = _class_ci(correct, ids, a, flag, b, flag, n_boot=n_boot, seed=seed) if kind == "gain" else (math.nan, math.nan)
            summary.append(_summary(kind, name, a, b, mode, ga - gb, ga, gb, n_boot=n_boot, seed=seed, class_ci=cci, tests=rows))
    for g in GAINS:
        if f"{g.minuend}_top1_all" not in table or f"{g.subtrahend}_top1_all" not in table:
            continue
        ids = sorted(table["subset"].unique())
        for suffix, flag in CONTROLS:
            m = _pp_matrix(correct, ids, g.minuend, "top1_all", g.subtrahend, flag)
            if m is None:
                continue  # an evaluation from before the per-image flags
            cci = _class_ci(correct, ids, g.minuend, "top1_all", g.subtrahend, flag, n_boot=n_boot, seed=seed)
            summary.append(_summary("control", f"{g.name}_{suffix}", g.minuend, f"{g.subtrahend}+{suffix}", "all", m,
                                    _accuracy(correct, ids, g.minuend, "top1_all"), _accuracy(correct, ids, g.subtrahend, flag),
                                    n_boot=n_boot, seed=seed, class_ci=cci, tests=None))
    return pd.DataFrame(summary, columns=GAIN_COLUMNS), pd.DataFrame(tests, columns=MCNEMAR_COLUMNS)


def _accuracy(correct: Mapping[str, np.ndarray], ids: Sequence[str], variant: str, flag: str) -> np.ndarray:
    """S x D percent of images with `flag` set."""
    return np.array([100.0 * _flags(correct, sid, variant, flag).mean(axis=1) for sid in ids], dtype=np.float64)


# ------------------------------------------------------------------------------------ decomposition


@dataclass(frozen=True)
class Decomposition:
    """Counts per subset and draw (S x D integer arrays) behind one all-classes gain a − b.

    all     images a gets right over all classes minus those b gets right;
    within  the same restricted to the subset's outputs (the `sub` gain, as counts);
    outside out-of-subset predictions avoided: b's rescuable images minus a's, a model's rescuable
            images being those it predicts as a class outside the subset although its restricted
            prediction is right. Since top1_all == top1_sub & ~outside image by image
            (laq.metrics.subset_flags), all == within + outside exactly, in integers.
    """

    ids: list[str]
    n_images: np.ndarray  # S
    all: np.ndarray
    within: np.ndarray
    outside: np.ndarray
    outside_a: np.ndarray  # images each model predicts outside the subset (S x D)
    outside_b: np.ndarray
    rescuable_a: np.ndarray
    rescuable_b: np.ndarray

    def pp(self, component: str) -> np.ndarray:
        return 100.0 * getattr(self, component) / self.n_images[:, None]


def decomposition(correct: Mapping[str, np.ndarray], ids: Sequence[str], a: str, b: str) -> Decomposition | None:
    """The decomposition of the all-classes gain a − b (see Decomposition), or None when the per-image
    flags are missing (an evaluation from before they existed)."""
    parts: dict[str, list] = {k: [] for k in ("n", "all", "within", "oa", "ob", "ra", "rb")}
    for sid in ids:
        f = {(v, k): _flags(correct, sid, v, k) for v in (a, b) for k in ("top1_all", "top1_sub", "outside")}
        if any(x is None for x in f.values()):
            return None
        ra = (f[a, "top1_sub"] & f[a, "outside"]).sum(axis=1)
        rb = (f[b, "top1_sub"] & f[b, "outside"]).sum(axis=1)
        parts["n"].append(f[a, "top1_all"].shape[1])
        parts["all"].append(f[a, "top1_all"].sum(axis=1) - f[b, "top1_all"].sum(axis=1))
        parts["within"].append(f[a, "top1_sub"].sum(axis=1) - f[b, "top1_sub"].sum(axis=1))
        parts["oa"].append(f[a, "outside"].sum(axis=1))
        parts["ob"].append(f[b, "outside"].sum(axis=1))
        parts["ra"].append(ra)
        parts["rb"].append(rb)
    arr = {k: np.array(v, dtype=np.int64) for k, v in parts.items()}
    return Decomposition(list(ids), arr["n"], arr["all"], arr["within"], arr["rb"] - arr["ra"], arr["oa"], arr["ob"],
                         arr["ra"], arr["rb"])


def decomposition_statistics(table: pd.DataFrame, correct: Mapping[str, np.ndarray], *, seed: int,
                             n_boot: int = 10000) -> pd.DataFrame:
    """Per gain of the design, the all-classes gain and its two parts (COMPONENTS), each with its mean over
    subsets and hierarchical-bootstrap CI (the same resamples for the three: the parts sum to the whole in
    every resample), the part's share of the mean all-classes gain, and each model's percent of images
    predicted outside the subset and of rescuable images (predicted outside, right when restricted)."""
    rows = []
    ids = sorted(table["subset"].unique())
    for g in GAINS:
        if f"{g.minuend}_top1_all" not in table or f"{g.subtrahend}_top1_all" not in table:
            continue
        dec = decomposition(correct, ids, g.minuend, g.subtrahend)
        if dec is None:
            continue
        total = float(dec.pp("all").mean())
        rate = lambda x: float((100.0 * x / dec.n_images[:, None]).mean())  # noqa: E731
        for comp in COMPONENTS:
            mean, lo, hi = (round(x, 9) for x in hierarchical_bootstrap(dec.pp(comp), n_boot=n_boot, seed=seed))  # no -1e-16
            rows.append({
                "comparison": g.name, "minuend": g.minuend, "subtrahend": g.subtrahend, "component": comp,
                "n_subsets": len(ids), "n_draws": int(dec.all.shape[1]), "mean_pp": mean, "ci_low": lo, "ci_high": hi,
                "share": mean / total + 0.0 if total != 0 else float("nan"),  # + 0.0: no "-0 %"
                "minuend_outside_pct": rate(dec.outside_a), "subtrahend_outside_pct": rate(dec.outside_b),
                "minuend_rescuable_pct": rate(dec.rescuable_a), "subtrahend_rescuable_pct": rate(dec.rescuable_b),
            })
    return pd.DataFrame(rows, columns=DECOMPOSITION_COLUMNS)


# ------------------------------------------------------------------------------------ dose-response
#
# A run sweeps a dose when its specs differ in bits or calibration images (typed table columns) or its
# subsets in size (subsets.size as a list): each (spec, subset size) cell gets every gain with its
# hierarchical-bootstrap CI, and each spec with two or more sizes the slope of the gain per doubling of
# k (kind "slope_per_doubling_k"), so "the gain does not shrink as k grows" is decided by an interval.

DOSES: tuple[tuple[str, str], ...] = (("bits_mean", "bits per weight (mean over layers)"),
                                      ("calibration_images", "calibration images per draw"),
                                      ("size", "classes per subset (k)"))
DOSE_COLUMNS = ["kind", "spec", "bits_mean", "calibration_images", "size", "comparison", "mode", "n_subsets", "n_draws",
                "mean_pp", "ci_low", "ci_high"]


def _first_number(table: pd.DataFrame, column: str) -> float:
    if column not in table or table.empty:
        return float("nan")
    v = pd.to_numeric(table[column], errors="coerce").dropna()
    return float(v.iloc[0]) if len(v) else float("nan")


def size_slope(g: np.ndarray, k: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(slope, low, high): the least-squares slope of the per-subset mean gain on log2(k) (pp per doubling
    of the subset size), with a 95 % CI from the hierarchical bootstrap resampling subsets within each
    size (so every size stays in every resample) and draws within subsets. NaN with fewer than 2 sizes."""
    g, k = np.asarray(g, dtype=np.float64), np.asarray(k, dtype=np.float64)
    ok = np.isfinite(g).all(axis=1) & np.isfinite(k) & (k > 0)
    g, k = g[ok], k[ok]
    sizes = np.unique(k)
    if sizes.size < 2:
        return float("nan"), float("nan"), float("nan")
    x = np.log2(k)

    def slopes(m: np.ndarray) -> np.ndarray:  # rows of per-subset means -> OLS slope per row
        xc = x - x.mean()
        return (m - m.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)

    slope = float(slopes(g.mean(axis=1)[None])[0])
    gen = seeding.rng(seed, "size-slope")
    s, d = g.shape
    idx = np.empty((n_boot, s), dtype=np.int64)
    for size in sizes:  # resample within each size, keeping positions
        members = np.flatnonzero(k == size)
        idx[:, members] = members[gen.integers(0, members.size, size=(n_boot, members.size))]
    di = gen.integers(0, d, size=(n_boot, s, d))
    means = g[idx[:, :, None], di].mean(axis=2)
    lo, hi = _percentile_ci(slopes(means))
    return slope, lo, hi


def dose_response(tables: Mapping[str, pd.DataFrame], *, seed: int, n_boot: int = 10000) -> pd.DataFrame:
    """Every gain of every spec per subset size, with the spec's doses from its typed columns, plus the
    slope of each gain per doubling of k where a spec has several sizes (see above)."""
    rows = []
    for spec, table in tables.items():
        doses = {"bits_mean": _first_number(table, "bits_mean"), "calibration_images": _first_number(table, "calibration_images")}
        sizes = table["size"] if "size" in table else pd.Series(np.nan, index=table.index)
        for g in GAINS:
            if f"{g.minuend}_top1_all" not in table or f"{g.subtrahend}_top1_all" not in table:
                continue
            for mode in ("all", "sub"):
                diff = table.assign(_g=pd.to_numeric(table[f"{g.minuend}_top1_{mode}"], errors="coerce")
                                    - pd.to_numeric(table[f"{g.subtrahend}_top1_{mode}"], errors="coerce"), _k=sizes)
                wide = diff.pivot(index="subset", columns="draw", values="_g").sort_index()
                k_of = diff.groupby("subset")["_k"].first().reindex(wide.index).to_numpy(np.float64)
                gm = wide.to_numpy(np.float64)
                for size in sorted(set(k_of[np.isfinite(k_of)])) or [float("nan")]:
                    sel = k_of == size if np.isfinite(size) else np.ones(len(k_of), dtype=bool)
                    mean, lo, hi = hierarchical_bootstrap(gm[sel], n_boot=n_boot, seed=seed)
                    rows.append({"kind": "gain", "spec": spec, **doses, "size": size, "comparison": g.name, "mode": mode,
                                 "n_subsets": int(sel.sum()), "n_draws": gm.shape[1], "mean_pp": mean, "ci_low": lo, "ci_high": hi})
                slope, lo, hi = size_slope(gm, k_of, n_boot=n_boot, seed=seed)
                if np.isfinite(slope):
                    rows.append({"kind": "slope_per_doubling_k", "spec": spec, **doses, "size": float("nan"),
                                 "comparison": g.name, "mode": mode, "n_subsets": int(np.isfinite(k_of).sum()),
                                 "n_draws": gm.shape[1], "mean_pp": slope, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=DOSE_COLUMNS)


# ------------------------------------------------------------------------------------ seeds pooled
#
# With several study seeds (a base model, distances, subsets and draws per seed), the seed is a random
# effect: the pooled gain is the mean over seeds of each seed's mean over subsets, and its interval
# comes from a three-level bootstrap (seeds, then subsets within each chosen seed, then draws).

POOLED_COLUMNS = ["level", "seed", "comparison", "mode", "n_seeds", "n_subsets", "mean_pp", "ci_low", "ci_high", "seed_sd_pp",
                  "t_ci_low", "t_ci_high", "mde_pp"]


def t_interval(values: Sequence[float], *, alpha: float = 0.05) -> tuple[float, float]:
    """The two-sided t confidence interval of the mean of `values` (NaN with fewer than 2)."""
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float("nan"), float("nan")
    half = float(t.ppf(1 - alpha / 2, v.size - 1)) * float(np.std(v, ddof=1)) / math.sqrt(v.size)
    return float(v.mean()) - half, float(v.mean()) + half


def seed_bootstrap(groups: Sequence[np.ndarray], *, n_boot: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean over seeds of each seed's subset-and-draw mean, with a 95 % percentile
    CI from resampling seeds, then subsets within each chosen seed, then draws within each subset (every
    chosen copy of a seed resampled independently). `groups`: one S_i x D_i matrix per seed; subsets with a
    non-finite value are dropped. NaN where undefined (no seed; the CI with fewer than 2 seeds)."""
    mats = [np.asarray(g, dtype=np.float64) for g in groups]
    mats = [m[np.isfinite(m).all(axis=1)] for m in mats]
    mats = [m for m in mats if m.size]
    if not mats:
        return float("nan"), float("nan"), float("nan")
    mean = float(np.mean([m.mean() for m in mats]))
    n = len(mats)
    if n < 2:
        return mean, float("nan"), float("nan")
    gen = seeding.rng(seed, "seed-bootstrap")
    within = np.empty((n, n, n_boot))  # within[g, j]: seed g's bootstrap means when chosen at position j
    for g, m in enumerate(mats):
        s, d = m.shape
        for j in range(n):
            si = gen.integers(0, s, size=(n_boot, s))
            di = gen.integers(0, d, size=(n_boot, s, d))
            within[g, j] = m[si[:, :, None], di].mean(axis=(1, 2))
    pick = gen.integers(0, n, size=(n_boot, n))
    stats = within[pick, np.arange(n)[None, :], np.arange(n_boot)[:, None]].mean(axis=1)
    lo, hi = _percentile_ci(stats)
    return mean, lo, hi


def pooled_gains(tables: Mapping[int, pd.DataFrame], *, seed: int = 0, n_boot: int = 10000) -> pd.DataFrame:
    """Every gain of the design (both modes) per study seed and pooled over them: `tables` maps a seed to
    its long table of one spec (a table with a `seed` column of several values splits with
    `dict(tuple(table.groupby("seed")))`). level "seed": that seed's mean with its hierarchical-bootstrap
    CI; level "pooled" (seed NaN): the mean over seeds with the three-level CI (`seed_bootstrap`), the
    SD of the seeds' means, and the t-interval and MDE of a t-test on those means (`t_interval`, `mde`:
    with few seeds the honest yardstick, since a bootstrap over 3 seeds is too narrow). Columns: POOLED_COLUMNS."""
    rows = []
    for g in GAINS:
        if not all(f"{g.minuend}_top1_all" in t and f"{g.subtrahend}_top1_all" in t for t in tables.values()):
            continue
        for mode in ("all", "sub"):
            mats = []
            for s, t in tables.items():
                _, a = _by_subset(t, f"{g.minuend}_top1_{mode}")
                _, b = _by_subset(t, f"{g.subtrahend}_top1_{mode}")
                mats.append(a - b)
                mean, lo, hi = hierarchical_bootstrap(a - b, n_boot=n_boot, seed=seed)
                rows.append({"level": "seed", "seed": s, "comparison": g.name, "mode": mode, "n_seeds": 1,
                             "n_subsets": int(np.isfinite(a - b).all(axis=1).sum()), "mean_pp": mean, "ci_low": lo,
                             "ci_high": hi, "seed_sd_pp": float("nan"), "t_ci_low": float("nan"), "t_ci_high": float("nan"),
                             "mde_pp": float("nan")})
            mean, lo, hi = seed_bootstrap(mats, n_boot=n_boot, seed=seed)
            per = [r["mean_pp"] for r in rows[-len(mats):]]
            sd = float(np.std(per, ddof=1)) if len(per) > 1 else float("nan")
            rows.append({"level": "pooled", "seed": float("nan"), "comparison": g.name, "mode": mode, "n_seeds": len(mats),
                         "n_subsets": int(sum(r["n_subsets"] for r in rows[-len(mats):])), "mean_pp": mean, "ci_low": lo,
                         "ci_high": hi, "seed_sd_pp": sd, **dict(zip(("t_ci_low", "t_ci_high"), t_interval(per))),
                         "mde_pp": mde(sd, len(per))})
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)
