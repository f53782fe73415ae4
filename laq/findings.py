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

from laq.compute import device_statement
from laq.design import GAINS, VARIANT_LABELS
from laq.stats import OVERLAP_NOTE
from laq.tables import spec_label

MODE_TEXT = {"all": "top-1 over all classes", "sub": "top-1 restricted to the subset's classes"}


@dataclass
class Section:
    title: str
    bullets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpecResults:
    """One spec's inputs to the findings: its table (long format), gain summary, accuracy statistics (mode
    all) and the decomposition of its all-classes gains (laq.stats.decomposition_statistics; None: not made)."""

    name: str
    table: pd.DataFrame
    gains: pd.DataFrame
    statistics: pd.DataFrame
    decomposition: pd.DataFrame | None = None


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


def _has(gains: pd.DataFrame, comparison: str, mode: str = "all") -> bool:
    return bool(((gains["comparison"] == comparison) & (gains["mode"] == mode)).any())


def _num(row: pd.Series, key: str) -> float:
    v = row.get(key)
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _mde_clause(row: pd.Series) -> str:
    """What the design could have detected, for a "no effect detected" sentence (empty if unknown)."""
    m = _num(row, "mde_pp")
    if not math.isfinite(m):
        return ""
    if m == 0:  # identical subset means (e.g. models that all predict the same): a t-test has no yardstick
        return "; the subset means do not vary at all, so no minimum detectable effect can be given"
    s = f"; an effect of ±{m:.2f} pp would have been detected with 80 % power (minimum detectable effect, t-test on the subset means"
    share = _num(row, "draw_noise_share")
    if math.isfinite(share):
        s += f"; draw noise is {min(share, 1.0):.0%} of their variance"
    return s + ")"


def _class_clause(row: pd.Series) -> str:
    """The class-aware interval where it disagrees with the hierarchical one about detection."""
    lo, hi = _num(row, "class_ci_low"), _num(row, "class_ci_high")
    if not (math.isfinite(lo) and math.isfinite(hi)) or detected(lo, hi) == detected(row["ci_low"], row["ci_high"]):
        return ""
    verdict = "excludes" if detected(lo, hi) else "contains"
    return (f" The class-aware interval, which also resamples the classes that subsets share, {verdict} 0 "
            f"({_ci(lo, hi)}).")


def gain_sentence(row: pd.Series, text: str, spec_text: str) -> str:
    """One gain (label-aware minus a control) in words, its wording chosen by its CI."""
    n = f"{int(row['n_subsets'])} subsets × {int(row['n_draws'])} draws"
    nums = f"{_pp(row['mean_pp'])} {_ci(row['ci_low'], row['ci_high'])}, {_p(row['wilcoxon_p'])}, {n}, draw-to-draw SD {row['draw_sd_pp']:.1f} pp"
    what = f"calibrating on the subset's own classes {text} ({MODE_TEXT[row['mode']]})"
    p = float(row["wilcoxon_p"]) if row["wilcoxon_p"] is not None else math.nan
    if detected(row["ci_low"], row["ci_high"]):
        verb = "raised" if row["mean_pp"] > 0 else "changed"  # "changed top-1 by -1.0 pp", not "lowered by -1.0"
        s = f"{spec_text}: {what} {verb} top-1 by {nums}"
        # The two tests can disagree; say so rather than let either speak alone.
        return s + ("; the Wilcoxon test over subsets does not confirm it." if p >= 0.05 else ".") + _class_clause(row)
    s = f"{spec_text}: no effect detected of {what}: {nums}; the interval contains 0"
    if p < 0.05:
        s += (", although the Wilcoxon test over subset means, which leaves out the draw-to-draw spread, gives"
              " p < 0.05: more draws or subsets would settle it")
    return s + _mde_clause(row) + "." + _class_clause(row)


def lead_sentence(all_row: pd.Series, sub_row: pd.Series, text: str, spec_text: str) -> str:
    """The co-primary result: one gain over all classes and restricted to the subset, side by side."""
    def part(r: pd.Series, where: str) -> str:
        state = "detected" if detected(r["ci_low"], r["ci_high"]) else "not detected"
        return f"{_pp(r['mean_pp'])} {_ci(r['ci_low'], r['ci_high'])} {where} ({state})"

    return (f"{spec_text}, co-primary result: calibrating on the subset's own classes {text} changed top-1 by "
            f"{part(all_row, 'over all classes')} and by {part(sub_row, 'restricted to the subset’s classes')}.")


def decomposition_sentence(dec: pd.DataFrame, gain: str, text: str, subtrahend_label: str) -> str | None:
    """The all-classes gain split into its within-subset and out-of-subset parts (laq.stats.decomposition)."""
    d = dec[dec["comparison"] == gain].set_index("component")
    if not {"all", "within", "outside"} <= set(d.index):
        return None
    total, w, o = d.loc["all"], d.loc["within"], d.loc["outside"]

    def part(r: pd.Series) -> str:
        share = f", {r['share']:.0%} of it" if math.isfinite(float(r["share"])) else ""
        return f"{_pp(r['mean_pp'])} {_ci(r['ci_low'], r['ci_high'])}{share}"

    return (f"Of the all-classes gain {text} ({_pp(total['mean_pp'])}), {part(w)} is accuracy within the subset's "
            f"classes and {part(o)} is out-of-subset predictions avoided (images predicted as a class outside the "
            f"subset that restricting the outputs would have got right); the two parts add up to the whole in every "
            f"subset and draw. {subtrahend_label} predicted a class outside the subset for "
            f"{total['subtrahend_outside_pct']:.1f} % of the subsets' test images, the label-aware model for "
            f"{total['minuend_outside_pct']:.1f} %.")


def control_sentences(gains: pd.DataFrame, gain: str, spec_text: str) -> list[str]:
    """The label-aware model against the label-agnostic one given the subset knowledge without calibration,
    and whether the label-aware advantage survives it."""
    out = []
    base = _row(gains, gain, "all")
    how = {
        "prior": "given the subset's class prior instead (its logits shifted toward the subset's classes by "
                 "log((0.99/k) / (0.01/(C−k))), a strength fixed in advance, not tuned on test data)",
        "restricted": "with its outputs restricted to the subset's classes",
    }
    verdicts = {}
    for suffix, text in how.items():
        if not _has(gains, f"{gain}_{suffix}"):
            continue
        r = _row(gains, f"{gain}_{suffix}", "all")
        state = (("raised" if r["mean_pp"] > 0 else "changed") + " top-1 by") if detected(r["ci_low"], r["ci_high"]) else \
            "made no detected difference:"
        s = (f"{spec_text}: against the label-agnostic model {text}, which reaches {r['subtrahend_top1']:.1f} % top-1, "
             f"label-aware calibration (all outputs, {r['minuend_top1']:.1f} %) {state} {_pp(r['mean_pp'])} "
             f"{_ci(r['ci_low'], r['ci_high'])}, {_p(r['wilcoxon_p'])}")
        out.append(s + ("" if detected(r["ci_low"], r["ci_high"]) else _mde_clause(r)) + ".")
        verdicts[suffix] = r
    if "prior" in verdicts:
        r = verdicts["prior"]
        if not (detected(base["ci_low"], base["ci_high"]) and base["mean_pp"] > 0):
            out.append(f"{spec_text}: there is no detected all-classes advantage of label-aware calibration for the "
                       "prior-corrected control to explain.")
        elif detected(r["ci_low"], r["ci_high"]) and r["mean_pp"] > 0:
            out.append(f"{spec_text}: the label-aware advantage over all classes remains against the prior-corrected "
                       "label-agnostic model.")
        else:
            out.append(f"{spec_text}: the label-aware advantage over all classes vanishes against the prior-corrected "
                       "label-agnostic model: a bias shift toward the subset's classes, without any calibration, "
                       "does as well.")
    return out


def falsifier(statement: str, row: pd.Series | None, reference: float, what: str) -> str:
    """"<statement>": held / did not hold / undetermined, from `row`'s interval. Held: the interval reaches
    no higher than 0 at its low end and stays below a positive `reference` (the effect the statement says
    is gone); did not hold: it excludes 0 with a positive sign; undetermined otherwise (too wide to tell,
    nothing to compare with, or no data)."""
    if row is None or not (math.isfinite(_num(row, "ci_low")) and math.isfinite(_num(row, "ci_high"))):
        return f"Falsifier “{statement}”: undetermined ({what}: no interval)."
    lo, hi, m = float(row["ci_low"]), float(row["ci_high"]), float(row["mean_pp"])
    nums = f"{what}: {_pp(m)} {_ci(lo, hi)}"
    if lo > 0:
        verdict = "did not hold"
    elif math.isfinite(reference) and reference > 0 and hi < reference:
        verdict = "held"
        nums += f", below the {_pp(reference)} it is compared with"
    else:
        verdict = "undetermined"
        if math.isfinite(reference) and reference > 0:
            nums += f", its interval reaches the {_pp(reference)} it is compared with"
        elif math.isfinite(reference):
            nums += f"; the {_pp(reference)} it is compared with is no positive effect to lose"
    return f"Falsifier “{statement}”: {verdict} ({nums})."


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
    return (f"No monotone relation was detected between the top-1 (all classes) of {label} and the subset's median inter-class "
            f"distance ({nums}{_rho_mde(int(r['n_subsets']))}).")


def _rho_mde(n: int) -> str:
    from laq.stats import mde_spearman

    m = mde_spearman(n)
    return f"; only |ρ| ≥ {m:.2f} would have been detected with 80 % power" if math.isfinite(m) else ""


def cost_distance_sentence(stats: pd.DataFrame, name: str, label: str) -> str | None:
    """The cost of quantizing against the median class distance, the reference model's accuracy partialled out."""
    if "partial_rho" not in stats:
        return None
    hit = stats[(stats["kind"] == "cost") & (stats["variant"] == name)]
    if hit.empty:
        return None
    r = hit.iloc[0]
    rho, lo, hi = float(r["partial_rho"]), float(r["partial_ci_low"]), float(r["partial_ci_high"])
    if not math.isfinite(rho):
        return f"The cost of {label} could not be related to the median class distance with the base accuracy partialled out (too few subsets or constant values)."
    nums = (f"partial Spearman ρ = {rho:+.2f} {_ci(lo, hi).replace('+', '')}, base top-1 partialled out; without it "
            f"ρ = {float(r['spearman_rho']):+.2f}; {int(r['n_subsets'])} subsets")
    if detected(lo, hi):
        trend = "rose" if rho > 0 else "fell"
        return f"The cost of {label} (top-1 lost, all classes) {trend} with the subset's median inter-class distance ({nums})."
    return (f"No monotone relation was detected between the cost of {label} (top-1 lost, all classes) and the subset's median "
            f"inter-class distance ({nums}{_rho_mde(int(r['n_subsets']) - 1)}).")  # one degree of freedom partialled out


def findings(
    specs: Sequence[SpecResults], base_metrics: Mapping[str, Any], *, model: str, dataset: str, calibration_images: int,
    dose: pd.DataFrame | None = None,
) -> list[Section]:
    """The findings of one study seed as sections of sentences, the first spec first (the headline); `dose`
    (laq.stats.dose_response) adds a dose-response section when the run sweeps a dose."""
    first = specs[0].table
    counts = first.drop_duplicates("subset")["strategy"].value_counts()
    design = (
        f"{first['subset'].nunique()} class subsets of {int(first['size'].iloc[0])} classes "
        f"({', '.join(f'{n} {s}' for s, n in counts.items())}), each quantized from {first['draw'].nunique()} "
        f"independent calibration draws of {_calibration_text(specs, calibration_images)} per condition; base model {model}: "
        f"{float(base_metrics['top1']):.1f} % top-1 over all {len(base_metrics.get('per_class_top1', {})) or '?'} classes of {dataset}."
    )
    devices = device_statement(pd.concat([sp.table for sp in specs], ignore_index=True))
    out = [Section("Design", [design, devices,
                              f"Caveat: {OVERLAP_NOTE}; McNemar tests are per subset and draw, on that subset's test images."])]
    for i, spec in enumerate(specs):
        label = f"{spec.name} ({spec_label(spec.table)})"
        sec = Section(f"{label}{' — headline' if i == 0 else ''}")
        at = f"At {label}"
        made = [g for g in GAINS if _has(spec.gains, g.name)]  # the conditions this run made
        if made:  # the co-primary result leads: both metrics side by side
            lead = made[0]
            sec.bullets.append(lead_sentence(_row(spec.gains, lead.name, "all"), _row(spec.gains, lead.name, "sub"), lead.text, at))
        sec.bullets.append(cost_sentence(_row(spec.gains, "cost_agnostic", "all"), at))
        if made:
            if spec.decomposition is not None:
                s = decomposition_sentence(spec.decomposition, lead.name, lead.text, VARIANT_LABELS[lead.subtrahend].capitalize())
                if s:
                    sec.bullets.append(s)
            sec.bullets += control_sentences(spec.gains, lead.name, at)
        for gain in made:
            for mode in ("all", "sub"):
                row = _row(spec.gains, gain.name, mode)
                sentence = gain_sentence(row, gain.text, f"At {label}")
                tests = row["mcnemar_tests"]
                if mode == "all" and tests is not None and math.isfinite(float(tests)) and tests:
                    sentence += f" McNemar p < 0.05 in {int(row['mcnemar_below_05'])} of {int(tests)} subset × draw comparisons."
                sec.bullets.append(sentence)
        sec.bullets += falsifier_sentences(spec.gains)
        for variant, text in (("quant_agnostic", "the label-agnostic quantized model"), ("quant_aware", "the label-aware quantized model")):
            s = distance_sentence(spec.statistics, variant, text)
            if s:
                sec.bullets.append(s)
        for name, text in (("original-quant_agnostic", "quantizing with label-agnostic calibration"),
                           ("original-quant_aware", "quantizing with label-aware calibration")):
            s = cost_distance_sentence(spec.statistics, name, text)
            if s:
                sec.bullets.append(s)
        out.append(sec)
    if dose is not None and (extra := dose_section(dose)):
        out.append(extra)
    return out


def _calibration_text(specs: Sequence[SpecResults], default: int) -> str:
    """The calibration images per draw, from the tables (a spec may set its own), else `default`."""
    per = {}
    for sp in specs:
        col = sp.table.get("calibration_images")
        per[sp.name] = int(col.iloc[0]) if col is not None and len(col) and pd.notna(col.iloc[0]) else int(default)
    if len(set(per.values())) == 1:
        text = f"{next(iter(per.values()))} images"
    else:
        text = "images (" + ", ".join(f"{n} for {name}" for name, n in per.items()) + ")"
    return text + (" (the density-matched condition: as many per class as label-aware, from all classes)"
                   if any("quant_density_top1_all" in sp.table for sp in specs) else "")


def falsifier_sentences(gains: pd.DataFrame) -> list[str]:
    """The falsifiers one spec's gains can decide: "no restricted gain" (the restricted gain against the
    all-classes one) and, when the run has the density-matched control, "the gain disappears once density
    is matched" (the density-matched gain against the unmatched one)."""
    out = []
    if _has(gains, "aware_vs_agnostic") and _has(gains, "aware_vs_agnostic", "sub"):
        ref = float(_row(gains, "aware_vs_agnostic", "all")["mean_pp"])
        out.append(falsifier("no restricted gain", _row(gains, "aware_vs_agnostic", "sub"), ref,
                             "label-aware − label-agnostic restricted to the subset, against the all-classes gain"))
    if _has(gains, "aware_vs_agnostic") and _has(gains, "aware_vs_density"):
        ref = float(_row(gains, "aware_vs_agnostic", "all")["mean_pp"])
        out.append(falsifier("the gain disappears once density is matched", _row(gains, "aware_vs_density", "all"), ref,
                             "label-aware − density-matched label-agnostic over all classes, against the unmatched gain"))
    return out


def shrink_falsifier(row: pd.Series | None, mode: str) -> str:
    """"The gain does not shrink as k grows", from the slope of the gain per doubling of k: held when the
    interval excludes shrinking (low end >= 0), did not hold when it shows shrinking (high end < 0),
    undetermined when it contains both."""
    statement = "the gain does not shrink as k grows"
    what = f"slope of label-aware − label-agnostic ({MODE_TEXT[mode]}) per doubling of the subset size"
    if row is None or not (math.isfinite(_num(row, "ci_low")) and math.isfinite(_num(row, "ci_high"))):
        return f"Falsifier “{statement}” ({MODE_TEXT[mode]}): undetermined ({what}: no interval)."
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    verdict = "held" if lo >= 0 else "did not hold" if hi < 0 else "undetermined"
    return f"Falsifier “{statement}” ({MODE_TEXT[mode]}): {verdict} ({what}: {_pp(float(row['mean_pp']))} {_ci(lo, hi)})."


def dose_section(dose: pd.DataFrame, gain: str = "aware_vs_agnostic") -> Section | None:
    """Gains against each dose the run sweeps, and the k falsifier per spec (laq.stats.dose_response)."""
    from laq.stats import DOSES

    if dose is None or dose.empty or not (dose["comparison"] == gain).any():
        return None
    sec = Section("Dose-response")
    gains = dose[(dose["kind"] == "gain") & (dose["comparison"] == gain)]
    for col, label in DOSES:
        values = pd.to_numeric(gains[col], errors="coerce").dropna().unique()
        if len(values) < 2:
            continue
        parts = []
        for v in sorted(values):
            cell = gains[gains[col] == v]
            both = []
            for mode in ("all", "sub"):
                m = cell[cell["mode"] == mode]
                if len(m) == 1:
                    r = m.iloc[0]
                    both.append(f"{_pp(r['mean_pp'])} {_ci(r['ci_low'], r['ci_high'])}")
                elif len(m) > 1:  # several cells share this dose: their range
                    both.append(f"{_pp(m['mean_pp'].min())} to {_pp(m['mean_pp'].max())} over {len(m)} cells")
            parts.append(f"{v:g}: " + " / ".join(both))
        sec.bullets.append(f"Label-aware − label-agnostic by {label} (over all classes / restricted to the subset): " + "; ".join(parts) + ".")
    for spec, grp in dose[(dose["kind"] == "slope_per_doubling_k") & (dose["comparison"] == gain)].groupby("spec", sort=False):
        for mode in ("all", "sub"):
            hit = grp[grp["mode"] == mode]
            sec.bullets.append(f"{spec}: " + shrink_falsifier(hit.iloc[0] if len(hit) else None, mode))
    return sec if sec.bullets else None


def pooled_section(pooled: Mapping[str, pd.DataFrame]) -> Section | None:
    """Gains pooled over the study seeds (laq.stats.pooled_gains per spec), seed as a random effect."""
    sec = Section("Pooled over seeds")
    text = {g.name: g.text for g in GAINS}
    for spec, df in pooled.items():
        for name in dict.fromkeys(df["comparison"]):
            parts = []
            for mode in ("all", "sub"):
                hit = df[(df["comparison"] == name) & (df["mode"] == mode)]
                pool, per = hit[hit["level"] == "pooled"], hit[hit["level"] == "seed"]
                if pool.empty:
                    continue
                r = pool.iloc[0]
                seeds = ", ".join(f"seed {int(p.seed)}: {_pp(p.mean_pp)}" for p in per.itertuples())
                state = _pooled_state(r)
                parts.append(f"{_pp(r['mean_pp'])} {_ci(r['ci_low'], r['ci_high'])} {MODE_TEXT[mode]} ({state}; {seeds})")
            if parts:
                r = df[(df["comparison"] == name) & (df["level"] == "pooled")].iloc[0]
                sec.bullets.append(f"{spec}, {int(r['n_seeds'])} seeds, {int(r['n_subsets'])} subsets (seeds, then subsets, then draws "
                                   f"resampled): calibrating on the subset's own classes {text.get(name, name)}: " + "; ".join(parts) + ".")
    return sec if sec.bullets else None


def pooled_findings(
    pooled: Mapping[str, pd.DataFrame], tables: pd.DataFrame, base_top1: Mapping[int, float], *, model: str, dataset: str,
) -> list[Section]:
    """The findings pooled over the study seeds: the design (seeds, each seed's base model, subsets, draws,
    devices) and every spec's gains pooled with seed as a random effect (`pooled`: spec ->
    laq.stats.pooled_gains). `tables`: every seed's tables of every spec, concatenated (for the design)."""
    seeds = sorted(int(s) for s in base_top1)
    per_seed = tables.drop_duplicates(["seed", "subset"]).groupby("seed")["subset"].count()
    base = ", ".join(f"seed {s}: {float(base_top1[s]):.1f} %" for s in seeds)
    design = (f"{len(seeds)} study seeds ({', '.join(map(str, seeds))}), each with its own base model {model} "
              f"(top-1 over all classes of {dataset}: {base}), class distances, {int(per_seed.min())}"
              f"{'' if per_seed.min() == per_seed.max() else f' to {int(per_seed.max())}'} subsets and "
              f"{tables['draw'].nunique()} calibration draws per condition; each seed's own findings are in seed-<s>/findings.md.")
    caveat = ("Seeds are a random effect: the pooled interval resamples seeds, then subsets, then draws, and is too narrow "
              "with few seeds; so a pooled gain is called detected only when the t-interval over the seed means excludes 0 "
              "as well, and each gain not detected states the MDE of that t-test.")
    out = [Section("Design", [design, device_statement(tables), caveat])]
    if (sec := pooled_section(pooled)) is not None:
        out.append(sec)
    return out


def _pooled_state(r: pd.Series) -> str:
    """Detected only when the three-level bootstrap and the t-interval over the seed means both exclude 0:
    with few seeds the bootstrap alone is too narrow."""
    n, tlo, thi = int(r["n_seeds"]), _num(r, "t_ci_low"), _num(r, "t_ci_high")
    if detected(r["ci_low"], r["ci_high"]):
        if not (math.isfinite(tlo) and math.isfinite(thi)) or detected(tlo, thi):
            return "detected"
        return f"not confirmed: the bootstrap interval excludes 0 but the t-interval over the {n} seed means, [{tlo:+.1f}, {thi:+.1f}], contains it"
    m = _num(r, "mde_pp")
    return "not detected" + (f"; ±{m:.2f} pp would have been detected with 80 % power by a t-test on the {n} seed means"
                             if math.isfinite(m) else "")


def seed_table(pooled: Mapping[str, pd.DataFrame]) -> str:
    """A Markdown table of every gain per seed and pooled (laq.stats.pooled_gains per spec), for a README:
    mean [bootstrap 95 % CI] per seed and pooled, and the t-interval over the seed means."""
    seeds = sorted({int(s) for df in pooled.values() for s in df.loc[df["level"] == "seed", "seed"]})
    lines = ["| | " + " | ".join(f"seed {s}" for s in seeds) + " | pooled | t over seeds |", "|---|" + "---:|" * (len(seeds) + 2)]
    for spec, df in pooled.items():
        for (name, mode), grp in df.groupby(["comparison", "mode"], sort=False):
            cell = lambda r: f"{r['mean_pp']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"  # noqa: E731
            by = {int(r["seed"]): cell(r) for _, r in grp[grp["level"] == "seed"].iterrows()}
            pool = grp[grp["level"] == "pooled"]
            t = (f"[{pool.iloc[0]['t_ci_low']:+.1f}, {pool.iloc[0]['t_ci_high']:+.1f}]"
                 if len(pool) and "t_ci_low" in pool and math.isfinite(pool.iloc[0]["t_ci_low"]) else "—")
            lines.append(f"| {spec}: {name} ({mode}) | " + " | ".join(by.get(s, "—") for s in seeds) + " | "
                         + (cell(pool.iloc[0]) if len(pool) else "—") + f" | {t} |")
    return "\n".join(lines)


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
