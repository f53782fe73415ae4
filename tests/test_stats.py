import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from laq.stats import (
    DIFFERENCES,
    STAT_COLUMNS,
    VARIANTS,
    fit_log_curve,
    figure_statistics,
    log_fit,
    mean_with_ci,
    spearman,
    spearman_with_ci,
    write_statistics,
)



def test_every_variant_has_a_style_and_one_definition():
    from laq.design import VARIANTS as DESIGN_VARIANTS
    from laq.plots.style import VARIANT_STYLES
    from laq.tables import VARIANTS as TABLE_VARIANTS

    assert VARIANTS is DESIGN_VARIANTS and TABLE_VARIANTS is DESIGN_VARIANTS  # imported, not copied
    assert tuple(VARIANT_STYLES) == DESIGN_VARIANTS


# ------------------------------------------------------------------------------------------ log fit


def test_log_fit_recovers_a_known_curve():
    x = np.geomspace(0.3, 90, 40)
    a, b, c = 2.5, 0.7, 60.0
    y = a * np.log(b * x) + c
    fit = log_fit(x, y)
    assert fit.ok and fit.n == 40
    assert fit.a == pytest.approx(a, rel=1e-10)
    # b is fixed by convention to 1/median(x); the curve itself is what must match.
    assert fit.b == pytest.approx(1 / np.median(x))
    assert fit.c == pytest.approx(a * np.log(b * np.median(x)) + c, rel=1e-10)
    xs = np.geomspace(0.1, 200, 7)
    np.testing.assert_allclose(fit(xs), a * np.log(b * xs) + c, rtol=1e-10)
    assert fit.r2 == pytest.approx(1.0)
    assert fit_log_curve(x, y) == pytest.approx((fit.a, fit.b, fit.c))


def test_log_fit_with_noise_is_close():
    rng = np.random.default_rng(1)
    x = np.exp(rng.uniform(np.log(0.3), np.log(90), 200))
    y = -3.0 * np.log(2.0 * x) + 80 + rng.normal(0, 1.0, x.size)
    a, b, c = fit_log_curve(x, y)
    assert a == pytest.approx(-3.0, abs=0.15)
    assert a * np.log(b * 5.0) + c == pytest.approx(-3.0 * np.log(10.0) + 80, abs=0.4)


@pytest.mark.parametrize(
    "x,y,reason",
    [
        ([5.0, 5.0, 5.0, 5.0], [1, 2, 3, 4], "distinct"),  # all x equal
        ([1.0, 2.0], [1, 2], "distinct"),  # two points
        ([1.0, 2.0, 2.0, 1.0], [1, 2, 3, 4], "distinct"),  # 4 points, 2 distinct x
        ([0.0, 1.0, 2.0, 3.0], [1, 2, 3, 4], "non-positive"),
        ([-1.0, 1.0, 2.0, 3.0], [1, 2, 3, 4], "non-positive"),
        ([1.0, 2.0, 3.0, np.nan], [np.nan, 2, 3, 4], "distinct"),  # NaN leaves 2 usable pairs
        ([np.nan] * 4, [np.nan] * 4, "distinct"),
        ([], [], "distinct"),
    ],
)
def test_log_fit_degenerate_inputs_give_a_reason_not_an_error(x, y, reason):
    fit = log_fit(x, y)
    assert not fit.ok and fit.params is None and reason in fit.reason
    assert fit_log_curve(x, y) is None


def test_log_fit_ignores_nan_pairs():
    x = np.array([0.5, 1.0, 2.0, 4.0, 8.0, np.nan, 3.0])
    y = np.array([1.0, 2.0, 2.5, 4.0, 5.5, 7.0, np.nan])
    keep = np.isfinite(x) & np.isfinite(y)
    assert fit_log_curve(x, y) == pytest.approx(fit_log_curve(x[keep], y[keep]))
    assert log_fit(x, y).n == 5


def test_log_fit_constant_y_is_flat():
    fit = log_fit([1.0, 2.0, 3.0], [7.0, 7.0, 7.0])
    assert fit.ok and fit.a == pytest.approx(0.0, abs=1e-12) and fit.c == pytest.approx(7.0) and math.isnan(fit.r2)


# ----------------------------------------------------------------------------------------- spearman


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_scipy_including_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, 40).astype(float)  # many ties
    y = x + rng.integers(-4, 5, 40)
    rho, lo, hi = spearman_with_ci(x, y, n_boot=500, seed=seed)
    assert rho == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    assert lo <= rho <= hi


def test_spearman_closed_forms():
    x = np.linspace(0.1, 50, 25)
    assert spearman(x, np.exp(x / 10)) == pytest.approx(1.0)  # monotone, not linear
    assert spearman(x, -np.log(x)) == pytest.approx(-1.0)
    rho, lo, hi = spearman_with_ci(x, 3 * x + 1, n_boot=200)
    assert (rho, lo, hi) == pytest.approx((1.0, 1.0, 1.0))
    rho, lo, hi = spearman_with_ci(x, x[::-1], n_boot=200)
    assert (rho, lo, hi) == pytest.approx((-1.0, -1.0, -1.0))


@pytest.mark.parametrize(
    "x,y",
    [([1, 2, 3, 4], [5, 5, 5, 5]), ([2, 2, 2], [1, 2, 3]), ([1], [1]), ([], []), ([np.nan, 1], [1, np.nan])],
)
def test_spearman_undefined_is_nan(x, y):
    assert all(math.isnan(v) for v in spearman_with_ci(x, y, n_boot=50))


def test_spearman_two_points_has_rho_but_no_ci():
    rho, lo, hi = spearman_with_ci([1, 2], [3, 1])
    assert rho == pytest.approx(-1.0) and math.isnan(lo) and math.isnan(hi)


def test_spearman_ci_narrows_with_n_and_is_reproducible():
    rng = np.random.default_rng(4)

    def width(n):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        rho, lo, hi = spearman_with_ci(x, y, n_boot=1000, seed=0)
        assert lo <= rho <= hi
        return hi - lo

    assert width(400) < 0.5 * width(25)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert spearman_with_ci(x, y, seed=3) == spearman_with_ci(x, y, seed=3)
    assert spearman_with_ci(x, y, seed=3) != spearman_with_ci(x, y, seed=4)


def test_spearman_drops_nan_pairs():
    x = np.array([1.0, 2, 3, 4, 5, np.nan])
    y = np.array([2.0, 1, 4, 3, np.nan, 9])
    assert spearman(x, y) == pytest.approx(sps.spearmanr(x[:4], y[:4]).statistic)


# --------------------------------------------------------------------------------------------- mean


def test_mean_with_ci_constant_is_zero_width():
    assert mean_with_ci([0.1] * 7) == (0.1, 0.1, 0.1)


def test_mean_with_ci_matches_normal_theory():
    v = np.random.default_rng(0).normal(10.0, 2.0, 400)
    m, lo, hi = mean_with_ci(v, n_boot=2000, seed=0)
    assert m == pytest.approx(v.mean()) and lo < m < hi
    half = 1.96 * v.std(ddof=1) / np.sqrt(v.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)


def test_mean_with_ci_edge_cases():
    assert all(math.isnan(v) for v in mean_with_ci([]))
    assert all(math.isnan(v) for v in mean_with_ci([np.nan, np.nan]))
    m, lo, hi = mean_with_ci([3.0, np.nan])
    assert m == 3.0 and math.isnan(lo) and math.isnan(hi)


# -------------------------------------------------------------------------------- figure statistics


def crafted_table(n: int = 8) -> pd.DataFrame:
    d = np.geomspace(0.5, 80, n)
    rows = []
    for i in range(n):
        agnostic = 60.0 + i
        row = {"subset": f"similar-k10-{i:02d}", "strategy": "similar", "dist_median": d[i]}
        values = {
            "original": 70.0 + 2 * i,  # strictly increasing with distance
            "quant_agnostic": agnostic,
            "quant_aware": agnostic + (2.0 if i % 2 else 4.0),  # gain: mean 3.0
            "quant_mismatched": agnostic - 1.0,
            "finetuned": 90.0 - i,  # strictly decreasing
            "finetuned_quant": 90.0 - i - 1.5,  # constant cost 1.5
        }
        for v, top1 in values.items():
            row[f"{v}_top1_all"] = top1
            row[f"{v}_top1_sub"] = top1 + 5
            row[f"{v}_top5_all"] = row[f"{v}_top5_sub"] = 99.0
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("mode", ["all", "sub"])
def test_figure_statistics_known_values(mode):
    from laq.design import variants_in

    stats = figure_statistics(crafted_table(), mode, seed=0, n_boot=500)
    assert list(stats.columns) == STAT_COLUMNS
    from laq.stats import COSTS

    have = variants_in(crafted_table().columns)  # the table's variants; the others (e.g. mixtures) are left out
    assert list(stats["variant"]) == list(have) + [name for name, a, b in DIFFERENCES if a in have and b in have] + [
        f"{r}-{q}" for r, q in COSTS if r in have and q in have
    ]
    assert (stats[stats.kind == "cost"]["variant"] != "").all()
    assert set(stats["mode"]) == {mode} and (stats["n_subsets"] == 8).all()
    s = stats.set_index("variant")
    gain = s.loc["quant_aware-quant_agnostic"]
    assert gain["kind"] == "difference" and gain["mean_top1"] == pytest.approx(3.0)
    assert 2.0 <= gain["mean_ci_low"] <= 3.0 <= gain["mean_ci_high"] <= 4.0
    cost = s.loc["finetuned_quant-finetuned"]
    assert (cost["mean_top1"], cost["mean_ci_low"], cost["mean_ci_high"]) == pytest.approx((-1.5, -1.5, -1.5))
    assert math.isnan(cost["spearman_rho"]) and cost["fit_note"] == ""  # constant: no rank correlation, flat fit
    assert s.loc["original", "spearman_rho"] == pytest.approx(1.0)
    assert s.loc["finetuned", "spearman_rho"] == pytest.approx(-1.0)
    offset = 5.0 if mode == "sub" else 0.0
    assert s.loc["original", "mean_top1"] == pytest.approx(77.0 + offset)
    assert s.loc["original", "fit_b"] == pytest.approx(1 / np.median(crafted_table()["dist_median"]))


def test_figure_statistics_degenerate_and_missing_columns():
    t = crafted_table(2).drop(columns=["finetuned_top1_all"])
    stats = figure_statistics(t, "all", seed=0, n_boot=100)
    assert "finetuned" not in set(stats["variant"]) and "finetuned_quant-finetuned" not in set(stats["variant"])
    assert "finetuned-finetuned_quant" not in set(stats["variant"]) and "original-quant_aware" in set(stats["variant"])
    assert stats["fit_note"].str.contains("distinct").all()
    assert stats["fit_a"].isna().all() and stats["rho_ci_low"].isna().all()
    with pytest.raises(ValueError, match="mode"):
        figure_statistics(t, "top5", seed=0)


def test_write_statistics_round_trip(tmp_path):
    stats = figure_statistics(crafted_table(), "all", seed=0, n_boot=200)
    path = tmp_path / "sub" / "stats.csv"
    write_statistics(stats, path)
    back = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(back.columns) == STAT_COLUMNS and len(back) == len(stats)
    np.testing.assert_allclose(back["mean_top1"], stats["mean_top1"], rtol=1e-5)
    assert [p.name for p in path.parent.iterdir()] == ["stats.csv"]  # no temp files left


# ------------------------------------------------------------------------------- paired statistics


def test_hierarchical_bootstrap_equals_a_plain_two_level_loop():
    from laq import seeding
    from laq.stats import hierarchical_bootstrap

    g = np.random.default_rng(5).normal(1.0, 2.0, size=(7, 3))
    mean, lo, hi = hierarchical_bootstrap(g, n_boot=500, seed=3)
    assert mean == pytest.approx(g.mean())
    # the same stream, drawn the plain way: subsets with replacement, then draws within each chosen subset
    gen = seeding.rng(3, "hierarchical-bootstrap")
    si = gen.integers(0, 7, size=(500, 7))
    di = gen.integers(0, 3, size=(500, 7, 3))
    stats = [np.mean([np.mean([g[si[b, j], di[b, j, k]] for k in range(3)]) for j in range(7)]) for b in range(500)]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(stats, [2.5, 97.5])))


def test_hierarchical_bootstrap_with_one_draw_is_the_ordinary_bootstrap():
    from scipy.stats import bootstrap

    from laq.stats import hierarchical_bootstrap

    v = np.random.default_rng(9).normal(0.5, 1.0, 40)
    _, lo, hi = hierarchical_bootstrap(v[:, None], n_boot=20000, seed=1)
    ref = bootstrap((v,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(2)).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.03) and hi == pytest.approx(ref.high, abs=0.03)


def test_hierarchical_bootstrap_widens_with_draw_noise():
    from laq.stats import hierarchical_bootstrap

    rng = np.random.default_rng(4)
    subset_effects = rng.normal(1.0, 0.5, (10, 1))
    quiet = subset_effects + rng.normal(0, 0.01, (10, 3))
    noisy = subset_effects + rng.normal(0, 3.0, (10, 3))
    w = lambda g: np.subtract(*hierarchical_bootstrap(g, n_boot=4000, seed=0)[2:0:-1])  # noqa: E731
    assert w(noisy) > 2 * w(quiet)


def test_hierarchical_bootstrap_degenerate_inputs():
    from laq.stats import hierarchical_bootstrap

    assert all(math.isnan(x) for x in hierarchical_bootstrap(np.zeros((0, 3))))
    m, lo, hi = hierarchical_bootstrap(np.array([[1.0, 3.0]]))
    assert m == 2.0 and math.isnan(lo) and math.isnan(hi)
    m, _, _ = hierarchical_bootstrap(np.array([[1.0, np.nan], [2.0, 4.0]]))  # a subset with a missing draw is dropped
    assert m == 3.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wilcoxon_equals_scipy(seed):
    from laq.stats import wilcoxon_p

    x = np.random.default_rng(seed).normal(0.3, 1.0, 12)
    assert wilcoxon_p(x) == pytest.approx(sps.wilcoxon(x).pvalue)
    assert wilcoxon_p(np.append(x, np.nan)) == pytest.approx(sps.wilcoxon(x).pvalue)  # non-finite values dropped


def test_wilcoxon_exact_small_case_and_undefined():
    from laq.stats import wilcoxon_p

    assert wilcoxon_p([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 32)  # all 5 ranks positive: 2 * 2^-5
    assert math.isnan(wilcoxon_p([0.0, 0.0, 0.0])) and math.isnan(wilcoxon_p([1.0]))


def test_pooled_draw_sd_is_the_root_mean_within_subset_variance():
    from laq.stats import pooled_draw_sd

    g = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 2.0], [0.0, 4.0, 8.0]])
    assert pooled_draw_sd(g) == pytest.approx(np.sqrt((4.0 + 0.0 + 16.0) / 3))
    assert math.isnan(pooled_draw_sd(g[:, :1]))


def test_mcnemar_exact_and_chi2_against_scipy():
    from laq.stats import mcnemar

    def pair(only_a, only_b, both=30, neither=5):
        a = np.array([1] * only_a + [0] * only_b + [1] * both + [0] * neither, dtype=bool)
        b = np.array([0] * only_a + [1] * only_b + [1] * both + [0] * neither, dtype=bool)
        return a, b

    t = mcnemar(*pair(0, 5))
    assert (t.only_a, t.only_b, t.test) == (0, 5, "exact") and t.p == pytest.approx(2 * 0.5**5)
    t = mcnemar(*pair(3, 9))
    assert t.test == "exact" and t.p == pytest.approx(sps.binomtest(3, 12, 0.5).pvalue)
    t = mcnemar(*pair(10, 30))
    assert t.test == "chi2" and t.p == pytest.approx(sps.chi2.sf((abs(10 - 30) - 1) ** 2 / 40, 1))
    assert mcnemar(*pair(0, 0)).p == 1.0


def _long_table(gains_by_subset, draws=3, seed=0):
    """A long table with quant_aware = quant_agnostic + gain and quant_mismatched = agnostic - 1 (both modes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, g in enumerate(gains_by_subset):
        for d in range(draws):
            base = 70 + rng.normal(0, 1)
            row = {"subset": f"s{i:02d}", "draw": d}
            for mode in ("all", "sub"):
                row |= {f"original_top1_{mode}": 80.0, f"quant_agnostic_top1_{mode}": base,
                        f"quant_aware_top1_{mode}": base + g + rng.normal(0, 0.5), f"quant_mismatched_top1_{mode}": base - 1,
                        f"finetuned_top1_{mode}": 90.0, f"finetuned_quant_top1_{mode}": 88.0}
            rows.append(row)
    return pd.DataFrame(rows)


def test_gain_statistics_end_to_end():
    from laq.stats import GAIN_COLUMNS, MCNEMAR_COLUMNS, gain_statistics, hierarchical_bootstrap, wilcoxon_p

    gains = [1.0, 2.0, 3.0, 0.5, 1.5, 2.5]
    table = _long_table(gains)
    n = 50
    rng = np.random.default_rng(1)
    correct = {}
    for i in range(len(gains)):
        for v in ("quant_aware", "quant_agnostic", "quant_mismatched"):
            for mode in ("all", "sub"):
                correct[f"s{i:02d}/{v}/top1_{mode}"] = (rng.random((3, n)) < 0.7).astype(np.uint8)
    summary, tests = gain_statistics(table, correct, seed=0, n_boot=2000)
    assert list(summary.columns) == GAIN_COLUMNS and list(tests.columns) == MCNEMAR_COLUMNS
    row = summary[(summary.comparison == "aware_vs_agnostic") & (summary["mode"] == "all")].iloc[0]
    g = (table.pivot(index="subset", columns="draw", values="quant_aware_top1_all")
         - table.pivot(index="subset", columns="draw", values="quant_agnostic_top1_all")).to_numpy()
    assert row.mean_pp == pytest.approx(g.mean()) and row.n_subsets == 6 and row.n_draws == 3
    assert (row.ci_low, row.ci_high) == pytest.approx(hierarchical_bootstrap(g, n_boot=2000, seed=0)[1:])
    assert row.ci_low > 0  # every subset gained
    assert row.wilcoxon_p == pytest.approx(wilcoxon_p(g.mean(axis=1)))
    assert row.subsets_positive == 6 and row.mcnemar_tests == 6 * 3
    mis = summary[(summary.comparison == "aware_vs_mismatched") & (summary["mode"] == "all")].iloc[0]
    assert mis.mean_pp == pytest.approx(g.mean() + 1, abs=1e-9)
    cost = summary[summary.comparison == "cost_agnostic"].iloc[0]
    assert cost.kind == "cost" and math.isnan(float(cost.mcnemar_tests)) or cost.mcnemar_tests is None
    # every McNemar row is the test of that subset and draw
    t = tests[(tests.comparison == "aware_vs_agnostic") & (tests["mode"] == "all") & (tests.subset == "s02") & (tests.draw == 1)].iloc[0]
    a, b = correct["s02/quant_aware/top1_all"][1].astype(bool), correct["s02/quant_agnostic/top1_all"][1].astype(bool)
    assert (t.only_minuend, t.only_subtrahend) == (int((a & ~b).sum()), int((~a & b).sum()))
    assert "optimistic" in row.note
