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



def test_variants_agree_with_the_table():
    from laq.plots.style import VARIANT_STYLES
    from laq.tables import VARIANTS as TABLE_VARIANTS

    assert VARIANTS == TABLE_VARIANTS == tuple(VARIANT_STYLES)


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
    stats = figure_statistics(crafted_table(), mode, seed=0, n_boot=500)
    assert list(stats.columns) == STAT_COLUMNS
    assert list(stats["variant"]) == list(VARIANTS) + [name for name, _, _ in DIFFERENCES]
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
