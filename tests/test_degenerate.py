"""Degenerate quantizations and diverged models are refused where they are made, each in one line that
names the cause and the setting to change (issue 27, items 1 and 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from laq.data.store import Split
from laq.data.transforms import Preprocess
from laq.io import LaqError
from laq.models.resnet import CifarResNet


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def _model():
    torch.manual_seed(0)
    return CifarResNet(8, 4, 5).eval(), torch.randn(8, 3, 16, 16)


# ------------------------------------------------------------------ 1. all-zero layers


@pytest.mark.parametrize("spec, cause", [
    ({"scalar": 1e-300}, "underflows in float32"),  # the step is 0 in float32
    ({"scalar": 1e6}, "all-zero codes"),  # every |w| / step < 1/2
    ({"scalar": 1e-300, "granularity": "channel"}, "underflows in float32"),
    ({"method": "gpfq_l1", "lam": 1e3}, "all-zero codes"),  # the threshold swallows every weight
])
def test_a_layer_quantized_to_zeros_stops_naming_layer_spec_and_settings(spec, cause):
    from laq.quant import QuantSpec, quantize_model

    model, calib = _model()
    with pytest.raises(LaqError) as e:
        quantize_model(model, calib, QuantSpec.from_dict({"bits": 4, **spec}), progress=False)
    msg = one_line(e)
    first = next(n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    assert cause in msg and f"layer {first} " in msg, msg
    assert "scalar (now" in msg and "percentile (now" in msg and "allow_degenerate: true" in msg
    if "lam" in spec:
        assert "lam (now 1000" in msg


def test_allow_degenerate_lets_a_spec_zero_its_layers():
    from laq.quant import QuantSpec, quantize_model

    model, calib = _model()
    result = quantize_model(model, calib, QuantSpec(bits=4, scalar=1e-300, allow_degenerate=True), progress=False)
    assert all(not rec.codes.any() for rec in result.layers)
    with pytest.raises(ValueError, match="allow_degenerate"):
        QuantSpec(allow_degenerate="yes")


def test_the_default_specs_never_zero_a_layer():
    """Round to nearest of the layer's largest weight is at least 1/(scalar/L) > 1/2 for the default steps
    (scalar 1.16, L >= 2): some code is nonzero; GPFQ at 2 and 3 bits checked on a model."""
    from laq.quant import QuantSpec, quantize_model

    model, calib = _model()
    for bits in (2, 3):
        result = quantize_model(model, calib, QuantSpec(bits=bits, scalar=1.16), progress=False)
        assert all(rec.codes.any() and rec.sparsity < 1 for rec in result.layers)


def test_quantize_checkpoint_names_the_spec():
    from laq.stages import quantize_checkpoint

    model, _ = _model()
    meta = {"input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3, "preprocess": "resize"}
    images = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
    with pytest.raises(LaqError) as e:
        quantize_checkpoint(model, meta, images, {"name": "tiny-step", "method": "gpfq", "bits": 4, "scalar": 1e-300},
                            batch_size=4, device="cpu")
    assert one_line(e).startswith("spec tiny-step: quantizing layer ") and "change spec tiny-step's scalar" in one_line(e)


def test_reader_and_table_refuse_all_zero_models_unless_the_spec_allows_them(tmp_path):
    from laq.models.checkpoint import save_checkpoint
    from laq.quant import QuantSpec, quantize_model, save_quantized
    from laq.quant.checkpoint import size_report
    from laq.io import read_json, write_json
    from laq.paths import sidecar
    from laq.stages import load_quantized_checkpoint
    from laq.tables import table_rows

    model, calib = _model()
    base = tmp_path / "base.safetensors"
    meta = {"arch": "cifar_resnet:8:4", "num_classes": 5, "input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": list("abcde"), "source": "train", "preprocess": "resize"}
    save_checkpoint(str(base), model, meta)
    meta = read_json(sidecar(str(base)))
    result = quantize_model(model, calib, QuantSpec(bits=4, scalar=1e-300, allow_degenerate=True), progress=False)
    path = str(tmp_path / "q.safetensors")
    save_quantized(path, result, {"spec": "zero", "variant": "quant_aware", "draw": "0"}, model_meta=meta)
    spec = {"name": "zero", "method": "gpfq", "bits": 4, "scalar": 1e-300}
    record = {"variant": "quant_aware", "calibration": {"draw": 0}, **size_report(result)}
    write_json(sidecar(path), {**meta, "quantization": {**record, "spec": spec}})
    with pytest.raises(LaqError) as e:
        load_quantized_checkpoint(path)
    assert f"quantized checkpoint {path} has all-zero weights in layer" in one_line(e) and "allow_degenerate: true" in one_line(e)
    write_json(sidecar(path), {**meta, "quantization": {**record, "spec": {**spec, "allow_degenerate": True}}})
    loaded, _ = load_quantized_checkpoint(path)
    assert all(not m.weight.any() for m in loaded.modules() if isinstance(m, torch.nn.Conv2d))

    # the table: an evaluation entry with sparsity 1.0
    entry = {"top1_all": 20.0, "top5_all": 100.0, "top1_sub": 50.0, "top5_sub": 100.0, "sha256": "0" * 64}
    manifest = {"id": "random-k2-00", "strategy": "random", "classes": [0, 1], "class_names": ["a", "b"],
                **{k: 1.0 for k in ("dist_min", "dist_max", "dist_mean", "dist_median")}}
    logits = np.eye(5, dtype=np.float32)[[0, 1, 0, 1]]
    labels = np.array([0, 1, 0, 1])
    description = {"method": "gpfq", "bits_schedule": "uniform", "bits_min": 4, "bits_max": 4, "bits_mean": 4.0,
                   "alphabet": "gpfq", "granularity": "tensor", "bits_per_weight": 0.0, "size_bytes": 1, "compression": 1.0,
                   "calibration_images": 8}
    quantized = {v: [{**entry, "sparsity": 1.0 if v == "quant_agnostic" else 0.3}]
                 for v in ("quant_aware", "quant_agnostic", "quant_mismatched", "finetuned_quant")}
    finetuned = {"finetuned": [entry]}
    with pytest.raises(LaqError) as e:
        table_rows(manifest, (logits, labels), finetuned, {**quantized, "quantization": description}, "0" * 64)
    assert "the quant_agnostic model of draw 0 has only zero weights" in one_line(e) and "allow_degenerate" in one_line(e)
    rows = table_rows(manifest, (logits, labels), finetuned, {**quantized, "quantization": {**description, "allow_degenerate": True}}, "0" * 64)
    assert len(rows) == 1


# ------------------------------------------------------------------ 2. diverged training


def _toy(n_per_class=16):
    rng = np.random.default_rng(0)
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]])
    labels = np.repeat(np.arange(4), n_per_class)
    imgs = colours[labels][:, None, None, :] + rng.normal(0, 30, (len(labels), 16, 16, 3))
    return Split(np.clip(imgs, 0, 255).astype(np.uint8), labels.astype(np.int64))


@pytest.mark.parametrize("key", ["finetune", "model.train"])
def test_a_diverging_run_stops_naming_the_learning_rate(key):
    from laq.train import TrainSettings, train_classifier

    torch.manual_seed(0)
    model = CifarResNet(8, 8, 4)
    settings = TrainSettings(epochs=2, lr=1000.0, batch_size=16, schedule="constant", crop_pad=0, config_key=key)
    with pytest.raises(LaqError) as e:
        train_classifier(model, _toy(), Preprocess(16, (0.5,) * 3, (0.25,) * 3), settings, progress=False)
    msg = one_line(e)
    assert msg.startswith("training diverged (") and f"lower {key}.lr (now 1000.0)" in msg, msg


def test_the_growth_check_and_the_eval_logits_check_each_fire():
    """Each check alone: a finite loss far above where it started, and finite training with broken eval logits."""
    from laq import train

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
    held = torch.zeros(2, 3, 2, 2)
    s = train.TrainSettings(epochs=1, lr=0.5, config_key="finetune")
    train._check_divergence(model, s, 0, 13.0, 0.2, 4, held)  # 13 < 10 x ln 4 = 13.9: ordinary
    with pytest.raises(LaqError, match=r"epoch 1's mean loss 14 is over 10x where it started, 1.39.*lower finetune.lr"):
        train._check_divergence(model, s, 0, 14.0, 0.2, 4, held)
    with torch.no_grad():
        model[1].bias[0] = float("inf")
    with pytest.raises(LaqError, match="non-finite logits in eval mode after epoch 1.*lower finetune.lr"):
        train._check_divergence(model, s, 0, 1.0, 0.2, 4, held)
    assert model.training  # handed back in training mode


def test_a_healthy_run_is_unchanged_by_the_checks(monkeypatch):
    """The eval-mode forward must not move weights or BatchNorm statistics: same weights with the check disabled."""
    from laq import train

    def weights():
        torch.manual_seed(0)
        model = CifarResNet(8, 8, 4)
        s = train.TrainSettings(epochs=2, lr=0.01, batch_size=16, crop_pad=2)
        train.train_classifier(model, _toy(), Preprocess(16, (0.5,) * 3, (0.25,) * 3), s, progress=False, threads=1)
        return torch.cat([t.flatten().float() for t in model.state_dict().values()])

    checked = weights()
    monkeypatch.setattr(train, "_check_divergence", lambda *a: None)
    assert torch.equal(checked, weights())


def test_quantizing_a_broken_finetuned_model_names_its_file_and_finetune_lr():
    from laq.quant.degenerate import check_float_model

    model, calib = _model()
    check_float_model(model, calib, "ft.safetensors", "fine-tuned", "finetune.lr")  # healthy: nothing said
    with torch.no_grad():
        model.layers[1].conv2.weight.fill_(3e38)  # finite weights, overflowing activations
    with pytest.raises(LaqError) as e:
        check_float_model(model, calib, "ft.safetensors", "fine-tuned", "finetune.lr")
    msg = one_line(e)
    assert msg.startswith("the fine-tuned checkpoint ft.safetensors gives non-finite activations at layer layers.1.conv2;")
    assert msg.endswith("re-make it with a lower finetune.lr.")
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    with pytest.raises(LaqError) as e:
        check_float_model(model, calib, "base.safetensors", "base", "model.train.lr")
    assert one_line(e) == "the base checkpoint base.safetensors has non-finite weights (fc.weight); re-make it with a lower model.train.lr."


def test_the_quantize_step_blames_the_broken_checkpoint_not_the_method(tmp_path):
    """Through laq.stages.quantize_subset (what the quantize job runs): nothing is written."""
    from laq.stages import quantize_subset

    torch.manual_seed(0)
    meta = {"input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3, "preprocess": "resize", "history": [{"epoch": 1}]}
    base, ft = CifarResNet(8, 4, 4).eval(), CifarResNet(8, 4, 4).eval()
    with torch.no_grad():
        ft.layers[0].conv2.weight.fill_(3e38)
    outputs = {("finetuned_quant", 0): str(tmp_path / "q.safetensors")}
    with pytest.raises(LaqError) as e:
        quantize_subset((base, meta), (ft, meta), _toy(), {"id": "random-k2-00", "classes": [0, 1]},
                        {"name": "g4", "method": "gpfq", "bits": 4}, outputs, num_classes=4, n_images=8, seed=0,
                        batch_size=8, device="cpu", provenance_of={}, sources={"base": "b.safetensors", "finetuned": "f.safetensors"})
    assert one_line(e) == ("the fine-tuned checkpoint f.safetensors gives non-finite activations at layer layers.0.conv2; "
                           "re-make it with a lower finetune.lr.")
    assert not list(tmp_path.iterdir())
