"""The engine, traversal, preprocessing, evaluation and fine-tuning on a GPU, against the CPU.

Run with `pytest -m cuda` on a machine with a CUDA GPU; skipped elsewhere. Float64 runs must give
the CPU's codes exactly; float32 runs (TF32 off, as laq quantizes) agree on most codes.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# a GPU box may lack tqdm / jsonschema: benchmarks/gpu_check.py puts in stand-ins on import, before laq loads
_gc = importlib.util.spec_from_file_location("gpu_check", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py")
_gc.loader.exec_module(importlib.util.module_from_spec(_gc))

import numpy as np
import pytest
import torch

from laq.data.store import Split
from laq.data.transforms import Preprocess, random_crop
from laq.device import compute_record, precision_mode
from laq.evaluate import predict_logits
from laq.models.resnet import CifarResNet
from laq.quant import QuantSpec, gpfq_codes, gptq_layer, quantize_model, step_size
from laq.stages import quantize_checkpoint
from laq.train import TrainSettings, train_classifier
from test_quant import SHAPES, SmallNet, correlated_inputs, reference_gpfq, smooth_images

# LAQ_CUDA_TESTS_DEVICE=cpu runs these tests' logic on the CPU (a dry run of the file where no GPU is)
DEV = os.environ.get("LAQ_CUDA_TESTS_DEVICE", "cuda")
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(DEV == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")]

F64 = torch.float64
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def _uint8(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("N,d,m,bits", SHAPES)
@pytest.mark.parametrize("form", ["data", "gram"])
def test_engine_on_gpu_equals_reference_float64(N, d, m, bits, form):
    gen = torch.Generator().manual_seed(N * d + m)
    X, Xq = correlated_inputs(m, d, gen=gen, dead=(3, 11))
    W = torch.randn(N, d, generator=gen, dtype=F64)
    step = step_size(W, bits)
    ref = reference_gpfq(W, X, Xq, step, bits)
    with precision_mode("fp32", DEV):
        codes = gpfq_codes(W.to(DEV), X.to(DEV), Xq.to(DEV), step=step, bits=bits, form=form)
    assert codes.device.type == DEV and torch.equal(codes.cpu(), ref)


def test_gptq_on_gpu_equals_cpu_float64():
    gen = torch.Generator().manual_seed(3)
    X, _ = correlated_inputs(400, 96, gen=gen)
    W = torch.randn(24, 96, generator=gen, dtype=F64)
    cpu = gptq_layer(W, X, bits=4)
    gpu = gptq_layer(W.to(DEV), X.to(DEV), bits=4)
    assert torch.equal(gpu.cpu(), cpu)


def test_traversal_on_gpu_equals_cpu_float64():
    torch.manual_seed(0)
    net = SmallNet().double().eval()
    calib = smooth_images(10, seed=1)
    cpu = quantize_model(net, calib, QuantSpec(bits=4), progress=False)
    with precision_mode("fp32", DEV):
        gpu = quantize_model(net.to(DEV), calib.to(DEV), QuantSpec(bits=4), progress=False)
    net.cpu()
    assert [r.name for r in gpu.layers] == [r.name for r in cpu.layers]
    for a, b in zip(cpu.layers, gpu.layers):
        assert torch.equal(a.codes, b.codes), a.name
        assert a.rel_error == pytest.approx(b.rel_error, rel=1e-9)
    assert next(gpu.model.parameters()).device.type == DEV


def test_per_layer_quantize_checkpoint_on_gpu_follows_the_cpu():
    """The seed's per-layer protocol (uint8 pool on the device, kernel patches, retain) on a GPU: same
    batches as on the CPU, fp32 codes mostly equal, and two GPU runs identical."""
    torch.manual_seed(1)
    model = CifarResNet(8, 10, 16).eval()
    meta = {"input_size": 40, "mean": list(MEAN), "std": list(STD), "preprocess": "resize_crop"}
    pool = _uint8(50, seed=2)
    spec = {"method": "gpfq", "bits": 4, "scalar": 1.16, "patches": "kernel", "retain_rate": 0.25}
    run = lambda dev: quantize_checkpoint(model, meta, pool, spec, batch_size=8, device=dev, seed=3, per_layer=(12, ("k",)))  # noqa: E731
    cpu = run("cpu")
    gpu, again = run(DEV), run(DEV)
    model.cpu()
    agree = [float((a.codes == b.codes).float().mean()) for a, b in zip(cpu.layers, gpu.layers)]
    assert [r.calibration for r in gpu.layers] == [r.calibration for r in cpu.layers]
    assert agree[0] == 1.0 and np.mean(agree) > 0.8, agree
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(gpu.layers, again.layers))


def test_preprocess_on_gpu_matches_cpu():
    images = torch.from_numpy(_uint8(6, seed=4))
    for size, mode in ((224, "resize_crop"), (56, "resize"), (32, "resize")):
        p = Preprocess(size, MEAN, STD, mode)
        cpu, gpu = p(images), p(images.to(DEV))
        assert gpu.device.type == DEV and gpu.dtype == torch.float32
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-5)


def test_random_crop_on_gpu_is_the_cpu_crop():
    x = torch.from_numpy(_uint8(5, size=8, seed=5))
    a = random_crop(x, 2, torch.Generator().manual_seed(1))
    b = random_crop(x.to(DEV), 2, torch.Generator().manual_seed(1))
    assert torch.equal(a, b.cpu())


@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
def test_evaluation_on_gpu_matches_cpu(precision):
    torch.manual_seed(0)
    model = CifarResNet(8, 10, 16).eval()
    images = _uint8(64, size=16, seed=6)
    pre = Preprocess(16, MEAN, STD)
    cpu = predict_logits(model, images, pre, batch_size=20, progress=False)
    gpu = predict_logits(model, images, pre, batch_size=20, device=DEV, progress=False, precision=precision)
    assert gpu.dtype == np.float32 and gpu.shape == cpu.shape
    assert (gpu.argmax(1) == cpu.argmax(1)).mean() >= (0.99 if precision == "fp32" else 0.85)
    if precision == "fp32":
        np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4)
    assert next(model.parameters()).is_contiguous()  # channels-last only while predicting


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n // 4)
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]])
    imgs = colours[labels][:, None, None, :] + rng.normal(0, 30, (n, 16, 16, 3))
    return Split(np.clip(imgs, 0, 255).astype(np.uint8), labels.astype(np.int64))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_finetuning_on_gpu_learns_and_follows_the_cpu(precision):
    data, pre = _toy(), Preprocess(16, MEAN, STD)
    settings = TrainSettings(epochs=3, lr=0.01, batch_size=16, crop_pad=2)
    torch.manual_seed(0)
    a = CifarResNet(8, 4, 16)
    b = CifarResNet(8, 4, 16)
    b.load_state_dict(a.state_dict())
    cpu = train_classifier(a, data, pre, settings, seed=2, progress=False)
    gpu = train_classifier(b, data, pre, settings, seed=2, device=DEV, progress=False, precision=precision)
    assert gpu[-1]["loss"] < gpu[0]["loss"]
    # same batches, crops and start: the first epoch's mean loss is close (bf16 rounds every activation)
    assert gpu[0]["loss"] == pytest.approx(cpu[0]["loss"], rel=0.2 if precision == "bf16" else 0.02)
    assert all(p.device.type == DEV and p.is_contiguous() for p in b.parameters())


def test_finetuning_on_gpu_is_repeatable():
    data, pre = _toy(), Preprocess(16, MEAN, STD)
    settings = TrainSettings(epochs=1, lr=0.01, batch_size=16, crop_pad=2, schedule="constant")
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        m = CifarResNet(8, 4, 16)
        train_classifier(m, data, pre, settings, seed=2, device=DEV, progress=False)
        states.append({k: v.cpu() for k, v in m.state_dict().items()})
    same = all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    close = all(torch.allclose(states[0][k].float(), states[1][k].float(), atol=1e-4) for k in states[0])
    assert close, "two GPU fine-tunings drifted apart"
    if not same:
        pytest.xfail("cuDNN's backward is not bitwise deterministic here (close, not identical)")


def test_compute_record_names_the_gpu():
    with precision_mode("tf32", DEV):
        rec = compute_record(DEV, "tf32")
    assert rec["device_type"] == DEV and rec["tf32_conv"] and rec["tf32_matmul"]
    if DEV == "cuda":
        assert rec["device"] == torch.cuda.get_device_name(0) and rec["cuda"] == torch.version.cuda
