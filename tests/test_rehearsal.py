"""presets/rehearsal.yaml: the seed presets' shapes offline. CI plans it (a dry run); `pytest -m rehearsal`
runs it end to end (35 min alone on 2 cores, measured 2026-12-04; longer on a shared machine)."""

import csv

import pytest
import yaml

from conftest import REPO, run_snakemake

PRESET = REPO / "presets" / "rehearsal.yaml"


def test_rehearsal_keeps_the_seed_protocol():
    r, seed = (yaml.safe_load((REPO / "presets" / f).read_text()) for f in ("rehearsal.yaml", "cifar100-resnet50.yaml"))
    for key in ("input_size", "preprocess"):
        assert r["model"][key] == seed["model"][key]
    assert r["model"]["source"] == "torchvision:resnet50" and r["model"]["pretrained"] is False
    assert r["finetune"] == {**seed["finetune"], "epochs": r["finetune"]["epochs"]}  # no augmentation, same optimiser
    for key in ("calibration_images", "calibration_mode", "batch_size"):
        assert r["quantization"][key] == seed["quantization"][key]
    assert all(s in seed["quantization"]["specs"] for s in r["quantization"]["specs"]) and len(r["quantization"]["specs"]) >= 2
    # conditions the seed presets have (not the default's density control, 10x the images per layer)
    assert set(r["quantization"]["conditions"]) <= set(seed["quantization"]["conditions"])
    assert r["dataset"]["name"] == "glyphs100" and r["dataset"].get("image_size", 32) == 32  # 32 px, as CIFAR


def test_rehearsal_plans_every_stage(tmp_path):
    out = run_snakemake(tmp_path, "-n", "--cores", "2", "--configfile", str(PRESET)).stdout
    for rule, n in {"quantize": 4, "finetune": 2, "evaluate": 2, "embed": 1, "distance": 1, "findings": 1}.items():
        assert f"\n{rule} " in out and any(line.split() == [rule, str(n)] for line in out.splitlines()), (rule, out[-2000:])


@pytest.mark.rehearsal
def test_rehearsal_runs_end_to_end(request, tmp_path):
    if "rehearsal" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: pytest -m rehearsal (about 35 min on 2 cores)")
    run_snakemake(tmp_path, "--cores", "2", "--configfile", str(PRESET), timeout=4 * 3600)
    data = tmp_path / "results" / "glyphs100"
    results = data / "seed-0"
    for spec in ("gpfq4", "gpfq-mp-desc"):
        with open(results / "tables" / f"resnet50_{spec}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 2 and all(0 <= float(r["quant_aware_top1_all"]) <= 100 for r in rows)
    assert {p.parent.name for p in (data / "benchmarks").rglob("*.tsv")} >= {"quantize", "finetune", "evaluate", "embed"}
    assert (results / "findings.md").stat().st_size > 0
