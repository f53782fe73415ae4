"""`--config` overrides of nested keys (issue 24, item 6): Snakemake leaves nested values strings; laq types them
as a config file would, so `--config "finetune={epochs: 2}"` works."""

from __future__ import annotations

from conftest import REPO, run_snakemake

from laq.config import typed_overrides

SMOKE = str(REPO / "presets" / "smoke.yaml")


def test_nested_command_line_values_are_typed_like_a_config_file():
    given = {"seed": 3, "results": "out", "finetune": {"epochs": "2", "lr": "1e-3", "augment": "false"},
             "quantization": {"specs": [{"name": "g4", "method": "gpfq", "bits": "4", "skip": ["fc"]}]},
             "dataset": {"root": "null", "name": "cifar10"}, "model": {"source": "timm:resnet18"}}
    assert typed_overrides(given) == {
        "seed": 3, "results": "out", "finetune": {"epochs": 2, "lr": 0.001, "augment": False},
        "quantization": {"specs": [{"name": "g4", "method": "gpfq", "bits": 4, "skip": ["fc"]}]},
        "dataset": {"root": None, "name": "cifar10"}, "model": {"source": "timm:resnet18"}}
    assert type(typed_overrides({"a": {"b": "2"}})["a"]["b"]) is int


def test_config_overrides_a_nested_key_from_the_command_line(tmp_path):
    ok = run_snakemake(tmp_path, "-n", "--configfile", SMOKE, "--config", "finetune={epochs: 2, lr: 1e-3}", check=False)
    assert ok.returncode == 0, (ok.stdout + ok.stderr)[-2000:]
    bad = run_snakemake(tmp_path, "-n", "--configfile", SMOKE, "--config", "finetune={epochs: -1}", check=False)
    said = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "finetune.epochs" in said and "Traceback" not in said, said[-2000:]
