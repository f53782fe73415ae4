"""benchmarks/gpu_check.py: its preset counts, its spec, its projection (the GPU run itself is the lead's)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from laq.quant import QuantSpec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stored_counts_are_the_presets(gpu_check):
    """The GPU box may lack pyyaml: the counts it falls back on must be what the presets say today."""
    stored = json.loads((ROOT / "benchmarks" / "preset_counts.json").read_text())
    assert stored == {Path(p).stem: gpu_check.preset_counts(p) for p in gpu_check.PRESETS}, \
        "run: python benchmarks/gpu_check.py --write-counts"


def test_seed_preset_counts_by_hand(gpu_check):
    c = gpu_check.preset_counts("presets/cifar100-resnet50.yaml")
    assert c["quantizations"] == 35 * 5 * 4 * 3  # subsets x specs x (3 conditions on base + 1 on fine-tuned) x draws
    assert c["evaluation_images"] == 35 * 1000 * (1 + 5 * 4 * 3) + 10_000  # 1,000 test images per subset of 10; base on all
    assert c["finetune_images"] == 35 * 5 * 5000 and c["embed_images"] == 50_000


def test_the_checks_spec_is_valid(gpu_check):
    """Where jsonschema is missing the script skips laq's option check; here it runs."""
    spec = QuantSpec.from_dict({k: v for k, v in gpu_check.SPEC.items() if k != "name"})
    assert spec.patches == "kernel" and spec.retain_rate == 0.25 and spec.bits == 4


def test_projection_arithmetic(gpu_check):
    counts = {"calibration_mode": "per_layer", "quantizations": 3600, "evaluation_images": 3600 * 100, "embed_images": 0,
              "finetune_images": 3600 * 50}
    quant = {"per_layer_s": 1.0, "fixed_s": 99.0}
    ips = {p: {"laq_ips": 100.0} for p in ("fp32", "tf32", "bf16")}
    ft = {p: {"laq_ips": 50.0} for p in ("fp32", "tf32", "bf16")}
    assert gpu_check.projection(counts, quant, ips, ft) == {p: 3.0 for p in ("fp32", "tf32", "bf16")}
