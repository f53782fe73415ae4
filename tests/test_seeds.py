"""Seeds as a study dimension (config `seeds`): each seed its own base model, distances, subsets and
draws under seed-<s>/, the prepared data shared, and the gains pooled over the seeds by pool_seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from test_recovery import DATA, ROOT, _copy, _make, _planned

SEEDS = {"seeds": [0, 1]}
POOLED = DATA / "pooled"


def test_a_second_seed_adds_its_own_study_and_leaves_seed_0_alone(smoke_run, tmp_path):
    work = _copy(smoke_run, tmp_path / "seeds")
    planned = _planned(work, SEEDS)
    # seed 1's own chain (3 subsets) and the pooling; nothing of seed 0 and not the shared data
    assert planned["train_base"] == 1 and planned["distance"] == 1 and planned["subset"] == 3 and planned["quantize"] == 3
    assert planned["pool_seeds"] == 1 and "prepare_data" not in planned
    seed0_table = work / ROOT / "tables/tiny_gpfq4.csv"
    before = seed0_table.stat().st_mtime_ns
    _make(work, SEEDS, str(POOLED / "findings.md"), str(POOLED / "seeds.md"))
    assert seed0_table.stat().st_mtime_ns == before

    t0, t1 = (pd.read_csv(work / DATA / f"seed-{s}/tables/tiny_gpfq4.csv") for s in (0, 1))
    assert set(t0["seed"]) == {0} and set(t1["seed"]) == {1}
    assert t0["config_hash"].iloc[0] != t1["config_hash"].iloc[0]
    b0, b1 = (json.loads((work / DATA / f"seed-{s}/models/tiny/base_metrics.json").read_text()) for s in (0, 1))
    assert b0["per_class_top1"] != b1["per_class_top1"]  # its own base model

    pooled = pd.read_csv(work / POOLED / "tiny_gpfq4_gains.csv")
    row = pooled[(pooled["comparison"] == "aware_vs_agnostic") & (pooled["mode"] == "all")]
    per = [(t.quant_aware_top1_all - t.quant_agnostic_top1_all).mean() for t in (t0, t1)]
    assert row[row.level == "seed"]["mean_pp"].to_numpy() == pytest.approx(per)
    assert row[row.level == "pooled"]["mean_pp"].iloc[0] == pytest.approx(np.mean(per))
    assert row[row.level == "pooled"]["seed_sd_pp"].iloc[0] == pytest.approx(np.std(per, ddof=1))

    text = (work / POOLED / "findings.md").read_text()
    assert text.startswith("# Findings pooled over 2 seeds: tiny on glyphs100") and "2 study seeds (0, 1)" in text
    assert f"seed 0: {b0['top1']:.1f} %, seed 1: {b1['top1']:.1f} %" in text and "## Pooled over seeds" in text
    table = (work / POOLED / "seeds.md").read_text().splitlines()
    assert table[0] == "| | seed 0 | seed 1 | pooled | t over seeds |" and any(r.startswith("| gpfq4: aware_vs_agnostic (all) |") for r in table)
    assert _planned(work, SEEDS, str(POOLED / "findings.md")) == {}  # up to date
