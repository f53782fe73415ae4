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


def test_every_config_key_has_a_description():
    """Each key a user can set says what it does, in the schema (on the key, or on the definition it refers to)."""
    import yaml

    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    defs = schema["$defs"]

    def described(node):
        ref = node.get("$ref", "")
        return "description" in node or (ref.startswith("#/$defs/") and "description" in defs[ref.split("/")[-1]])

    missing, leaves = [], 0

    def walk(node, path):
        nonlocal leaves
        for key, sub in node.get("properties", {}).items():
            nested = [sub] + [o for o in sub.get("oneOf", []) if isinstance(o, dict)]
            objects = [o for o in nested if "properties" in o]
            items = [o["items"] for o in nested if isinstance(o.get("items"), dict) and "properties" in o["items"]]
            for o in objects + items:
                walk(o, f"{path}{key}.")
            if not objects and not items:
                leaves += 1
                if not described(sub):
                    missing.append(path + key)

    walk(schema, "")
    assert leaves > 60 and not missing, missing
