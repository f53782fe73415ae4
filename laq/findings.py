"""What a run found, in sentences chosen from the numbers (never typed by hand).

The wording follows the confidence intervals: a difference whose 95 % CI contains 0 is reported as
"not detected", never as an effect; a CI that excludes 0 is reported with its direction. Every
number in a sentence comes from the statistics files of the run (`laq.stats.gain_statistics`,
`laq.stats.figure_statistics`). The text is rendered as Markdown (findings.md) and as
reStructuredText (the front page of `snakemake --report`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd

from laq.design import GAINS
from laq.stats import OVERLAP_NOTE
from laq.tables import spec_label

MODE_TEXT = {"all": "top-1 over all classes", "sub": "top-1 restricted to the subset's classes"}


@dataclass
class Section:
    title: str
    bullets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpecResults:
    """One spec's inputs to the findings: its table (long format), gain summary and accuracy statistics (mode all)."""

    name: str
    table: pd.DataFrame
    gains: pd.DataFrame
    statistics: pd.DataFrame


def _pp(x: float) -> str:
    return f"{x:+.1f} pp"


def _ci(lo: float, hi: float) -> str:
    return f"[95 % CI {lo:+.1f}, {hi:+.1f}]" if math.isfinite(lo) and math.isfinite(hi) else "[CI undefined]"


def _p(p: Any) -> str:
    if p is None or not math.isfinite(float(p)):
        return "Wilcoxon p undefined"
    return f"Wilcoxon p = {float(p):.2g}" if float(p) >= 0.001 else "Wilcoxon p < 0.001"


def detected(lo: float, hi: float) -> bool:
    """An effect is claimed only when its 95 % CI is defined and excludes 0."""
    return math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)


def _row(gains: pd.DataFrame, comparison: str, mode: str) -> pd.Series:
    hit = gains[(gains["comparison"] == comparison) & (gains["mode"] == mode)]
    if hit.empty:
        raise KeyError(f"no statistics for {comparison} ({mode})")
    return hit.iloc[0]


def gain_sentence(row: pd.Series, text: str, spec_text: str) -> str:
    """One gain (label-aware minus a control) in words, its wording chosen by its CI."""
    n = f"{int(row['n_subsets'])} subsets × {int(row['n_draws'])} draws"
    nums = f"{_pp(row['mean_pp'])} {_ci(row['ci_low'], row['ci_high'])}, {_p(row['wilcoxon_p'])}, {n}, draw-to-draw SD {row['draw_sd_pp']:.1f} pp"
    what = f"calibrating on the subset's own classes {text} ({MODE_TEXT[row['mode']]})"
    p = float(row["wilcoxon_p"]) if row["wilcoxon_p"] is not None else math.nan
    if detected(row["ci_low"], row["ci_high"]):
        verb = "raised" if row["mean_pp"] > 0 else "lowered"
        s = f"{spec_text}: {what} {verb} top-1 by {nums}"
        # The two tests can disagree; say so rather than let either speak alone.
        return s + ("; the Wilcoxon test over subsets does not confirm it." if p >= 0.05 else ".")
    s = f"{spec_text}: no effect detected of {what}: {nums}; the interval contains 0"
    if p < 0.05:
        s += (", although the Wilcoxon test over subset means, which leaves out the draw-to-draw spread, gives"
              " p < 0.05: more draws or subsets would settle it")
    return s + "."


def cost_sentence(row: pd.Series, spec_text: str) -> str:
    """What quantizing with label-agnostic calibration cost: the headroom any calibration gain lives in."""
    cost = row["mean_pp"]
    s = (
        f"{spec_text}: quantizing with label-agnostic calibration took the base model from {row['minuend_top1']:.1f} % to "
        f"{row['subtrahend_top1']:.1f} % {MODE_TEXT[row['mode']]} on the subsets' test images, a cost of "
        f"{cost:.1f} pp {_ci(row['ci_low'], row['ci_high'])}"
    )
    if math.isfinite(cost) and cost < 1.0:
        s += "; so small a cost leaves little room for any calibration effect"
    return s + "."


def distance_sentence(stats: pd.DataFrame, variant: str, label: str) -> str | None:
    hit = stats[(stats["kind"] == "variant") & (stats["variant"] == variant)]
    if hit.empty:
        return None
    r = hit.iloc[0]
    rho, lo, hi = float(r["spearman_rho"]), float(r["rho_ci_low"]), float(r["rho_ci_high"])
    if not math.isfinite(rho):
        return f"The top-1 of {label} could not be related to the median class distance (too few subsets or constant values)."
    nums = f"Spearman ρ = {rho:+.2f} {_ci(lo, hi).replace('+', '')}, {int(r['n_subsets'])} subsets"
    if detected(lo, hi):
        trend = "rose" if rho > 0 else "fell"
        return f"The top-1 (all classes) of {label} {trend} with the subset's median inter-class distance ({nums})."
    return f"No monotone relation was detected between the top-1 (all classes) of {label} and the subset's median inter-class distance ({nums})."


def findings(
    specs: Sequence[SpecResults], base_metrics: Mapping[str, Any], *, model: str, dataset: str, calibration_images: int
) -> list[Section]:
    """The findings of a run as sections of sentences, the first spec first (the headline)."""
    first = specs[0].table
    counts = first.drop_duplicates("subset")["strategy"].value_counts()
    design = (
        f"{first['subset'].nunique()} class subsets of {int(first['size'].iloc[0])} classes "
        f"({', '.join(f'{n} {s}' for s, n in counts.items())}), each quantized from {first['draw'].nunique()} "
        f"independent calibration draws of {calibration_images} images per condition; base model {model}: "
        f"{float(base_metrics['top1']):.1f} % top-1 over all {len(base_metrics.get('per_class_top1', {})) or '?'} classes of {dataset}."
    )
    out = [Section("Design", [design, f"Caveat: {OVERLAP_NOTE}; McNemar tests are per subset and draw, on that subset's test images."])]
    for i, spec in enumerate(specs):
        label = f"{spec.name} ({spec_label(spec.table)})"
        sec = Section(f"{label}{' — headline' if i == 0 else ''}")
        sec.bullets.append(cost_sentence(_row(spec.gains, "cost_agnostic", "all"), f"At {label}"))
        for gain in GAINS:
            if gain.name not in set(spec.gains["comparison"]):
                continue  # a condition this run did not make
            for mode in ("all", "sub"):
                row = _row(spec.gains, gain.name, mode)
                sentence = gain_sentence(row, gain.text, f"At {label}")
                tests = row["mcnemar_tests"]
                if mode == "all" and tests is not None and math.isfinite(float(tests)) and tests:
                    sentence += f" McNemar p < 0.05 in {int(row['mcnemar_below_05'])} of {int(tests)} subset × draw comparisons."
                sec.bullets.append(sentence)
        for variant, text in (("quant_agnostic", "the label-agnostic quantized model"), ("quant_aware", "the label-aware quantized model")):
            s = distance_sentence(spec.statistics, variant, text)
            if s:
                sec.bullets.append(s)
        out.append(sec)
    return out


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    lines = [f"# {title}", "", "Generated from this run's statistics files; every sentence is chosen by its numbers.", ""]
    for s in sections:
        lines += [f"## {s.title}", ""] + [f"- {b}" for b in s.bullets] + [""]
    return "\n".join(lines)


def to_rst(title: str, sections: Sequence[Section]) -> str:
    lines = [title, "=" * len(title), ""]
    for s in sections:
        lines += [s.title, "-" * max(len(s.title), 3), ""] + [f"- {b}" for b in s.bullets] + [""]
    return "\n".join(lines)
