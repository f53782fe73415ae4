"""The calibration draws of the study design, checked directly: classes, counts, independence, determinism."""

import numpy as np
import pytest

from laq.design import CONDITIONS, QUANTIZED_VARIANTS, VARIANTS, draw_calibration, nest_runs, quantized_runs
from laq.io import LaqError

LABELS = np.repeat(np.arange(20), 30)  # 20 classes x 30 training images
SUBSET = [2, 5, 11, 17]


def draw(condition, *, seed=0, subset_id="similar-k4-00", spec="gpfq2", d=0, n=24):
    return draw_calibration(LABELS, condition, SUBSET, 20, n, seed=seed, subset_id=subset_id, spec=spec, draw=d)


def test_each_condition_draws_from_its_classes():
    for d in range(5):
        aware, agnostic, mismatched = (draw(c, d=d) for c in CONDITIONS)
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
    for other in (draw("aware", d=1), draw("aware", seed=1), draw("aware", spec="gpfq3"), draw("aware", subset_id="random-k4-00")):
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
        draw_calibration(LABELS, "mismatched", list(range(11)), 20, 5, seed=0, subset_id="x", spec="s", draw=0)


def test_runs_and_their_nesting_agree():
    runs = quantized_runs(3)
    assert len(runs) == len(QUANTIZED_VARIANTS) * 3 and set(v for v, _ in runs) <= set(VARIANTS)
    paths = [f"{s}/{v}-d{d}" for s in ("s1", "s2") for v, d in runs]
    nested = nest_runs(paths, ["s1", "s2"], 3)
    for s in ("s1", "s2"):
        for v in QUANTIZED_VARIANTS:
            assert nested[s][v] == [f"{s}/{v}-d{d}" for d in range(3)]
    with pytest.raises(ValueError):
        nest_runs(paths[:-1], ["s1", "s2"], 3)
