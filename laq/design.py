"""The study design in one place: the variants compared, how each quantized variant is calibrated,
the gains tested, and the calibration draws themselves (numpy only, so light jobs import it freely).

Every subset is compared under up to ten variants. The quantized ones are each made from `draws`
independent calibration draws keyed on (seed, subset, condition, draw) through `laq.seeding`; the spec
is not part of the key, so every bit width of a study is calibrated on the same images (paired). The
calibration conditions (`CONDITIONS`; a run picks some with `quantization.conditions`):

  aware       N images of the subset's own classes;
  agnostic    N images drawn from all classes (the usual practice);
  mismatched  N images of as many classes as the subset has, drawn from outside it, afresh per draw
              (separates "the subset's classes" from "any small class set");
  density     N * C / k images from all classes: as many images per class as `aware` puts on each of the
              subset's k classes (separates "the right classes" from "more images per class");
  mix0, mix25, mix50
              N images of which a fraction f = 0, 0.25, 0.5 (rounded) come from the subset's classes and the
              rest from the classes outside it. f = 1 is `aware` itself, so it has no entry of its own; mix0
              is "every class but the subset's".

Variants: `original` (the base model) and `finetuned` (fine-tuned on the subset) are not quantized;
`quant_<condition>` is the base model calibrated under that condition; `finetuned_quant` is the
fine-tuned model calibrated on the same images as `quant_aware` in that draw.

Adding a condition is one `Condition` entry (its name is its seed purpose: draws are keyed on it), one
`Quantized` entry, a label and, if it is compared, a `Gain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from laq import seeding
from laq.io import LaqError


@dataclass(frozen=True)
class Condition:
    """How a calibration draw picks its images.

    pool: "subset" (the subset's classes), "all" (every class), "other" (as many classes as the subset
    has, drawn from outside it per draw) or "mixture" (`subset_fraction` of the images from the subset's
    classes, the rest from the classes outside it).
    density_matched: draw N * C / k images instead of N (k: the subset's size, C: the classes).
    """

    name: str
    pool: str
    text: str
    subset_fraction: float | None = None
    density_matched: bool = False


CONDITION_LIST: tuple[Condition, ...] = (
    Condition("aware", "subset", "the subset's classes"),
    Condition("agnostic", "all", "all classes"),
    Condition("mismatched", "other", "as many classes from outside the subset"),
    Condition("density", "all", "all classes, as many images per class as label-aware", density_matched=True),
    Condition("mix0", "mixture", "the classes outside the subset", subset_fraction=0.0),
    Condition("mix25", "mixture", "a quarter from the subset's classes, the rest from outside", subset_fraction=0.25),
    Condition("mix50", "mixture", "half from the subset's classes, half from outside", subset_fraction=0.5),
)
CONDITION_BY_NAME: dict[str, Condition] = {c.name: c for c in CONDITION_LIST}
CONDITIONS: tuple[str, ...] = tuple(CONDITION_BY_NAME)
# What a run makes when the config names no conditions (the default study: aware, agnostic,
# mismatched and the density-matched control; the mixtures are opt-in, e.g. presets/mechanism.yaml).
DEFAULT_CONDITIONS: tuple[str, ...] = ("aware", "agnostic", "mismatched", "density")

METRICS: tuple[str, ...] = ("top1_all", "top5_all", "top1_sub", "top5_sub")
MODES: tuple[str, ...] = ("all", "sub")
VARIANT_LABELS: dict[str, str] = {
    "original": "original",
    "quant_aware": "quantized (label-aware)",
    "quant_agnostic": "quantized (label-agnostic)",
    "quant_mismatched": "quantized (mismatched classes)",
    "quant_density": "quantized (label-agnostic, density-matched)",
    "quant_mix0": "quantized (outside classes only)",
    "quant_mix25": "quantized (25 % subset images)",
    "quant_mix50": "quantized (50 % subset images)",
    "finetuned": "fine-tuned",
    "finetuned_quant": "fine-tuned + quantized",
}


@dataclass(frozen=True)
class Quantized:
    """A quantized variant: which model is quantized and which calibration condition it uses."""

    variant: str
    model: str  # "base" or "finetuned"
    condition: str  # one of CONDITIONS


QUANTIZED: tuple[Quantized, ...] = tuple(Quantized(f"quant_{c}", "base", c) for c in CONDITIONS) + (
    Quantized("finetuned_quant", "finetuned", "aware"),
)
QUANTIZED_VARIANTS: tuple[str, ...] = tuple(q.variant for q in QUANTIZED)
VARIANTS: tuple[str, ...] = ("original", *(q.variant for q in QUANTIZED[:-1]), "finetuned", "finetuned_quant")


@dataclass(frozen=True)
class Gain:
    """A paired difference tested per spec: `minuend` − `subtrahend`, in percentage points."""

    name: str
    minuend: str
    subtrahend: str
    text: str  # what the comparison isolates, for sentences and captions


GAINS: tuple[Gain, ...] = (
    Gain("aware_vs_agnostic", "quant_aware", "quant_agnostic", "against calibration on all classes"),
    Gain("aware_vs_mismatched", "quant_aware", "quant_mismatched", "against calibration on as many other classes"),
    Gain("aware_vs_density", "quant_aware", "quant_density",
         "against calibration on all classes with as many images per class (density-matched)"),
    Gain("aware_vs_mix0", "quant_aware", "quant_mix0", "against calibration on the classes outside the subset"),
    Gain("aware_vs_mix25", "quant_aware", "quant_mix25", "against calibration with a quarter of the images from the subset"),
    Gain("aware_vs_mix50", "quant_aware", "quant_mix50", "against calibration with half of the images from the subset"),
)


def check_conditions(conditions: Iterable[str] | None) -> tuple[str, ...]:
    """The run's conditions in design order (DEFAULT_CONDITIONS for None); LaqError for an unknown or
    missing one (`aware` is required: every gain and the fine-tuned variant use it)."""
    chosen = DEFAULT_CONDITIONS if conditions is None else tuple(conditions)
    unknown = [c for c in chosen if c not in CONDITION_BY_NAME]
    if unknown:
        raise LaqError(f"quantization.conditions has unknown condition {unknown[0]!r}; use some of {', '.join(CONDITIONS)}.")
    if "aware" not in chosen:
        raise LaqError("quantization.conditions must include aware (every gain and the fine-tuned + quantized variant use it).")
    return tuple(c for c in CONDITIONS if c in chosen)


def quantized_for(conditions: Iterable[str] | None = None) -> tuple[Quantized, ...]:
    """The quantized variants a run with these conditions makes, in design order."""
    chosen = check_conditions(conditions)
    return tuple(q for q in QUANTIZED if q.condition in chosen)


def variants_for(conditions: Iterable[str] | None = None) -> tuple[str, ...]:
    """Every variant (quantized or not) of a run with these conditions, in VARIANTS order."""
    made = {q.variant for q in quantized_for(conditions)}
    return tuple(v for v in VARIANTS if v in made or v in ("original", "finetuned"))


def variants_in(columns: Iterable[str]) -> tuple[str, ...]:
    """The variants a table holds (those with a `<variant>_top1_all` column), in VARIANTS order."""
    cols = set(columns)
    return tuple(v for v in VARIANTS if f"{v}_top1_all" in cols)


def gains_for(variants: Iterable[str]) -> tuple[Gain, ...]:
    """The gains whose two sides are both among `variants`, in GAINS order."""
    have = set(variants)
    return tuple(g for g in GAINS if g.minuend in have and g.subtrahend in have)


# ------------------------------------------------------------------------------- calibration draws


@dataclass(frozen=True)
class CalibrationDraw:
    """One calibration set: the classes it was allowed to come from and the training images drawn."""

    condition: str
    draw: int
    pool_classes: tuple[int, ...]  # sorted
    indices: np.ndarray  # sorted indices into the training split
    subset: tuple[int, ...] = ()  # the subset's classes (sorted), to count the images drawn from them

    def candidates(self, labels: np.ndarray) -> np.ndarray:
        """Every training image of the draw's classes (the pool per-layer calibration draws from)."""
        return np.flatnonzero(np.isin(labels, self.pool_classes))

    def _common(self, labels: np.ndarray, seen: Sequence[int]) -> dict:
        seen = np.asarray(seen, dtype=np.int64)
        return {
            "condition": self.condition,
            "draw": self.draw,
            "pool_classes": list(self.pool_classes),
            "image_classes": sorted({int(c) for c in labels[seen]}),
            "subset_images": int(np.isin(labels[seen], self.subset).sum()),
        }

    def per_layer_record(self, labels: np.ndarray, pool: np.ndarray, batches: Sequence[Sequence[int]]) -> dict:
        """The sidecar record of per-layer calibration: each layer's batch as training-split indices
        (`subset_images` counts the distinct images of the subset's classes over all batches)."""
        layers = [[int(pool[i]) for i in b] for b in batches]
        seen = sorted({i for b in layers for i in b})
        return {**self._common(labels, seen), "mode": "per_layer", "layer_indices": layers,
                "n_images": len(layers[0]) if layers else 0}

    def record(self, labels: np.ndarray) -> dict:
        """What a quantized checkpoint's sidecar keeps about its calibration (JSON-ready)."""
        return {**self._common(labels, self.indices), "mode": "fixed", "indices": [int(i) for i in self.indices],
                "n_images": int(len(self.indices))}


def calibration_count(condition: str, n: int, subset_size: int, num_classes: int) -> int:
    """Images a draw of `condition` takes: `n`, or n * C / k (rounded) for a density-matched condition."""
    if CONDITION_BY_NAME[condition].density_matched:
        return max(1, int(round(n * num_classes / subset_size)))
    return n


def calibration_pool(condition: str, subset: Sequence[int], num_classes: int, *, seed: int, subset_id: str, draw: int) -> tuple[int, ...]:
    """The classes a calibration draw may use: the subset's (aware), all (agnostic, density), |subset|
    classes drawn from outside the subset (mismatched, a fresh choice per draw), or for a mixture the
    classes outside the subset plus, when it takes any, the subset's."""
    if condition not in CONDITION_BY_NAME:
        raise ValueError(f"unknown calibration condition {condition!r}; use one of {', '.join(CONDITIONS)}")
    cond = CONDITION_BY_NAME[condition]
    chosen = sorted(int(c) for c in subset)
    outside = np.setdiff1d(np.arange(num_classes), chosen)
    if cond.pool == "subset":
        return tuple(chosen)
    if cond.pool == "all":
        return tuple(range(num_classes))
    if cond.pool == "mixture":
        return tuple(range(num_classes)) if cond.subset_fraction else tuple(int(c) for c in outside)
    if len(outside) < len(chosen):
        raise LaqError(
            f"subset {subset_id} has {len(chosen)} classes but only {len(outside)} lie outside it, too few for the "
            f"mismatched control; use subsets.size <= {num_classes // 2}."
        )
    pick = seeding.rng(seed, "mismatched-classes", subset_id, draw).choice(outside, size=len(chosen), replace=False)
    return tuple(sorted(int(c) for c in pick))


def _choose(gen: np.random.Generator, candidates: np.ndarray, n: int, what: str) -> np.ndarray:
    if len(candidates) < n:
        raise LaqError(
            f"calibration for {what} needs {n} images but its classes have only {len(candidates)} training images; "
            f"lower quantization.calibration_images to {len(candidates)} or less."
        )
    return gen.choice(candidates, size=n, replace=False)


def draw_calibration(
    labels: np.ndarray,
    condition: str,
    subset: Sequence[int],
    num_classes: int,
    n: int,
    *,
    seed: int,
    subset_id: str,
    draw: int,
) -> CalibrationDraw:
    """The calibration images of one draw (`n` per the config; a density-matched condition takes
    n * C / k), without replacement, keyed on (seed, subset, condition, draw) and nothing else: not on
    the spec, so every bit width of a study sees the same images."""
    pool = calibration_pool(condition, subset, num_classes, seed=seed, subset_id=subset_id, draw=draw)
    chosen = tuple(sorted(int(c) for c in subset))
    count = calibration_count(condition, n, len(chosen), num_classes)
    gen = seeding.rng(seed, "calibration", subset_id, condition, draw)
    what = f"{subset_id} ({condition})"
    fraction = CONDITION_BY_NAME[condition].subset_fraction
    if fraction is None:
        idx = _choose(gen, np.flatnonzero(np.isin(labels, pool)), count, what)
    else:  # a mixture: round(f * n) images of the subset's classes, the rest from outside it
        inside = int(round(fraction * count))
        idx = np.concatenate([
            _choose(gen, np.flatnonzero(np.isin(labels, chosen)), inside, what),
            _choose(gen, np.flatnonzero(~np.isin(labels, chosen)), count - inside, what),
        ])
    return CalibrationDraw(condition, draw, pool, np.sort(idx), chosen)


def quantized_runs(draws: int, conditions: Iterable[str] | None = None) -> list[tuple[str, int]]:
    """The (variant, draw) pairs one quantize job makes, in the order of its outputs."""
    return [(q.variant, d) for q in quantized_for(conditions) for d in range(draws)]


def nest_runs(
    paths: Sequence[str], subset_ids: Sequence[str], draws: int, conditions: Iterable[str] | None = None
) -> dict[str, dict[str, list[str]]]:
    """paths[subset id][variant] -> one path per draw, from a flat list ordered subset by subset, each in
    `quantized_runs` order (the order the evaluate rule lists its inputs in)."""
    runs = quantized_runs(draws, conditions)
    if len(paths) != len(subset_ids) * len(runs):
        raise ValueError(f"{len(paths)} paths for {len(subset_ids)} subsets x {len(runs)} runs")
    out: dict[str, dict[str, list[str]]] = {}
    it = iter(paths)
    for sid in subset_ids:
        out[sid] = {}
        for (variant, _), path in zip(runs, it):
            out[sid].setdefault(variant, []).append(path)
    return out
