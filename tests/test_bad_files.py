"""The bad-input corpus, damaged intermediate files: every reader refuses a file that breaks its format's
invariants, or contradicts the job reading it, with one line naming the file, the field and the fix
(`snakemake --cores all --forcerun <file>`). Each case damages one file the way a user or a crash could.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from laq.io import LaqError, write_json

REBUILD = "--forcerun"


def one_line(e: pytest.ExceptionInfo, *, names: str = "") -> str:
    """The message: one line naming `names`, at most 300 characters besides the file's folder (a temp
    folder here; results/<dataset>/... in a run)."""
    msg = str(e.value)
    assert msg and "\n" not in msg and names in msg, msg
    folder = str(Path(names).parent) if "/" in names else None
    assert len(msg.replace(folder, "") if folder else msg) <= 300, msg
    return msg


# ------------------------------------------------------------------------------ quantized checkpoints


def _meta(n=5):
    return {"arch": "cifar_resnet:8:4", "num_classes": n, "input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": [f"c{i}" for i in range(n)], "preprocess": "resize"}


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """Real quantize-job outputs of a tiny model (one draw of each variant, spec gpfq 3 bits, per-channel steps)."""
    from laq.data.store import Split
    from laq.design import quantized_runs
    from laq.models.resnet import CifarResNet
    from laq.stages import quantize_subset

    d = tmp_path_factory.mktemp("q")
    torch.manual_seed(0)
    model = CifarResNet(8, 4, 5).eval()
    rng = np.random.default_rng(0)
    train = Split(rng.integers(0, 255, (40, 16, 16, 3), dtype=np.uint8), np.repeat(np.arange(5), 8))
    manifest = {"id": "random-k2-00", "classes": [0, 1]}
    spec = {"name": "g3", "method": "gpfq", "bits": 3, "granularity": "channel"}
    outputs = {(v, dr): str(d / f"{v}-d{dr}.safetensors") for v, dr in quantized_runs(1)}
    prov = {"base": {}, "finetuned": {}}
    quantize_subset((model, _meta()), (model, _meta()), train, manifest, spec, outputs, num_classes=5, n_images=4,
                    seed=0, batch_size=8, device="cpu", provenance_of=prov)
    return Path(outputs[("quant_aware", 0)])


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        (dst / (src.stem + suffix)).write_bytes(src.with_suffix(suffix).read_bytes())
    return dst / src.name


def _rewrite(path: Path, edit) -> None:
    """Load every tensor and the header, let `edit(tensors, meta)` change them, save them back."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


def _first_layer(meta):
    layers = json.loads(meta["laq.layers"])
    return sorted(layers)[0], layers


def _codes_out_of_range(tensors, meta):
    from laq.quant.checkpoint import pack_codes

    name, layers = _first_layer(meta)
    n = int(np.prod(layers[name]["shape"]))
    codes = torch.full((n,), 3, dtype=torch.int16)  # 3 bits gpfq: L = 4; 9 is outside
    codes[0] = 9
    packed, width, offset = pack_codes(codes)
    tensors[f"{name}.weight.codes"] = packed
    layers[name].update(width=width, offset=offset)
    meta["laq.layers"] = json.dumps(layers, sort_keys=True)


def _step(value):
    def edit(tensors, meta):
        name, _ = _first_layer(meta)
        s = tensors[f"{name}.weight.step"].clone()
        s[0] = value
        tensors[f"{name}.weight.step"] = s
    return edit


def _sidecar(**changes):
    def edit(side):
        for dotted, v in changes.items():
            node, *keys = [side, *dotted.split("__")]
            for k in keys[:-1]:
                node = node[k]
            node[keys[-1]] = v
    return edit


CHECKPOINT_CASES = {
    "codes-outside-alphabet": (_codes_out_of_range, None, "outside [-4, 4] of 3 bits"),
    "step-nan": (_step(float("nan")), None, "non-finite or negative step"),
    "step-inf": (_step(float("inf")), None, "non-finite or negative step"),
    "step-negative": (_step(-0.5), None, "non-finite or negative step"),
    "step-zero-with-codes": (_step(0.0), None, "0 step for non-zero codes"),
    "sidecar-bits": (None, _sidecar(quantization__layer_bits=[4] * 10), "layer_bits"),
    "sidecar-method": (None, _sidecar(quantization__spec__method="gptq"), "spec.method"),
    "sidecar-alphabet": (None, _sidecar(quantization__spec__alphabet="signed"), "spec.alphabet"),
    "sidecar-draw": (None, _sidecar(quantization__calibration__draw=2), "calibration.draw"),
    "sidecar-variant": (None, _sidecar(quantization__variant="quant_agnostic"), "quantization.variant"),
    "sidecar-spec-name": (None, _sidecar(quantization__spec__name="g4"), "spec.name"),
    "sidecar-preprocess": (None, _sidecar(preprocess="resize_crop"), "preprocess"),
    "sidecar-normalisation": (None, _sidecar(mean=[0.4, 0.5, 0.5]), "mean"),
    "sidecar-classes": (None, _sidecar(classes=[f"x{i}" for i in range(5)]), "classes"),
    "sidecar-no-record": (None, lambda side: side.pop("quantization"), "no quantization record"),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_damaged_or_contradictory_quantized_checkpoints_are_refused(quantized, tmp_path, case):
    from laq.stages import load_quantized_checkpoint

    edit_tensors, edit_side, expect = CHECKPOINT_CASES[case]
    path = _copy(quantized, tmp_path)
    if edit_tensors:
        _rewrite(path, edit_tensors)
    if edit_side:
        side = json.loads(path.with_suffix(".json").read_text())
        edit_side(side)
        write_json(path.with_suffix(".json"), side)
    with pytest.raises(LaqError) as e:
        load_quantized_checkpoint(str(path), expect={"variant": "quant_aware", "draw": 0})
    msg = one_line(e, names=str(path))
    assert expect in msg and REBUILD in msg


def test_a_checkpoint_read_as_another_variant_or_draw_is_refused(quantized):
    from laq.stages import load_quantized_checkpoint

    model, meta = load_quantized_checkpoint(str(quantized), expect={"variant": "quant_aware", "draw": 0})  # control
    assert meta["quantization"]["variant"] == "quant_aware"
    for expect in ({"variant": "quant_mismatched", "draw": 0}, {"variant": "quant_aware", "draw": 1}):
        with pytest.raises(LaqError) as e:
            load_quantized_checkpoint(str(quantized), expect=expect)
        assert "this job reads it as" in one_line(e, names=str(quantized))


def test_a_zero_step_is_accepted_where_the_row_is_all_zero(quantized, tmp_path):
    """The traversal zeroes the codes of a row whose step is 0 (an all-zero channel): that file is valid."""
    from laq.quant.checkpoint import pack_codes, unpack_codes
    from laq.stages import load_quantized_checkpoint

    def edit(tensors, meta):
        name, layers = _first_layer(meta)
        info = layers[name]
        n, rows = int(np.prod(info["shape"])), info["shape"][0]
        codes = unpack_codes(tensors[f"{name}.weight.codes"], n, info["width"], info["offset"]).reshape(rows, -1).clone()
        codes[0] = 0
        packed, info["width"], info["offset"] = pack_codes(codes)
        tensors[f"{name}.weight.codes"] = packed
        meta["laq.layers"] = json.dumps(layers, sort_keys=True)
        _step(0.0)(tensors, meta)

    path = _copy(quantized, tmp_path)
    _rewrite(path, edit)
    load_quantized_checkpoint(str(path), expect={"variant": "quant_aware", "draw": 0})
