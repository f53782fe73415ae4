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
    assert "lowered top-1 by -1.0 pp" in s
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
