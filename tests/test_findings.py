"""Findings sentences are chosen by their numbers: an interval containing 0 is never reported as an effect."""

import pandas as pd
import pytest

from laq.findings import SpecResults, detected, findings, gain_sentence, to_markdown, to_rst
from laq.stats import GAIN_COLUMNS


def gain_row(mean, lo, hi, mode="all", comparison="aware_vs_agnostic", **kw):
    row = dict.fromkeys(GAIN_COLUMNS)
    row.update(kind="gain", comparison=comparison, mode=mode, mean_pp=mean, ci_low=lo, ci_high=hi, wilcoxon_p=0.02,
               n_subsets=12, n_draws=3, draw_sd_pp=1.25, minuend_top1=90.0, subtrahend_top1=88.0,
               mcnemar_tests=36, mcnemar_below_05=4, subsets_positive=9, note="n")
    row.update(kw)
    return pd.Series(row)


@pytest.mark.parametrize("lo,hi,claim", [(0.4, 2.1, True), (-2.1, -0.4, True), (-0.3, 1.9, False), (float("nan"), 1.0, False)])
def test_detected_only_when_the_interval_excludes_zero(lo, hi, claim):
    assert detected(lo, hi) is claim


def test_gain_sentence_wording_follows_the_interval():
    s = gain_sentence(gain_row(1.234, 0.41, 2.07), "against calibration on all classes", "At g2")
    assert "raised top-1 by +1.2 pp [95 % CI +0.4, +2.1]" in s and "Wilcoxon p = 0.02" in s and "12 subsets × 3 draws" in s
    s = gain_sentence(gain_row(-1.0, -1.9, -0.2), "x", "At g2")
    assert "changed top-1 by -1.0 pp" in s and "lowered" not in s  # no "lowered by -1.0"
    s = gain_sentence(gain_row(0.6, -0.3, 1.5), "x", "At g2")
    assert s.startswith("At g2: no effect detected") and "raised" not in s and "+0.6 pp [95 % CI -0.3, +1.5]" in s
    assert "draw-to-draw SD 1.2 pp" in s or "draw-to-draw SD 1.3 pp" in s


def test_gain_sentence_says_when_the_interval_and_the_wilcoxon_test_disagree():
    quiet = gain_sentence(gain_row(0.6, -0.3, 1.5, wilcoxon_p=0.2), "x", "At g2")
    assert "Wilcoxon test over subset means" not in quiet and quiet.endswith("the interval contains 0.")
    loud = gain_sentence(gain_row(0.6, -0.3, 1.5, wilcoxon_p=0.016), "x", "At g2")
    assert loud.startswith("At g2: no effect detected") and "p < 0.05: more draws or subsets would settle it." in loud
    unconfirmed = gain_sentence(gain_row(1.0, 0.2, 1.8, wilcoxon_p=0.09), "x", "At g2")
    assert "raised top-1" in unconfirmed and unconfirmed.endswith("does not confirm it.")
    confirmed = gain_sentence(gain_row(1.0, 0.2, 1.8, wilcoxon_p=0.01), "x", "At g2")
    assert "confirm" not in confirmed and confirmed.endswith("draw-to-draw SD 1.2 pp.")


def _spec(name, cost, gain_ci):
    table = pd.DataFrame([{"subset": f"{st}-k4-0{i}", "strategy": st, "size": 4, "draw": d, "method": "gpfq",
                           "bits_schedule": "uniform", "bits_min": 2, "bits_max": 2, "bits_mean": 2.0}
                          for st in ("similar", "random") for i in range(2) for d in range(3)])
    rows = []
    for comparison in ("aware_vs_agnostic", "aware_vs_mismatched"):
        for mode in ("all", "sub"):
            rows.append(gain_row(sum(gain_ci) / 2, *gain_ci, mode=mode, comparison=comparison))
    for comparison in ("cost_agnostic", "cost_aware", "cost_finetuned"):
        for mode in ("all", "sub"):
            rows.append(gain_row(cost, cost - 1, cost + 1, mode=mode, comparison=comparison, kind="cost",
                                 minuend_top1=95.0, subtrahend_top1=95.0 - cost, mcnemar_tests=None))
    stats = pd.DataFrame([{"kind": "variant", "variant": "quant_agnostic", "spearman_rho": 0.7, "rho_ci_low": 0.2,
                           "rho_ci_high": 0.9, "n_subsets": 4},
                          {"kind": "variant", "variant": "quant_aware", "spearman_rho": 0.1, "rho_ci_low": -0.5,
                           "rho_ci_high": 0.6, "n_subsets": 4}])
    return SpecResults(name, table, pd.DataFrame(rows), stats)


def test_findings_carry_the_numbers_and_caveats():
    specs = [_spec("gpfq2", 6.04, (0.5, 2.5)), _spec("gpfq3", 0.4, (-0.4, 0.8))]
    sections = findings(specs, {"top1": 96.43, "per_class_top1": dict.fromkeys("abcd", 1.0)}, model="resnet8",
                        dataset="glyphs100", calibration_images=32)
    text = to_markdown("Findings", sections)
    assert "4 class subsets of 4 classes (2 similar, 2 random), each quantized from 3 independent calibration draws of 32 images" in text
    assert "96.4 % top-1" in text and "optimistic" in text
    assert "## gpfq2 (GPFQ, 2 bits) — headline" in text
    assert "from 95.0 % to 89.0 %" in text and "a cost of 6.0 pp" in text
    assert text.count("raised top-1 by +1.5 pp [95 % CI +0.5, +2.5]") == 4  # gpfq2: both gains, both modes
    assert text.count("no effect detected") == 4  # gpfq3: every interval contains 0
    assert "leaves little room" in text.split("## gpfq3")[1] and "leaves little room" not in text.split("## gpfq3")[0]
    assert "McNemar p < 0.05 in 4 of 36" in text
    assert "rose with the subset's median inter-class distance (Spearman ρ = +0.70" in text
    assert "No monotone relation was detected between the top-1 (all classes) of the label-aware" in text
    rst = to_rst("Findings", sections)
    from docutils.core import publish_parts

    html = publish_parts(rst, writer="html", settings_overrides={"halt_level": 2})["body"]  # no rst warnings
    assert "raised top-1 by +1.5 pp" in html


# ----------------------------------------------------------------- issue 21: both metrics, controls, falsifiers


def test_lead_sentence_gives_both_metrics():
    from laq.findings import lead_sentence

    s = lead_sentence(gain_row(2.5, 1.0, 4.2), gain_row(0.35, -0.28, 1.06, mode="sub"), "against x", "At g2")
    assert "+2.5 pp [95 % CI +1.0, +4.2] over all classes (detected)" in s
    assert "+0.3 pp [95 % CI -0.3, +1.1] restricted to the subset’s classes (not detected)" in s or "+0.4 pp" in s


def test_a_null_states_its_minimum_detectable_effect():
    s = gain_sentence(gain_row(0.2, -0.1, 0.6, mde_pp=0.83, draw_noise_share=0.95), "x", "At g3")
    assert "no effect detected" in s and "±0.83 pp would have been detected with 80 % power" in s and "95%" in s
    assert "minimum detectable" not in gain_sentence(gain_row(1.0, 0.2, 1.8, mde_pp=0.83), "x", "At g3")
    # identical subset means (a model that predicts one class everywhere): no yardstick, and no "±0.00 pp" claim
    flat = gain_sentence(gain_row(0.0, 0.0, 0.0, mde_pp=0.0), "x", "At g3")
    assert "±0.00" not in flat and "do not vary at all, so no minimum detectable effect can be given" in flat


def test_class_aware_interval_is_named_when_it_disagrees():
    s = gain_sentence(gain_row(1.0, 0.2, 1.8, class_ci_low=-0.4, class_ci_high=2.3), "x", "At g2")
    assert "class-aware interval" in s and "contains 0" in s
    same = gain_sentence(gain_row(1.0, 0.2, 1.8, class_ci_low=0.1, class_ci_high=2.3), "x", "At g2")
    assert "class-aware" not in same


def test_decomposition_sentence_carries_both_parts():
    from laq.findings import decomposition_sentence

    dec = pd.DataFrame([{"comparison": "aware_vs_agnostic", "component": c, "mean_pp": m, "ci_low": m - 1, "ci_high": m + 1,
                         "share": m / 2.5, "minuend_outside_pct": 4.0, "subtrahend_outside_pct": 8.1}
                        for c, m in (("all", 2.5), ("within", 0.35), ("outside", 2.15))])
    s = decomposition_sentence(dec, "aware_vs_agnostic", "against all", "Quantized (label-agnostic)")
    assert "(+2.5 pp), +0.3 pp" in s or "(+2.5 pp), +0.4 pp" in s
    assert "14% of it is accuracy within" in s and "86% of it is out-of-subset predictions avoided" in s
    assert "8.1 % of the subsets' test images, the label-aware model for 4.0 %" in s
    assert decomposition_sentence(dec[dec.component != "outside"], "aware_vs_agnostic", "x", "y") is None


def _controls(gain_ci, prior_ci):
    rows = [gain_row(sum(gain_ci) / 2, *gain_ci), gain_row(0.3, -0.3, 1.0, mode="sub")]
    for suffix in ("prior", "restricted"):
        rows.append(gain_row(sum(prior_ci) / 2, *prior_ci, comparison=f"aware_vs_agnostic_{suffix}", kind="control",
                             mde_pp=0.9))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("gain_ci,prior_ci,verdict", [
    ((1.0, 4.2), (-0.5, 0.8), "vanishes against the prior-corrected"),
    ((1.0, 4.2), (-3.0, -1.0), "vanishes against the prior-corrected"),
    ((1.0, 4.2), (0.4, 1.2), "remains against the prior-corrected"),
    ((-0.5, 1.0), (-0.5, 0.8), "no detected all-classes advantage"),
])
def test_the_prior_corrected_control_says_whether_the_advantage_vanishes(gain_ci, prior_ci, verdict):
    from laq.findings import control_sentences

    out = control_sentences(_controls(gain_ci, prior_ci), "aware_vs_agnostic", "At g2")
    assert len(out) == 3 and verdict in out[-1]
    assert "log((0.99/k) / (0.01/(C−k)))" in out[0] and "restricted to the subset's classes" in out[1]


@pytest.mark.parametrize("lo,hi,ref,verdict", [
    (-0.3, 0.9, 2.5, "held"), (0.4, 1.5, 2.5, "did not hold"), (-0.5, 3.0, 2.5, "undetermined"),
    (-0.5, 0.5, float("nan"), "undetermined"), (float("nan"), float("nan"), 2.5, "undetermined"),
    (-1.5, -0.5, 2.5, "held"), (-0.3, 0.9, -0.2, "undetermined"),
])
def test_falsifier_verdicts_follow_the_interval(lo, hi, ref, verdict):
    from laq.findings import falsifier

    s = falsifier("no restricted gain", gain_row((lo + hi) / 2, lo, hi, mode="sub"), ref, "restricted gain")
    assert s.startswith("Falsifier “no restricted gain”: " + verdict + " (")
