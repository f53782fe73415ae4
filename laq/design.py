"""The study design in one place: the variants compared, how each quantized variant is calibrated,
the gains tested, and the calibration draws themselves (numpy only, so light jobs import it freely).

Every subset is compared under six variants. Four are quantized, each from `draws` independent
calibration draws keyed on (seed, subset, spec, condition, draw) through `laq.seeding`:

  quant_aware       the base model, calibrated on images of the subset's own classes;
  quant_agnostic    the base model, calibrated on images drawn from all classes (the usual practice);
  quant_mismatched  the base model, calibrated on images of as many classes as the subset has, drawn
                    from outside the subset (separates "the subset's classes" from "any small class set");
  finetuned_quant   the fine-tuned model, calibrated on the same images as quant_aware in that draw.

`original` (the base model) and `finetuned` (fine-tuned on the subset) are not quantized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from laq import seeding
from laq.io import LaqError

VARIANTS: tuple[str, ...] = ("original", "quant_aware", "quant_agnostic", "quant_mismatched", "finetuned", "finetuned_quant")
METRICS: tuple[str, ...] = ("top1_all", "top5_all", "top1_sub", "top5_sub")
MODES: tuple[str, ...] = ("all", "sub")
CONDITIONS: tuple[str, ...] = ("aware", "agnostic", "mismatched")
VARIANT_LABELS: dict[str, str] = {
    "original": "original",
    "quant_aware": "quantized (label-aware)",
    "quant_agnostic": "quantized (label-agnostic)",
    "quant_mismatched": "quantized (mismatched classes)",
    "finetuned": "fine-tuned",
    "finetuned_quant": "fine-tuned + quantized",
}


@dataclass(frozen=True)
class Quantized:
    """A quantized variant: which model is quantized and which calibration condition it uses."""

    variant: str
    model: str  # "base" or "finetuned"
    condition: str  # one of CONDITIONS


QUANTIZED: tuple[Quantized, ...] = (
    Quantized("quant_aware", "base", "aware"),
    Quantized("quant_agnostic", "base", "agnostic"),
    Quantized("quant_mismatched", "base", "mismatched"),
    Quantized("finetuned_quant", "finetuned", "aware"),
)
QUANTIZED_VARIANTS: tuple[str, ...] = tuple(q.variant for q in QUANTIZED)


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
)


# ------------------------------------------------------------------------------- calibration draws


@dataclass(frozen=True)
class CalibrationDraw:
    """One calibration set: the classes it was allowed to come from and the training images drawn."""

    condition: str
    draw: int
    pool_classes: tuple[int, ...]  # sorted
    indices: np.ndarray  # sorted indices into the training split

    def candidates(self, labels: np.ndarray) -> np.ndarray:
        """Every training image of the draw's classes (the pool per-layer calibration draws from)."""
        return np.flatnonzero(np.isin(labels, self.pool_classes))

    def per_layer_record(self, labels: np.ndarray, pool: np.ndarray, batches: Sequence[Sequence[int]]) -> dict:
        """The sidecar record of per-layer calibration: each layer's batch as training-split indices."""
        layers = [[int(pool[i]) for i in b] for b in batches]
        seen = sorted({i for b in layers for i in b})
        return {
            "condition": self.condition,
            "draw": self.draw,
            "mode": "per_layer",
            "pool_classes": list(self.pool_classes),
            "image_classes": sorted({int(c) for c in labels[seen]}),
            "layer_indices": layers,
            "n_images": len(layers[0]) if layers else 0,
        }

    def record(self, labels: np.ndarray) -> dict:
        """What a quantized checkpoint's sidecar keeps about its calibration (JSON-ready)."""
        return {
            "condition": self.condition,
            "draw": self.draw,
            "mode": "fixed",
            "pool_classes": list(self.pool_classes),
            "image_classes": sorted({int(c) for c in labels[self.indices]}),
            "indices": [int(i) for i in self.indices],
            "n_images": int(len(self.indices)),
        }


def calibration_pool(
    condition: str, subset: Sequence[int], num_classes: int, *, seed: int, subset_id: str, spec: str, draw: int
) -> tuple[int, ...]:
    """The classes a calibration draw may use: the subset's (aware), all (agnostic), or |subset| classes
    drawn from outside the subset (mismatched, a fresh choice per draw)."""
    chosen = sorted(int(c) for c in subset)
    if condition == "aware":
        return tuple(chosen)
    if condition == "agnostic":
        return tuple(range(num_classes))
    if condition == "mismatched":
        outside = np.setdiff1d(np.arange(num_classes), chosen)
        if len(outside) < len(chosen):
            raise LaqError(
                f"subset {subset_id} has {len(chosen)} classes but only {len(outside)} lie outside it, too few for the "
                f"mismatched control; use subsets.size <= {num_classes // 2}."
            )
        pick = seeding.rng(seed, "mismatched-classes", subset_id, spec, draw).choice(outside, size=len(chosen), replace=False)
        return tuple(sorted(int(c) for c in pick))
    raise ValueError(f"unknown calibration condition {condition!r}; use one of {', '.join(CONDITIONS)}")


def draw_calibration(
    labels: np.ndarray,
    condition: str,
    subset: Sequence[int],
    num_classes: int,
    n: int,
    *,
    seed: int,
    subset_id: str,
    spec: str,
    draw: int,
) -> CalibrationDraw:
    """`n` training images drawn without replacement from the condition's classes, keyed on
    (seed, subset, spec, condition, draw) and nothing else."""
    pool = calibration_pool(condition, subset, num_classes, seed=seed, subset_id=subset_id, spec=spec, draw=draw)
    candidates = np.flatnonzero(np.isin(labels, pool))
    if len(candidates) < n:
        raise LaqError(
            f"calibration for {subset_id} ({condition}) needs {n} images but its classes have only {len(candidates)} "
            f"training images; lower quantization.calibration_images to {len(candidates)} or less."
        )
    gen = seeding.rng(seed, "calibration", subset_id, spec, condition, draw)
    return CalibrationDraw(condition, draw, pool, np.sort(gen.choice(candidates, size=n, replace=False)))


def quantized_runs(draws: int) -> list[tuple[str, int]]:
    """The (variant, draw) pairs one quantize job makes, in the order of its outputs."""
    return [(v, d) for v in QUANTIZED_VARIANTS for d in range(draws)]


def nest_runs(paths: Sequence[str], subset_ids: Sequence[str], draws: int) -> dict[str, dict[str, list[str]]]:
    """paths[subset id][variant] -> one path per draw, from a flat list ordered subset by subset, each in
    `quantized_runs` order (the order the evaluate rule lists its inputs in)."""
    runs = quantized_runs(draws)
    if len(paths) != len(subset_ids) * len(runs):
        raise ValueError(f"{len(paths)} paths for {len(subset_ids)} subsets x {len(runs)} runs")
    out: dict[str, dict[str, list[str]]] = {}
    it = iter(paths)
    for sid in subset_ids:
        out[sid] = {v: [] for v in QUANTIZED_VARIANTS}
        for (variant, _), path in zip(runs, it):
            out[sid][variant].append(path)
    return out
