import copy

import pytest
import yaml

from laq.config import validate_config
from laq.io import LaqError
from conftest import REPO

DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def with_change(path: str, value):
    cfg = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node = cfg
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return cfg


def test_default_and_presets_are_valid():
    validate_config(copy.deepcopy(DEFAULT))
    for preset in (REPO / "presets").glob("*.yaml"):
        cfg = copy.deepcopy(DEFAULT)
        for k, v in yaml.safe_load(preset.read_text()).items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
        validate_config(cfg)


@pytest.mark.parametrize(
    "path, value, expect",
    [
        ("quantization.specs.0.bits", 1, "quantization.specs[0].bits"),
        ("quantization.specs.0.bits", 9, "quantization.specs[0].bits"),
        ("subsets.size", 101, "subsets.size"),
        ("subsets.size", 1, "subsets.size"),
        ("model.source", "hugging:face", "model.source"),
        ("finetune.epochs", -1, "finetune.epochs"),
        ("dataset.name", "mnist", "glyphs100"),
        ("bogus", 1, "unknown key bogus"),
        ("quantization.conditions", ["agnostic"], "must include aware"),
        ("quantization.conditions", ["aware", "dense"], "quantization.conditions"),
        ("similarity.distance", "hellinger", "similarity.distance"),
        ("subsets.max_jaccard", 0, "subsets.max_jaccard"),
        ("subsets.size", [2, 101], "subsets.size = 101"),
        ("quantization.specs.0.calibration_images", 10**5, "quantization.specs[0].calibration_images"),
    ],
)
def test_bad_values_are_named(path, value, expect):
    with pytest.raises(LaqError) as e:
        validate_config(with_change(path, value))
    msg = str(e.value)
    assert expect in msg and "\n" not in msg


def test_duplicate_spec_names_rejected():
    cfg = copy.deepcopy(DEFAULT)
    cfg["quantization"]["specs"].append(dict(cfg["quantization"]["specs"][0]))
    with pytest.raises(LaqError, match=f"duplicate names {cfg['quantization']['specs'][0]['name']}"):
        validate_config(cfg)


def test_mixtures_need_fixed_calibration_and_knn_needs_kl():
    cfg = with_change("quantization.conditions", ["aware", "mix25"])
    validate_config(copy.deepcopy(cfg))
    cfg["quantization"]["calibration_mode"] = "per_layer"
    with pytest.raises(LaqError, match="mix25 fix the share"):
        validate_config(cfg)
    cfg = with_change("similarity.method", "knn")
    cfg["similarity"]["distance"] = "bhattacharyya"
    with pytest.raises(LaqError, match="similarity.distance"):
        validate_config(cfg)
    cfg["similarity"]["distance"] = "kl"
    validate_config(cfg)
