"""The calibration draws of the study design, checked directly: classes, counts, independence, determinism."""

import numpy as np
import pytest

from laq.design import (
    CONDITIONS,
    DEFAULT_CONDITIONS,
    GAINS,
    QUANTIZED,
    QUANTIZED_VARIANTS,
    VARIANT_LABELS,
    VARIANTS,
    check_conditions,
    draw_calibration,
    gains_for,
    nest_runs,
    quantized_runs,
    variants_for,
    variants_in,
)
from laq.io import LaqError

LABELS = np.repeat(np.arange(20), 30)  # 20 classes x 30 training images
SUBSET = [2, 5, 11, 17]


def draw(condition, *, seed=0, subset_id="similar-k4-00", d=0, n=24):
    return draw_calibration(LABELS, condition, SUBSET, 20, n, seed=seed, subset_id=subset_id, draw=d)


def test_each_condition_draws_from_its_classes():
    for d in range(5):
        aware, agnostic, mismatched = (draw(c, d=d) for c in ("aware", "agnostic", "mismatched"))
        for cal in (aware, agnostic, mismatched):
            assert len(cal.indices) == 24 and len(set(cal.indices.tolist())) == 24  # the requested count, no repeats
            assert np.all(np.diff(cal.indices) > 0)
        assert set(LABELS[aware.indices]) <= set(SUBSET) and aware.pool_classes == tuple(SUBSET)
        assert not set(LABELS[mismatched.indices]) & set(SUBSET)
        assert len(mismatched.pool_classes) == len(SUBSET) and set(LABELS[mismatched.indices]) <= set(mismatched.pool_classes)
        assert agnostic.pool_classes == tuple(range(20))
    # across draws, label-agnostic calibration reaches classes inside and outside the subset
    seen = np.concatenate([LABELS[draw("agnostic", d=d).indices] for d in range(5)])
    assert set(seen) & set(SUBSET) and len(set(seen)) > 10


def test_draws_are_deterministic_per_key_and_independent_across_keys():
    a = draw("aware")
    np.testing.assert_array_equal(a.indices, draw("aware").indices)
    for other in (draw("aware", d=1), draw("aware", seed=1), draw("aware", subset_id="random-k4-00")):
        assert not np.array_equal(a.indices, other.indices)
    # conditions are separate streams: the agnostic draw is not the aware one restricted or shifted
    assert not np.array_equal(draw("agnostic").indices, draw("mismatched").indices)
    # the mismatched classes change from draw to draw
    assert len({draw("mismatched", d=d).pool_classes for d in range(5)}) > 1


def test_record_lists_what_a_sidecar_keeps():
    cal = draw("mismatched", d=3)
    rec = cal.record(LABELS)
    assert rec["condition"] == "mismatched" and rec["draw"] == 3 and rec["n_images"] == 24
    assert rec["indices"] == cal.indices.tolist() and set(rec["image_classes"]) <= set(rec["pool_classes"])


def test_too_few_images_or_classes_is_a_one_line_error():
    with pytest.raises(LaqError, match="calibration_images"):
        draw("aware", n=4 * 30 + 1)
    with pytest.raises(LaqError, match="subsets.size"):
        draw_calibration(LABELS, "mismatched", list(range(11)), 20, 5, seed=0, subset_id="x", draw=0)


@pytest.mark.parametrize("conditions", [None, CONDITIONS, ("mix25", "aware")])
def test_runs_and_their_nesting_agree(conditions):
    runs = quantized_runs(3, conditions)
    made = [q.variant for q in QUANTIZED if q.condition in check_conditions(conditions)]
    assert len(runs) == len(made) * 3 and [v for v, _ in runs[::3]] == made
    paths = [f"{s}/{v}-d{d}" for s in ("s1", "s2") for v, d in runs]
    nested = nest_runs(paths, ["s1", "s2"], 3, conditions)
    for s in ("s1", "s2"):
        assert list(nested[s]) == made
        for v in made:
            assert nested[s][v] == [f"{s}/{v}-d{d}" for d in range(3)]
    with pytest.raises(ValueError):
        nest_runs(paths[:-1], ["s1", "s2"], 3, conditions)


# ------------------------------------------------------------------ the design's entries and new conditions


def test_every_condition_has_a_variant_label_and_the_default_runs_density():
    assert set(VARIANTS) == set(QUANTIZED_VARIANTS) | {"original", "finetuned"} and set(VARIANTS) == set(VARIANT_LABELS)
    assert {q.condition for q in QUANTIZED} == set(CONDITIONS)
    assert "density" in DEFAULT_CONDITIONS and not any(c.startswith("mix") for c in DEFAULT_CONDITIONS)
    assert variants_for(None) == ("original", "quant_aware", "quant_agnostic", "quant_mismatched", "quant_density",
                                  "finetuned", "finetuned_quant")
    for g in GAINS:  # every gain compares two variants of the design; each non-aware condition has one
        assert {g.minuend, g.subtrahend} <= set(VARIANTS)
    assert {g.subtrahend for g in GAINS} == {f"quant_{c}" for c in CONDITIONS if c != "aware"}
    assert [g.name for g in gains_for(variants_for(None))] == ["aware_vs_agnostic", "aware_vs_mismatched", "aware_vs_density"]
    columns = [f"{v}_{m}" for v in variants_for(("aware", "mix0")) for m in ("top1_all", "top1_sub")] + ["subset", "draw"]
    assert variants_in(columns) == ("original", "quant_aware", "quant_mix0", "finetuned", "finetuned_quant")
    with pytest.raises(LaqError, match="unknown condition 'dense'"):
        check_conditions(["aware", "dense"])
    with pytest.raises(LaqError, match="must include aware"):
        check_conditions(["agnostic"])


def test_density_matched_takes_as_many_images_per_class_as_aware():
    # aware: 24 images on 4 classes = 6 per class; density: 24 * 20 / 4 = 120 from all 20 classes
    for d in range(3):
        dens = draw("density", d=d)
        assert len(dens.indices) == 120 == len(set(dens.indices.tolist())) and dens.pool_classes == tuple(range(20))
        assert len(dens.indices) / 20 == len(draw("aware", d=d).indices) / len(SUBSET)
        rec = dens.record(LABELS)
        assert rec["n_images"] == 120 and rec["subset_images"] == int(np.isin(LABELS[dens.indices], SUBSET).sum())
        assert len(set(LABELS[dens.indices])) > 15  # spread over (nearly) every class
    assert not np.array_equal(draw("density").indices, draw("agnostic").indices[:24])


@pytest.mark.parametrize("condition, inside", [("mix0", 0), ("mix25", 6), ("mix50", 12)])
def test_mixtures_take_their_fraction_from_the_subset(condition, inside):
    for d in range(4):
        cal = draw(condition, d=d)
        labels = LABELS[cal.indices]
        assert len(cal.indices) == 24 == len(set(cal.indices.tolist()))
        assert int(np.isin(labels, SUBSET).sum()) == inside == cal.record(LABELS)["subset_images"]
        if inside == 0:
            assert cal.pool_classes == tuple(c for c in range(20) if c not in SUBSET)
    # f = 1 is label-aware itself: every image from the subset
    assert np.isin(LABELS[draw("aware").indices], SUBSET).all()


def test_draws_do_not_depend_on_the_spec():
    """The calibration is keyed on (seed, subset, condition, draw) only: every bit width gets the same images."""
    import inspect

    assert "spec" not in inspect.signature(draw_calibration).parameters
    for c in CONDITIONS:
        np.testing.assert_array_equal(draw(c, d=1).indices, draw(c, d=1).indices)


@pytest.mark.parametrize("mode", ["fixed", "per_layer"])
def test_two_specs_are_calibrated_on_the_same_images(tmp_path, mode):
    """gpfq2 and gpfq3 of one subset read the same calibration images in every condition and draw
    (the bit-width contrast is paired), while a spec with its own calibration_images takes its own count."""
    import torch

    from laq.data.store import Split
    from laq.io import read_json
    from laq.models.arch import build_arch
    from laq.stages import quantize_subset

    torch.manual_seed(0)
    gen = np.random.default_rng(0)
    labels = np.repeat(np.arange(8), 12)
    train = Split(gen.integers(0, 256, (len(labels), 16, 16, 3), dtype=np.uint8), labels)
    meta = {"arch": "cifar_resnet:8:2", "num_classes": 8, "input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": [str(c) for c in range(8)]}
    model = build_arch("cifar_resnet:8:2", 8).eval()
    manifest = {"id": "similar-k3-00", "classes": [1, 4, 6]}
    # per-layer runs cost a prefix forward per layer: fewer conditions there (fixed mode covers the others)
    conditions = ("aware", "mismatched", "density", "mix25") if mode == "fixed" else ("aware", "density")
    runs = quantized_runs(2, conditions)
    specs = [{"name": "g2", "method": "gpfq", "bits": 2}, {"name": "g3", "method": "gpfq", "bits": 3},
             {"name": "g3n4", "method": "gpfq", "bits": 3, "calibration_images": 4}]
    seen = {}
    for spec in specs:
        outputs = {run: str(tmp_path / spec["name"] / f"{run[0]}-d{run[1]}.safetensors") for run in runs}
        quantize_subset((model, meta), (model, meta), train, manifest, spec, outputs, num_classes=8, n_images=6, seed=3,
                        batch_size=8, device="cpu", provenance_of={"base": {}, "finetuned": {}}, calibration_mode=mode)
        for run, path in outputs.items():
            cal = read_json(path[: -len(".safetensors")] + ".json")["quantization"]["calibration"]
            seen[spec["name"], run] = cal["indices"] if mode == "fixed" else cal["layer_indices"]
            n = 4 if spec["name"] == "g3n4" else 6
            assert cal["n_images"] == (round(n * 8 / 3) if run[0] == "quant_density" else n)
    for run in runs:
        assert seen["g2", run] == seen["g3", run]
        assert seen["g3n4", run] != seen["g3", run]
    assert seen["g2", ("quant_aware", 0)] != seen["g2", ("quant_aware", 1)]
