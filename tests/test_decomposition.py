"""The all-classes gain split into within-subset and out-of-subset parts, the subset-prior control, the
minimum detectable effect and the class-aware bootstrap (issue 21)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from laq.metrics import SUBSET_PRIOR_MASS, subset_correct, subset_flags, subset_prior_shift
from laq.stats import (
    class_bootstrap,
    decomposition,
    decomposition_statistics,
    gain_statistics,
    hierarchical_bootstrap,
    mde,
    mde_for_design,
    per_class_gain,
    variance_components,
)


def _logits(rng, n, c, ties=True):
    lg = rng.integers(0, 4, (n, c)).astype(np.float32) if ties else rng.normal(size=(n, c)).astype(np.float32)
    lg[::17, 3] = np.nan  # non-finite rows
    return lg


@pytest.mark.parametrize("ties", [True, False])
def test_all_classes_correct_is_restricted_correct_and_not_outside(ties):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 12, 400)
    lg = _logits(rng, 400, 12, ties)
    for classes in ([0, 3, 7], [1, 2, 3, 4, 5, 6], list(range(12))):
        c, f = subset_correct(lg, labels, classes), subset_flags(lg, labels, classes)
        np.testing.assert_array_equal(c["top1_all"], c["top1_sub"] & ~f["outside"])
        # outside against a plain loop: the best outside class scores at least the best subset class
        rows = np.flatnonzero(np.isin(labels, classes))
        others = [j for j in range(12) if j not in classes]
        ref = [bool(others) and np.isfinite(lg[i]).all() and max(lg[i, others]) >= max(lg[i, classes]) for i in rows]
        np.testing.assert_array_equal(f["outside"], ref)


def test_subset_prior_shift_and_prior_top1_against_a_plain_loop():
    assert subset_prior_shift(10, 100) == pytest.approx(math.log(0.99 / 10) - math.log(0.01 / 90))
    assert subset_prior_shift(5, 5) == 0.0 and SUBSET_PRIOR_MASS == 0.99
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 300)
    lg = rng.normal(0, 4, (300, 10))
    classes = [2, 5, 8]
    f = subset_flags(lg, labels, classes)
    rows = np.flatnonzero(np.isin(labels, classes))
    shift = subset_prior_shift(3, 10)
    ref = [int(np.argmax(lg[i] + np.isin(np.arange(10), classes) * shift)) == labels[i] for i in rows]
    np.testing.assert_array_equal(f["top1_prior"], ref)
    c = subset_correct(lg, labels, classes)
    # between the two: the prior never loses a right all-classes answer and never beats restriction
    assert np.all(f["top1_prior"] >= c["top1_all"]) and np.all(f["top1_prior"] <= c["top1_sub"])
    assert f["top1_prior"].sum() > c["top1_all"].sum()
    # a prior of mass -> 1 is restriction itself
    np.testing.assert_array_equal(subset_flags(lg, labels, classes, mass=1 - 1e-15)["top1_prior"], c["top1_sub"])


def _evaluated(rng, subsets, draws=3, num_classes=12, per_class=20, better=("quant_aware",)):
    """Per-image arrays as laq.stages.evaluate_checkpoints writes them, from random logits."""
    correct, rows = {}, []
    for sid, classes in subsets.items():
        labels = np.repeat(classes, per_class)
        correct[f"{sid}/labels"] = labels.astype(np.int64)
        acc = {}
        for v in ("quant_aware", "quant_agnostic", "quant_mismatched"):
            flags = {k: [] for k in ("top1_all", "top1_sub", "outside", "top1_prior")}
            for _ in range(draws):
                lg = rng.normal(0, 1, (len(labels), num_classes))
                lg[np.arange(len(labels)), labels] += 1.5
                if v in better:
                    lg[:, classes] += 0.7  # fewer out-of-subset predictions
                f = {**subset_correct(lg, labels, classes), **subset_flags(lg, labels, classes)}
                for k in flags:
                    flags[k].append(f[k])
            for k, x in flags.items():
                correct[f"{sid}/{v}/{k}"] = np.stack(x).astype(np.uint8)
            acc[v] = {m: 100 * correct[f"{sid}/{v}/{m}"].mean(axis=1) for m in ("top1_all", "top1_sub")}
        for d in range(draws):
            row = {"subset": sid, "draw": d}
            for v in acc:
                for mode in ("all", "sub"):
                    row[f"{v}_top1_{mode}"] = acc[v][f"top1_{mode}"][d]
            rows.append(row)
    return pd.DataFrame(rows), correct


SUBSETS = {"s0": [0, 1, 2], "s1": [2, 3, 4], "s2": [5, 6, 7], "s3": [7, 8, 0], "s4": [9, 10, 11]}


def test_the_decomposition_sums_to_the_all_classes_gain_exactly():
    table, correct = _evaluated(np.random.default_rng(2), SUBSETS)
    dec = decomposition(correct, sorted(SUBSETS), "quant_aware", "quant_agnostic")
    np.testing.assert_array_equal(dec.all, dec.within + dec.outside)  # integers: exact
    assert dec.all.dtype.kind == "i" and dec.all.shape == (5, 3)
    stats = decomposition_statistics(table, correct, seed=0, n_boot=500).set_index(["comparison", "component"])
    part = stats.loc["aware_vs_agnostic"]
    assert part.loc["all", "mean_pp"] == pytest.approx(part.loc["within", "mean_pp"] + part.loc["outside", "mean_pp"], abs=1e-9)
    assert part.loc["within", "share"] + part.loc["outside", "share"] == pytest.approx(1.0)
    # the within part is the restricted gain, the whole the all-classes gain of the table
    g = lambda mode: (table[f"quant_aware_top1_{mode}"] - table[f"quant_agnostic_top1_{mode}"]).mean()  # noqa: E731
    assert part.loc["within", "mean_pp"] == pytest.approx(g("sub")) and part.loc["all", "mean_pp"] == pytest.approx(g("all"))
    # the aware model's logits favour its subset: fewer images predicted outside it
    assert part.loc["all", "minuend_outside_pct"] < part.loc["all", "subtrahend_outside_pct"]
    assert part.loc["outside", "mean_pp"] > 0
    # the same resamples for the three: the CI bounds of the parts need not add, but each lies around its mean
    for comp in ("all", "within", "outside"):
        assert part.loc[comp, "ci_low"] <= part.loc[comp, "mean_pp"] <= part.loc[comp, "ci_high"]


def test_controls_compare_against_the_prior_corrected_and_restricted_subtrahend():
    table, correct = _evaluated(np.random.default_rng(3), SUBSETS)
    summary, _ = gain_statistics(table, correct, seed=0, n_boot=500)
    ids = sorted(SUBSETS)
    for suffix, flag in (("prior", "top1_prior"), ("restricted", "top1_sub")):
        row = summary[summary.comparison == f"aware_vs_agnostic_{suffix}"].iloc[0]
        ref = np.array([100 * (correct[f"{s}/quant_aware/top1_all"].mean(1) - correct[f"{s}/quant_agnostic/{flag}"].mean(1))
                        for s in ids])
        assert row.kind == "control" and row["mode"] == "all" and row.mean_pp == pytest.approx(ref.mean())
        assert row.subtrahend == f"quant_agnostic+{suffix}"
        assert (row.ci_low, row.ci_high) == pytest.approx(hierarchical_bootstrap(ref, n_boot=500, seed=0)[1:])
    restricted = summary[summary.comparison == "aware_vs_agnostic_restricted"].iloc[0]
    prior = summary[summary.comparison == "aware_vs_agnostic_prior"].iloc[0]
    assert restricted.mean_pp <= prior.mean_pp  # restriction is the prior at full strength
    gain = summary[(summary.comparison == "aware_vs_agnostic") & (summary["mode"] == "all")].iloc[0]
    assert prior.mean_pp < gain.mean_pp and np.isfinite(gain.class_ci_low) and np.isfinite(gain.mde_pp)


# ------------------------------------------------------------------------------------------ power


def test_variance_components_closed_form():
    g = np.array([[1.0, 3.0], [2.0, 2.0], [6.0, 4.0]])
    var_means, draw_var, between = variance_components(g)
    assert var_means == pytest.approx(np.var([2.0, 2.0, 5.0], ddof=1))
    assert draw_var == pytest.approx(np.mean([2.0, 0.0, 2.0]))
    assert between == pytest.approx(var_means - draw_var / 2)
    assert all(math.isnan(x) for x in variance_components(g[:1]))


def test_mde_against_a_simulation_of_the_design():
    """Data drawn as the design is (subset effect + draw noise), the true mean at the MDE: the t-test on
    the subset means detects it 80 % of the time, and the findings' bootstrap CI about as often."""
    s, d, sd_u, sd_d = 12, 3, 0.6, 2.0
    effect = mde_for_design(sd_u**2, sd_d**2, s, d)
    assert effect == pytest.approx(mde(math.sqrt(sd_u**2 + sd_d**2 / d), s))
    assert 2.8 * math.sqrt((sd_u**2 + sd_d**2 / d) / s) < effect < 3.2 * math.sqrt((sd_u**2 + sd_d**2 / d) / s)
    rng = np.random.default_rng(0)
    reps = 20000
    g = effect + rng.normal(0, sd_u, (reps, s, 1)) + rng.normal(0, sd_d, (reps, s, d))
    p = sps.ttest_1samp(g.mean(axis=2), 0.0, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.80, abs=0.012)
    # more draws shrink only the draw-noise part
    assert mde_for_design(sd_u**2, sd_d**2, s, 30) < effect and mde_for_design(sd_u**2, 0.0, s, 3) == pytest.approx(
        mde(sd_u, s))
    detected = 0
    for r in range(300):
        _, lo, hi = hierarchical_bootstrap(g[r], n_boot=1000, seed=r)
        detected += lo > 0 or hi < 0
    assert 0.72 <= detected / 300 <= 0.92


def test_mde_edge_cases():
    assert math.isnan(mde(1.0, 1)) and math.isnan(mde(float("nan"), 10)) and mde(0.0, 10) == 0.0
    assert mde(2.0, 10) == pytest.approx(2 * mde(1.0, 10))


# ------------------------------------------------------------------------------ class-aware bootstrap


def test_per_class_gain_against_a_plain_loop():
    rng = np.random.default_rng(4)
    labels = np.repeat([1, 4, 6], [5, 7, 3])
    a, b = rng.integers(0, 2, (2, 15)), rng.integers(0, 2, (2, 15))
    g, n = per_class_gain(a, b, labels, np.arange(8))
    assert n.tolist() == [0, 5, 0, 0, 7, 0, 3, 0]
    for d in range(2):
        for c in (1, 4, 6):
            assert g[d, c] == pytest.approx(100 * (a[d, labels == c] - b[d, labels == c]).mean())
    # the image-weighted mean over classes is the subset's gain
    assert (g * n).sum(axis=1) / n.sum() == pytest.approx(100 * (a - b).mean(axis=1))


def test_class_bootstrap_equals_a_plain_loop():
    from laq import seeding

    rng = np.random.default_rng(5)
    s, d, c = 4, 2, 6
    count = rng.integers(0, 3, (s, c)).astype(float)
    count[:, 0] = 2  # every subset holds class 0
    gain = rng.normal(0, 3, (s, d, c))
    n_boot = 50
    mean, lo, hi = class_bootstrap(gain, count, n_boot=n_boot, seed=7)
    per = [(gain[i].mean(0) * count[i]).sum() / count[i].sum() for i in range(s)]
    assert mean == pytest.approx(np.mean(per))
    gen = seeding.rng(7, "class-bootstrap")
    si, di = gen.integers(0, s, size=(n_boot, s)), gen.integers(0, d, size=(n_boot, s, d))
    w = gen.multinomial(c, np.full(c, 1.0 / c), size=n_boot)
    stats = []
    for b in range(n_boot):
        vals = []
        for j in range(s):
            i = si[b, j]
            h = np.mean([gain[i, di[b, j, k]] for k in range(d)], axis=0)
            weight = w[b] * count[i]
            if weight.sum() > 0:
                vals.append((weight * h).sum() / weight.sum())
        stats.append(np.mean(vals) if vals else np.nan)
    stats = np.array(stats)
    ref = np.percentile(stats[np.isfinite(stats)], [2.5, 97.5])
    assert (lo, hi) == pytest.approx(tuple(ref))


def test_class_bootstrap_widens_when_subsets_share_a_class_effect():
    """Every subset holds class 0, whose gain is large and varies: the subsets are not independent, and
    resampling classes (the class-aware CI) says so where resampling subsets alone does not."""
    rng = np.random.default_rng(6)
    s, d, c = 12, 3, 40
    count = np.zeros((s, c))
    for i in range(s):
        count[i, 0] = 10
        count[i, 1 + rng.choice(c - 1, 3, replace=False)] = 10
    class_effect = rng.normal(0, 1, c)
    class_effect[0] = 12.0
    gain = class_effect[None, None, :] + rng.normal(0, 0.5, (s, d, c))
    subset_gain = np.einsum("sdc,sc->sd", gain, count) / count.sum(1)[:, None]
    _, hlo, hhi = hierarchical_bootstrap(subset_gain, n_boot=2000, seed=0)
    mean, clo, chi = class_bootstrap(gain, count, n_boot=2000, seed=0)
    assert mean == pytest.approx(subset_gain.mean())
    assert chi - clo > 2 * (hhi - hlo)


def test_decomposition_figure_from_the_table_and_when_empty(tmp_path):
    from laq.plots.mechanism import plot_decomposition
    from laq.stats import DECOMPOSITION_COLUMNS

    table, correct = _evaluated(np.random.default_rng(7), SUBSETS)
    dec = decomposition_statistics(table, correct, seed=0, n_boot=200)
    assert plot_decomposition(dec, tmp_path / "d.png", title="t") == []
    assert (tmp_path / "d.png").stat().st_size > 0 and (tmp_path / "d.svg").exists()
    warnings = plot_decomposition(pd.DataFrame(columns=DECOMPOSITION_COLUMNS), tmp_path / "e.png", title="t")
    assert warnings == ["the decomposition table is empty"] and (tmp_path / "e.png").exists()


# ------------------------------------------------------------------------------ cost vs distance


def test_partial_spearman_against_rank_residuals():
    from laq.stats import partial_spearman_with_ci

    rng = np.random.default_rng(8)
    z = rng.normal(size=40)
    x = z + rng.normal(0, 0.5, 40)
    y = -z + 0.6 * x + rng.normal(0, 0.5, 40)
    rho, lo, hi = partial_spearman_with_ci(x, y, z, n_boot=500)
    rx, ry, rz = (sps.rankdata(v) for v in (x, y, z))
    design = np.column_stack([rz, np.ones(40)])
    res = lambda v: v - design @ np.linalg.lstsq(design, v, rcond=None)[0]  # noqa: E731
    assert rho == pytest.approx(sps.pearsonr(res(rx), res(ry))[0], abs=1e-10)
    assert lo < rho < hi


def test_partial_spearman_removes_a_shared_driver():
    """Cost and distance both follow the base accuracy: raw rho is strong, the partial one is not."""
    from laq.stats import partial_spearman_with_ci, spearman

    rng = np.random.default_rng(9)
    base = rng.normal(size=200)
    dist, cost = base + rng.normal(0, 0.3, 200), -base + rng.normal(0, 0.3, 200)
    assert spearman(dist, cost) < -0.7
    rho, lo, hi = partial_spearman_with_ci(dist, cost, base, n_boot=500)
    assert abs(rho) < 0.2 and lo < 0 < hi
    assert all(math.isnan(v) for v in partial_spearman_with_ci([1, 2, 3], [1, 2, 3], [3, 1, 2]))


def test_figure_statistics_gives_the_cost_with_base_accuracy_partialled_out():
    from laq.stats import figure_statistics, partial_spearman_with_ci

    rng = np.random.default_rng(10)
    n = 12
    t = pd.DataFrame({"dist_median": rng.uniform(1, 9, n), "original_top1_all": rng.uniform(80, 99, n)})
    t["quant_agnostic_top1_all"] = t["original_top1_all"] - rng.uniform(1, 8, n)
    stats = figure_statistics(t, "all", seed=0, n_boot=300)
    row = stats[(stats.kind == "cost") & (stats.variant == "original-quant_agnostic")].iloc[0]
    cost = t["original_top1_all"] - t["quant_agnostic_top1_all"]
    assert row.mean_top1 == pytest.approx(cost.mean())
    ref = partial_spearman_with_ci(t["dist_median"], cost, t["original_top1_all"], n_boot=300, seed=0)
    assert (row.partial_rho, row.partial_ci_low, row.partial_ci_high) == pytest.approx(ref)
    assert stats[stats.kind == "variant"]["partial_rho"].isna().all()


# ---------------------------------------------------------------------------------- dose-response


def _sweep(slope_all, seed=0):
    rng = np.random.default_rng(seed)
    tables = {}
    for bits in (2, 3):
        rows = []
        for k in (2, 4, 8, 16):
            for i in range(5):
                for d in range(3):
                    base = 70 + rng.normal()
                    rows.append({"subset": f"random-k{k}-{i:02d}", "draw": d, "size": k, "bits_mean": float(bits),
                                 "calibration_images": 32, "quant_agnostic_top1_all": base, "quant_agnostic_top1_sub": base,
                                 "quant_aware_top1_all": base + 3 + slope_all * np.log2(k) + rng.normal(0, 0.3),
                                 "quant_aware_top1_sub": base + 0.5 + rng.normal(0, 0.3)})
        tables[f"g{bits}"] = pd.DataFrame(rows)
    return tables


def test_size_slope_recovers_a_known_slope_and_its_interval_covers_it():
    from laq.stats import size_slope

    rng = np.random.default_rng(11)
    k = np.repeat([2, 4, 8, 16, 32], 6).astype(float)
    g = 2.0 - 0.5 * np.log2(k)[:, None] + rng.normal(0, 0.2, (30, 3))
    slope, lo, hi = size_slope(g, k, n_boot=1000)
    assert slope == pytest.approx(np.polyfit(np.log2(k), g.mean(1), 1)[0])
    assert lo < -0.5 < hi and hi < 0
    assert all(math.isnan(v) for v in size_slope(g[:6], k[:6]))  # one size: no slope


def test_dose_response_cells_and_the_k_falsifier():
    from laq.findings import dose_section
    from laq.stats import DOSE_COLUMNS, dose_response

    dose = dose_response(_sweep(-0.6), seed=0, n_boot=400)
    assert list(dose.columns) == DOSE_COLUMNS
    cells = dose[dose.kind == "gain"]
    assert len(cells) == 2 * 4 * 2  # specs x sizes x modes
    c = cells[(cells.spec == "g2") & (cells["size"] == 4) & (cells["mode"] == "all")].iloc[0]
    t = _sweep(-0.6)["g2"]
    t = t[t["size"] == 4]
    assert c.mean_pp == pytest.approx((t.quant_aware_top1_all - t.quant_agnostic_top1_all).mean()) and c.n_subsets == 5
    assert c.bits_mean == 2.0 and c.calibration_images == 32
    sec = dose_section(dose)
    text = "\n".join(sec.bullets)
    assert "by bits per weight (mean over layers)" in text and "by classes per subset (k)" in text
    assert "g2: Falsifier “the gain does not shrink as k grows” (top-1 over all classes): did not hold" in text
    assert "(top-1 restricted to the subset's classes): undetermined" in text or "restricted to the subset's classes): held" in text
    flat = dose_section(dose_response(_sweep(0.4, seed=1), seed=0, n_boot=400))
    assert "g3: Falsifier “the gain does not shrink as k grows” (top-1 over all classes): held" in "\n".join(flat.bullets)


def test_dose_figure_with_and_without_a_sweep(tmp_path):
    from laq.plots.mechanism import plot_dose_response, varying_doses
    from laq.stats import dose_response

    dose = dose_response(_sweep(-0.2), seed=0, n_boot=100)
    assert [c for c, _ in varying_doses(dose)] == ["bits_mean", "size"]
    assert plot_dose_response(dose, tmp_path / "d.png", title="t") == [] and (tmp_path / "d.svg").exists()
    one = dose_response({"g2": _sweep(0.0)["g2"].query("size == 4")}, seed=0, n_boot=100)
    assert plot_dose_response(one, tmp_path / "e.png", title="t") == ["no dose varies in this run"]


def test_smoke_run_decomposes_its_gains_and_leads_with_both_metrics(smoke_run):
    from laq.tables import load_arrays

    root = smoke_run / "results" / "glyphs100" / "seed-0"
    correct = load_arrays(str(root / "eval" / "tiny" / "spec-gpfq4_correct.safetensors"))
    table = pd.read_csv(root / "tables" / "tiny_gpfq4.csv")
    ids = sorted(table["subset"].unique())
    for sid in ids:
        for v in ("quant_aware", "quant_agnostic", "quant_mismatched", "finetuned_quant"):
            a, s, o = (correct[f"{sid}/{v}/{k}"].astype(bool) for k in ("top1_all", "top1_sub", "outside"))
            np.testing.assert_array_equal(a, s & ~o)  # image by image
            assert correct[f"{sid}/{v}/top1_prior"].shape == a.shape == (2, len(correct[f"{sid}/labels"]))
    dec = decomposition(correct, ids, "quant_aware", "quant_agnostic")
    np.testing.assert_array_equal(dec.all, dec.within + dec.outside)
    parts = pd.read_csv(root / "tables" / "tiny_gpfq4_decomposition.csv")
    assert set(parts["component"]) == {"all", "within", "outside"}
    gains = pd.read_csv(root / "tables" / "tiny_gpfq4_gains.csv")
    assert {"aware_vs_agnostic_prior", "aware_vs_agnostic_restricted"} <= set(gains["comparison"])
    assert gains[gains.kind == "gain"]["mde_pp"].notna().all()
    text = (root / "findings.md").read_text()
    lead = text.split("## gpfq4")[1].split("\n- ")
    assert "co-primary result" in lead[1] and "over all classes" in lead[1] and "restricted to the subset" in lead[1]
    assert "a cost of" in lead[2] and "out-of-subset predictions avoided" in lead[3] and "prior" in lead[4]
    assert "would have been detected with 80 % power" in text and "Falsifier “no restricted gain”" in text
    assert (root / "figures" / "tiny_gpfq4_decomposition.png").stat().st_size > 1000
    assert (root / "figures" / "tiny_dose_response.png").stat().st_size > 1000


# ------------------------------------------------------------------------------------- seeds pooled


def test_seed_bootstrap_equals_a_plain_three_level_loop_in_distribution():
    """Against a plain loop (seeds, then subsets, then draws): the same mean and, with many resamples,
    the same interval; and a seed-to-seed spread widens the interval beyond the within-seed one."""
    from laq.stats import seed_bootstrap

    rng = np.random.default_rng(12)
    groups = [rng.normal(mu, 1.0, (8, 3)) for mu in (0.0, 1.5, 3.0)]
    mean, lo, hi = seed_bootstrap(groups, n_boot=20000, seed=0)
    assert mean == pytest.approx(np.mean([g.mean() for g in groups]))
    loop = []
    for _ in range(20000):
        chosen = [groups[i] for i in rng.integers(0, 3, 3)]
        vals = []
        for g in chosen:
            rows = g[rng.integers(0, 8, 8)]
            vals.append(np.mean([r[rng.integers(0, 3, 3)].mean() for r in rows]))
        loop.append(np.mean(vals))
    ref = np.percentile(loop, [2.5, 97.5])
    assert (lo, hi) == pytest.approx(tuple(ref), abs=0.1)
    _, wlo, whi = hierarchical_bootstrap(np.concatenate(groups), n_boot=5000, seed=0)
    assert hi - lo > 2 * (whi - wlo)
    assert all(math.isnan(v) for v in seed_bootstrap([groups[0]])[1:]) and math.isnan(seed_bootstrap([])[0])


def test_pooled_gains_over_seeds():
    from laq.stats import POOLED_COLUMNS, pooled_gains

    tables = {s: _sweep(0.0, seed=s)["g2"].query("size == 4") for s in (0, 1, 2)}
    pooled = pooled_gains(tables, n_boot=500)
    assert list(pooled.columns) == POOLED_COLUMNS and len(pooled) == 2 * 4  # modes x (3 seeds + pooled)
    row = pooled[(pooled["mode"] == "all") & (pooled.level == "pooled")].iloc[0]
    per = [(t.quant_aware_top1_all - t.quant_agnostic_top1_all).mean() for t in tables.values()]
    assert row.n_seeds == 3 and row.n_subsets == 15 and row.mean_pp == pytest.approx(np.mean(per))
    seeds = pooled[(pooled["mode"] == "all") & (pooled.level == "seed")]
    assert seeds["seed"].tolist() == [0, 1, 2] and seeds["mean_pp"].to_numpy() == pytest.approx(per)
    assert row.seed_sd_pp == pytest.approx(np.std(per, ddof=1)) and row.ci_low < row.mean_pp < row.ci_high


def test_findings_pool_over_seeds():
    from laq.findings import pooled_findings, seed_table, to_markdown
    from laq.stats import mde, pooled_gains

    tables = {s: _sweep(0.0, seed=s)["g2"].query("size == 4").assign(seed=s, device="cpu") for s in (0, 1, 2)}
    pooled = pooled_gains(tables, n_boot=300)
    every = pd.concat(tables.values(), ignore_index=True)
    sections = pooled_findings({"gpfq2": pooled}, every, {0: 96.0, 1: 95.5, 2: 94.25}, model="m", dataset="d")
    text = to_markdown("F", sections)
    r = pooled[(pooled["mode"] == "all") & (pooled.level == "pooled")].iloc[0]
    s0 = pooled[(pooled["mode"] == "all") & (pooled.level == "seed")].iloc[0]
    assert "3 study seeds (0, 1, 2), each with its own base model m (top-1 over all classes of d: seed 0: 96.0 %, " in text
    assert "seed 2: 94.2 %), class distances, 5 subsets and 3 calibration draws per condition" in text
    assert "Every row was computed on one device set (cpu)." in text
    assert "## Pooled over seeds" in text and "gpfq2, 3 seeds, 15 subsets" in text
    assert f"{r.mean_pp:+.1f} pp [95 % CI {r.ci_low:+.1f}, {r.ci_high:+.1f}] top-1 over all classes (detected; seed 0: {s0.mean_pp:+.1f} pp" in text
    # the pooled MDE is a t-test's on the seed means
    assert r.mde_pp == pytest.approx(mde(r.seed_sd_pp, 3))
    flat = pooled.assign(ci_low=-1.0, ci_high=1.0)
    text = to_markdown("F", pooled_findings({"gpfq2": flat}, every, {0: 96.0, 1: 95.5, 2: 94.25}, model="m", dataset="d"))
    assert f"not detected; ±{r.mde_pp:.2f} pp would have been detected with 80 % power by a t-test on the 3 seed means" in text

    table = seed_table({"gpfq2": pooled}).splitlines()
    assert table[0] == "| | seed 0 | seed 1 | seed 2 | pooled | t over seeds |" and len(table) == 2 + 2
    assert table[2].startswith("| gpfq2: aware_vs_agnostic (all) | " + f"{s0.mean_pp:+.1f} [{s0.ci_low:+.1f}, {s0.ci_high:+.1f}]")
    assert table[2].endswith(f"{r.mean_pp:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}] | [{r.t_ci_low:+.1f}, {r.t_ci_high:+.1f}] |")


def test_a_pooled_gain_the_seed_means_do_not_confirm_is_not_called_detected():
    """Three seeds: the bootstrap interval can exclude 0 while the t-interval over the seed means (scipy's)
    does not; the findings then say "not confirmed", never "detected"."""
    from scipy.stats import t as student_t

    from laq.findings import pooled_findings, to_markdown
    from laq.stats import pooled_gains, t_interval

    means = [1.9, 2.3, 0.1]
    lo, hi = student_t.interval(0.95, 2, loc=np.mean(means), scale=np.std(means, ddof=1) / np.sqrt(3))
    assert t_interval(means) == pytest.approx((lo, hi)) and all(math.isnan(v) for v in t_interval([1.0]))
    rng = np.random.default_rng(3)
    tables = {}
    for s, mu in enumerate(means):
        rows = [{"subset": f"random-k4-{i:02d}", "draw": d, "seed": s, "device": "cpu",
                 "quant_agnostic_top1_all": 70.0, "quant_agnostic_top1_sub": 80.0,
                 "quant_aware_top1_all": 70.0 + mu + rng.normal(0, 0.05), "quant_aware_top1_sub": 80.0 + mu + rng.normal(0, 0.05)}
                for i in range(12) for d in range(3)]
        tables[s] = pd.DataFrame(rows)
    pooled = pooled_gains(tables, n_boot=2000)
    r = pooled[(pooled["mode"] == "all") & (pooled.level == "pooled")].iloc[0]
    assert r.ci_low > 0 and r.t_ci_low < 0 and r.t_ci_low == pytest.approx(lo, abs=0.1)  # the two disagree here
    text = to_markdown("F", pooled_findings({"g": pooled}, pd.concat(tables.values()), {0: 90.0, 1: 90.0, 2: 90.0},
                                            model="m", dataset="d"))
    assert "(not confirmed: the bootstrap interval excludes 0 but the t-interval over the 3 seed means" in text
    assert "(detected" not in text


def test_spearman_mde_against_a_simulation():
    from laq.stats import mde_spearman

    n = 20
    rho = mde_spearman(n)
    assert 0.55 < rho < 0.65 and math.isnan(mde_spearman(4)) and mde_spearman(200) < 0.25
    rng = np.random.default_rng(13)
    r = 2 * np.sin(np.pi * rho / 6)  # the Pearson correlation of a normal pair whose Spearman rho is `rho`
    hits = 0
    for _ in range(3000):
        x = rng.normal(size=n)
        y = r * x + math.sqrt(1 - r * r) * rng.normal(size=n)
        hits += sps.spearmanr(x, y).pvalue < 0.05
    assert hits / 3000 == pytest.approx(0.80, abs=0.04)
