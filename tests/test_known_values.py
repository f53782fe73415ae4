"""Known-value and independent-reference tests for code a mutation check found untested: each would fail
if the one-line bug named in its docstring were made (benchmarks/mutation_check.py applies them)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from laq.design import METRICS, VARIANTS


def _table(original=90.0, agnostic=80.0, aware=84.0, mismatched=78.0, finetuned=95.0, ft_quant=91.0, n_subsets=4, draws=2):
    """A long table whose every variant has a known accuracy (sub = all − 10), plus a per-subset wobble."""
    values = {"original": original, "quant_agnostic": agnostic, "quant_aware": aware, "quant_mismatched": mismatched,
              "finetuned": finetuned, "finetuned_quant": ft_quant}
    rows = []
    for s in range(n_subsets):
        for d in range(draws):
            wobble = 0.5 * (s - (n_subsets - 1) / 2)
            row = {"subset": f"random-k2-{s:02d}", "strategy": "random", "size": 2, "draw": d, "dist_median": 1.0 + s}
            for v in VARIANTS:  # any further control variant of the design gets the label-agnostic accuracy
                row[f"{v}_top1_all"] = values.get(v, agnostic) + (wobble if v.startswith("quant") else 0.0)
                row[f"{v}_top1_sub"] = row[f"{v}_top1_all"] - 10.0
                row[f"{v}_top5_all"] = row[f"{v}_top5_sub"] = 99.0
            rows.append(row)
    return pd.DataFrame(rows)


def _correct(table, n=40):
    """Per-image correctness consistent with nothing in particular (the gains' McNemar input)."""
    rng = np.random.default_rng(0)
    out = {}
    for sid in table["subset"].unique():
        for v in VARIANTS:
            for mode in ("all", "sub"):
                out[f"{sid}/{v}/top1_{mode}"] = rng.integers(0, 2, (table["draw"].nunique(), n)).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------ cost of quantization


def test_the_cost_of_quantization_is_original_minus_quantized():
    """Mutant: the cost's minuend and subtrahend swapped (a cost of −10 pp)."""
    from laq.stats import gain_statistics

    table = _table()
    summary, _ = gain_statistics(table, _correct(table), seed=0, n_boot=200)
    s = summary.set_index(["comparison", "mode"])
    # wobbles cancel over subsets: exact known values
    assert s.loc[("cost_agnostic", "all"), "mean_pp"] == pytest.approx(10.0)
    assert s.loc[("cost_aware", "all"), "mean_pp"] == pytest.approx(6.0)
    assert s.loc[("cost_finetuned", "sub"), "mean_pp"] == pytest.approx(4.0)
    assert s.loc[("aware_vs_agnostic", "all"), "mean_pp"] == pytest.approx(4.0)
    assert s.loc[("aware_vs_mismatched", "sub"), "mean_pp"] == pytest.approx(6.0)
    assert s.loc[("cost_agnostic", "all"), "minuend_top1"] == pytest.approx(90.0)
    assert s.loc[("cost_agnostic", "all"), "subtrahend_top1"] == pytest.approx(80.0)


def test_the_findings_cost_sentence_reads_the_label_agnostic_row_over_all_classes():
    """Mutant: the cost sentence reads cost_aware, or mode sub, instead of cost_agnostic over all classes."""
    from laq.findings import SpecResults, findings
    from laq.stats import COMPARISONS, GAIN_COLUMNS, OVERLAP_NOTE

    # every (comparison, mode) gets its own mean, so the sentence's number says which row it read
    means = {(c[1], mode): round(0.4 + 0.1 * i, 1) for i, (c, mode) in enumerate((c, m) for c in COMPARISONS for m in ("all", "sub"))}
    means.update({("cost_agnostic", "all"): 7.3, ("cost_agnostic", "sub"): 2.9, ("cost_aware", "all"): 4.4,
                  ("cost_aware", "sub"): 1.7, ("cost_finetuned", "all"): 3.6})
    rows = []
    for (comp, mode), m in means.items():
        kind = next(c[0] for c in COMPARISONS if c[1] == comp)
        rows.append({"kind": kind, "comparison": comp, "minuend": "original", "subtrahend": "quant_agnostic", "mode": mode,
                     "n_subsets": 4, "n_draws": 2, "mean_pp": m, "ci_low": m - 0.5, "ci_high": m + 0.5, "wilcoxon_p": 0.1,
                     "draw_sd_pp": 0.3, "subsets_positive": 4, "minuend_top1": 90.0 + m, "subtrahend_top1": 90.0,
                     "mcnemar_tests": 8 if kind == "gain" else None, "mcnemar_below_05": 1 if kind == "gain" else None,
                     "note": OVERLAP_NOTE})
    gains = pd.DataFrame(rows, columns=GAIN_COLUMNS)
    table = _table().assign(method="gpfq", bits_schedule="uniform", bits_min=2, bits_max=2, bits_mean=2.0,
                            alphabet="gpfq", granularity="tensor")
    stats = pd.DataFrame(columns=["kind", "variant", "spearman_rho", "rho_ci_low", "rho_ci_high", "n_subsets"])
    sections = findings([SpecResults("g2", table, gains, stats)], {"top1": 90.0, "per_class_top1": {}},
                        model="m", dataset="d", calibration_images=8)
    bullets = sections[1].bullets
    cost = [b for b in bullets if "cost" in b.lower() and "label-agnostic" in b]
    assert len(cost) == 1, bullets
    assert "7.3 pp" in cost[0] and "97.3 %" in cost[0]
    assert not any(f"{x} pp" in cost[0] for x in ("2.9", "4.4", "1.7", "3.6"))


# ------------------------------------------------------------------------------ McNemar


@pytest.mark.parametrize("only_a, only_b", [(12, 12), (20, 4), (14, 10), (18, 7), (13, 13), (5, 0), (1, 0)])
def test_mcnemar_is_exact_below_25_discordant_pairs_and_chi_square_from_25(only_a, only_b):
    """Mutant: `n < EXACT_BELOW` written `n <= EXACT_BELOW` (25 discordant pairs tested exactly)."""
    from scipy.stats import binom

    from laq.stats import mcnemar

    a = np.array([1] * only_a + [0] * only_b + [1] * 30 + [0] * 7, dtype=bool)
    b = np.array([0] * only_a + [1] * only_b + [1] * 30 + [0] * 7, dtype=bool)
    t = mcnemar(a, b)
    n = only_a + only_b
    assert (t.only_a, t.only_b) == (only_a, only_b)
    if n < 25:
        # two-sided exact binomial p by hand: twice the smaller tail, capped at 1
        k = min(only_a, only_b)
        expected = min(1.0, 2 * binom.cdf(k, n, 0.5))
        assert t.test == "exact" and t.p == pytest.approx(expected, rel=1e-9)
    else:
        stat = (abs(only_a - only_b) - 1) ** 2 / n
        assert t.test == "chi2" and t.p == pytest.approx(math.erfc(math.sqrt(stat / 2)), rel=1e-9)  # chi2(1) tail


def test_mcnemar_boundary_is_at_25():
    from laq.stats import mcnemar

    def test_of(n):
        return mcnemar(np.arange(n) % 2 == 0, np.arange(n) % 2 == 1).test

    assert (test_of(24), test_of(25)) == ("exact", "chi2")


# ------------------------------------------------------------------------------ sparsity


def test_sparsity_is_each_draws_own_and_averages_over_draws():
    """Mutant: every row takes draw 0's sparsity (so the per-subset mean is draw 0's)."""
    from laq.design import QUANTIZED_VARIANTS
    from laq.tables import SPEC_COLUMNS, per_subset, table_rows

    labels = np.repeat(np.arange(4), 5)
    logits = np.eye(4)[labels] * 3.0
    manifest = {"id": "random-k2-00", "strategy": "random", "classes": [0, 1], "class_names": ["a", "b"],
                "dist_min": 1.0, "dist_max": 1.0, "dist_mean": 1.0, "dist_median": 1.0}
    entry = lambda d, s: {"top1_all": 50.0 + d, "top5_all": 90.0, "top1_sub": 60.0, "top5_sub": 99.0, "sha256": "a" * 64, "sparsity": s}
    sparsity = [0.10, 0.40, 0.70]
    quantized = {v: [entry(d, s) for d, s in enumerate(sparsity)] for v in QUANTIZED_VARIANTS}
    quantized["quantization"] = {k: 1 for k in SPEC_COLUMNS}
    finetuned = {"finetuned": [entry(0, 0.0)]}
    rows = table_rows(manifest, (logits, labels), finetuned, quantized, "b" * 64)
    assert [r["sparsity"] for r in rows] == sparsity
    assert per_subset(pd.DataFrame(rows))["sparsity"].iloc[0] == pytest.approx(np.mean(sparsity))


def test_weight_sparsity_counts_exact_zeros_of_conv_and_linear_weights():
    import torch
    from torch import nn

    from laq.evaluate import weight_sparsity

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 4))
    with torch.no_grad():
        model[0].weight.fill_(-1.0)  # negative weights are not zeros
        model[0].weight[0].zero_()  # 9 of 18
        model[3].weight.fill_(1.0)
        model[3].weight[:, :2] = 0  # 8 of 32
        model[1].weight.zero_()  # BatchNorm: not counted
    assert weight_sparsity(model) == pytest.approx((9 + 8) / (18 + 32))


# ------------------------------------------------------------------------------ code bits


@pytest.mark.parametrize("bits, alphabet", [(b, a) for b in range(2, 9) for a in ("gpfq", "signed")])
def test_code_bits_is_the_width_of_2L_plus_1_levels(bits, alphabet):
    """Mutant: code_bits from L instead of 2L + 1 levels (one bit short for the gpfq alphabet)."""
    from laq.quant.spec import code_bits, levels

    L = levels(bits, alphabet)
    assert L == (2 ** (bits - 1) if alphabet == "gpfq" else 2 ** (bits - 1) - 1)
    assert code_bits(L) == math.ceil(math.log2(2 * L + 1))
    assert code_bits(L) == (bits + 1 if alphabet == "gpfq" else bits)  # the README's "b + 1 bits" / "fits b bits"


def test_a_layers_code_bits_and_stored_bits_in_the_layer_table():
    import torch
    from torch import nn

    from laq.quant import QuantSpec, quantize_model

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3))
    res = quantize_model(net, torch.randn(16, 3, 2, 2), QuantSpec(method="rtn", bits=3, alphabet="gpfq", scalar=4.0), progress=False)
    for layer in res.layers:
        assert layer.code_bits == 4 and layer.levels == 4  # 9 levels
        lo, hi = int(layer.codes.min()), int(layer.codes.max())
        assert layer.stored_bits == (hi - lo).bit_length() <= 4  # the packed width spans the codes used
        assert layer.row()["levels"] == 9


# ------------------------------------------------------------------------------ the quantize job


def _quantize_job(monkeypatch, tmp_path, method, calibration_mode="fixed", draws=2):
    """Run laq.stages.quantize_subset on a tiny model, recording every quantization it makes."""
    import torch

    from laq import stages
    from laq.data.store import Split
    from laq.design import quantized_runs
    from laq.models.resnet import CifarResNet

    calls = []
    real = stages.quantize_checkpoint

    def spy(model, meta, calib, spec, **kw):
        calls.append({"model": id(model), "n": len(calib), "seed": kw["seed"], "per_layer": kw.get("per_layer")})
        return real(model, meta, calib, {**spec, "method": "rtn"}, **kw)  # the job's flow is the method's; RTN is fast

    monkeypatch.setattr(stages, "quantize_checkpoint", spy)
    torch.manual_seed(0)
    base, ft = CifarResNet(8, 2, 6).eval(), CifarResNet(8, 2, 6).eval()
    meta = {"arch": "cifar_resnet:8:2", "num_classes": 6, "input_size": 8, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": [str(i) for i in range(6)], "preprocess": "resize"}
    rng = np.random.default_rng(0)
    train = Split(rng.integers(0, 255, (60, 8, 8, 3), dtype=np.uint8), np.repeat(np.arange(6), 10))
    outputs = {(v, d): str(tmp_path / f"{v}-d{d}.safetensors") for v, d in quantized_runs(draws)}
    spec = {"name": "q", "method": method, "bits": 3}
    stages.quantize_subset((base, meta), (ft, meta), train, {"id": "random-k2-00", "classes": [0, 1]}, spec, outputs,
                           num_classes=6, n_images=4, seed=7, batch_size=8, device="cpu",
                           provenance_of={"base": {}, "finetuned": {}}, calibration_mode=calibration_mode)
    return calls, outputs, (id(base), id(ft))


def test_a_data_free_method_quantizes_each_model_once(monkeypatch, tmp_path):
    """Mutant: the data-free rule inverted (RTN quantized per condition and draw, GPFQ only once)."""
    import json

    from laq.io import sha256_file

    calls, outputs, (base, ft) = _quantize_job(monkeypatch, tmp_path, "rtn")
    assert sorted(c["model"] for c in calls) == sorted([base, ft])  # once per model, whatever the variants x 2 draws
    codes = {k: sha256_file(p) for k, p in outputs.items()}
    base_runs = [k for k in outputs if k[0] != "finetuned_quant"]
    assert len({json.dumps(json.loads(open(outputs[k].replace(".safetensors", ".json")).read())["quantization"]["calibration"]["data_free"]) for k in base_runs}) == 1
    # the same codes under every condition (only the header's variant and draw differ): compare the layer tables
    tables = {(open(outputs[k].replace(".safetensors", "_layers.csv")).read()) for k in base_runs}
    assert len(tables) == 1 and len(codes) == len(outputs) > 2


def test_a_calibrated_method_quantizes_every_condition_and_draw(monkeypatch, tmp_path):
    calls, outputs, (base, ft) = _quantize_job(monkeypatch, tmp_path, "gpfq")
    assert len(calls) == len(outputs) > 2 and all(c["n"] >= 4 for c in calls)


def test_calibration_streams_differ_per_condition_and_follow_the_documented_key(monkeypatch, tmp_path):
    """Mutant: the condition left out of a calibration stream's key (the conditions' draws would share
    their random numbers)."""
    import inspect

    from laq import design, seeding

    labels = np.repeat(np.arange(6), 10)
    keyed_on_spec = "spec" in inspect.signature(design.draw_calibration).parameters  # the key named in its docstring
    simple = [c for c in design.CONDITIONS if getattr(getattr(design, "CONDITION_BY_NAME", {}).get(c), "subset_fraction", None) is None]
    for condition in simple:
        for draw in (0, 1):
            kw = dict(seed=3, subset_id="s", draw=draw, **({"spec": "q"} if keyed_on_spec else {}))
            cal = design.draw_calibration(labels, condition, [0, 1], 6, 5, **kw)
            pool = design.calibration_pool(condition, [0, 1], 6, **kw)
            candidates = np.flatnonzero(np.isin(labels, pool))
            # independent reference: the stream laq.seeding's rule names, (seed, "calibration", subset, [spec,] condition, draw)
            key = ("calibration", "s", *(["q"] if keyed_on_spec else []), condition, draw)
            ref = seeding.rng(3, *key).choice(candidates, size=len(cal.indices), replace=False)
            assert list(cal.indices) == sorted(ref.tolist()), (condition, draw)
    # the quantization seeds (stochastic rounding, patch sampling) differ per model, condition and draw
    calls, outputs, _ = _quantize_job(monkeypatch, tmp_path, "gpfq")
    assert len({c["seed"] for c in calls}) == len(calls) == len(outputs)
    # per-layer calibration: every condition and draw has its own sampler key; the fine-tuned model is
    # calibrated on exactly quant_aware's batches (the design)
    calls, outputs, _ = _quantize_job(monkeypatch, tmp_path / "pl", "gpfq", calibration_mode="per_layer", draws=1)
    keys = [c["per_layer"][-1] for c in calls]
    assert len(keys) == len(outputs) and len(set(keys)) == len(keys) - 1
    made = {design.QUANTIZED[[q.variant for q in design.QUANTIZED].index(v)].condition for v, _ in outputs}
    assert {k for key in keys for k in key if k in design.CONDITIONS} == made
