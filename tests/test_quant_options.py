"""Alphabet, granularity, per-layer calibration and conv patch selection, each against a plain loop."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from laq.quant import QuantSpec, gpfq_codes, gptq_layer, levels, load_quantized, quantize_model, rtn, save_quantized, size_report, step_size
from laq.quant.layers import layer_rows, retained_rows, rows_per_image
from laq.quant.model import CalibrationSampler
from laq.seeding import rng, torch_generator
from test_quant import F64, SmallNet, correlated_inputs, reference_gpfq, reference_gptq, smooth_images

# ---------------------------------------------------------------- step sizes


@pytest.mark.parametrize("d", [33, 34])  # odd and even row lengths: quantiles interpolate between two values
@pytest.mark.parametrize("percentile", [0.3, 0.5, 0.75, 0.999])
def test_step_size_follows_numpy_quantile(d, percentile):
    W = torch.randn(9, d, generator=torch.Generator().manual_seed(d), dtype=F64)
    q = np.quantile(np.abs(W.numpy()), percentile, axis=1)  # numpy's default (linear) interpolation
    L = 2 ** 3
    assert step_size(W, 4, 1.3, percentile) == pytest.approx(1.3 * q.mean() / L, rel=1e-12)
    per_row = step_size(W, 4, 1.3, percentile, granularity="channel")
    np.testing.assert_allclose(per_row.numpy(), 1.3 * q / L, rtol=1e-12)
    # the median would be a different step: the test can tell them apart
    if percentile != 0.5:
        assert abs(step_size(W, 4, 1.3, percentile) - step_size(W, 4, 1.3, 0.5)) > 1e-6


def test_levels_of_the_two_alphabets():
    assert [levels(b) for b in (2, 3, 4, 8)] == [2, 4, 8, 128]  # 2^b + 1 levels
    assert [levels(b, "signed") for b in (2, 3, 4, 8)] == [1, 3, 7, 127]  # 2^b - 1 levels: fits b bits
    for b in range(2, 9):
        assert (2 * levels(b, "signed") + 1) <= 2**b < 2 * levels(b) + 1


# ---------------------------------------------------------------- per-channel steps vs plain loops


@pytest.mark.parametrize("form", ["data", "gram"])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic", "l1"])
def test_per_channel_gpfq_equals_plain_loop(form, rounding):
    gen = torch.Generator().manual_seed(5)
    X, Xq = correlated_inputs(150, 70, gen=gen, dead=(3,))
    W = torch.randn(12, 70, generator=gen, dtype=F64) * torch.linspace(0.1, 3, 12, dtype=F64)[:, None]
    W[4] = 0  # a dead row: step 0, codes 0
    steps = step_size(W, 3, granularity="channel")
    assert steps[4] == 0 and steps.unique().numel() == 12
    lam = 0.3 * float(steps.mean())
    ref = reference_gpfq(W, X, Xq, steps, 3, rounding, lam=lam, generator=torch.Generator().manual_seed(1))
    codes = gpfq_codes(W, X, Xq, step=steps, bits=3, rounding=rounding, lam=lam, generator=torch.Generator().manual_seed(1),
                       form=form, block_size=16)
    if rounding == "stochastic":  # the two draw their randoms in different shapes: check the law instead
        assert codes.abs().max() <= 4 and (codes[4] == 0).all()
        return
    live = torch.arange(12) != 4  # the loop divides by the dead row's zero step
    assert torch.equal(codes[live], ref[live]), f"{int((codes[live] != ref[live]).sum())} codes differ"
    assert (codes[4] == 0).all()
    # one step per tensor gives other codes: the per-row steps are really used
    assert not torch.equal(codes, gpfq_codes(W, X, Xq, step=float(steps.mean()), bits=3, rounding=rounding, lam=lam, form=form))


def test_per_channel_gptq_and_rtn_equal_plain_loops():
    gen = torch.Generator().manual_seed(6)
    X, _ = correlated_inputs(200, 40, gen=gen)
    W = torch.randn(10, 40, generator=gen, dtype=F64) * torch.linspace(0.2, 2, 10, dtype=F64)[:, None]
    steps = step_size(W, 4, granularity="channel")
    Q = gptq_layer(W, X, bits=4, granularity="channel")
    assert torch.equal(Q, reference_gptq(W, X, steps, 4) * steps[:, None])
    Qs = gptq_layer(W, X, bits=4, granularity="channel", alphabet="signed")
    assert torch.equal(Qs, reference_gptq(W, X, step_size(W, 4, alphabet="signed", granularity="channel"), 4, L=7)
                       * step_size(W, 4, alphabet="signed", granularity="channel")[:, None])
    R = rtn(W, bits=4, granularity="channel")
    for n in range(10):  # plain loop over rows and weights
        s = float(steps[n])
        for t in range(40):
            assert R[n, t] == s * max(-8, min(8, math.floor(float(W[n, t]) / s + 0.5)))


def test_signed_alphabet_gpfq_equals_plain_loop():
    gen = torch.Generator().manual_seed(8)
    X, Xq = correlated_inputs(120, 50, gen=gen)
    W = torch.randn(8, 50, generator=gen, dtype=F64)
    step = step_size(W, 3, alphabet="signed")
    assert step == pytest.approx(1.16 * float(W.abs().amax(dim=1).mean()) / 3, rel=1e-15)
    codes = gpfq_codes(W, X, Xq, step=step, bits=3, alphabet="signed")
    assert torch.equal(codes, reference_gpfq(W, X, Xq, step, 3, L=3))
    assert codes.abs().max() <= 3


# ---------------------------------------------------------------- in a model: storage and checkpoints


def test_bits_per_weight_is_what_the_checkpoint_stores(tmp_path):
    torch.manual_seed(2)
    net = SmallNet().double().eval()
    calib = smooth_images(8, seed=3)
    gpfq = size_report(quantize_model(net, calib, QuantSpec(method="rtn", bits=4, scalar=0.8), progress=False))
    signed = size_report(quantize_model(net, calib, QuantSpec(method="rtn", bits=4, scalar=0.8, alphabet="signed"), progress=False))
    # RTN with scalar 0.8 clips every layer's largest weights of both signs at +-L: each spans 2L + 1 levels
    assert gpfq["bits_per_weight"] == 5 and signed["bits_per_weight"] == 4
    assert signed["size_bytes"] < gpfq["size_bytes"] and signed["compression"] > gpfq["compression"]
    assert (gpfq["alphabet"], signed["alphabet"], gpfq["granularity"]) == ("gpfq", "signed", "tensor")


@pytest.mark.parametrize("method", ["gpfq", "gptq", "rtn"])
def test_per_channel_checkpoint_roundtrip(tmp_path, method):
    torch.manual_seed(3)
    net = SmallNet().double().eval()
    calib = smooth_images(8, seed=4)
    res = quantize_model(net, calib, QuantSpec(method=method, bits=3, granularity="channel"), progress=False)
    for rec in res.layers:
        w = res.model.get_submodule(rec.name).weight.detach()
        assert rec.step.shape == (rec.shape[0],) and rec.codes.abs().max() <= 4
        assert torch.equal(w, rec.codes.to(F64) * rec.step.reshape(-1, *[1] * (w.dim() - 1)))
    save_quantized(tmp_path / "q.safetensors", res)
    skeleton = SmallNet().double().eval()
    loaded = load_quantized(tmp_path / "q.safetensors", skeleton)
    x = smooth_images(4, seed=9)
    assert torch.equal(loaded(x), res.model(x))
    from safetensors import safe_open

    with safe_open(str(tmp_path / "q.safetensors"), framework="pt") as f:
        assert f.get_tensor("conv1.weight.step").shape == (8,)
    per_tensor = quantize_model(net, calib, QuantSpec(method=method, bits=3), progress=False)
    assert not torch.equal(per_tensor.layer("conv1").codes, res.layer("conv1").codes)


# ---------------------------------------------------------------- per-layer calibration


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(48, 24), nn.Linear(24, 16), nn.Linear(16, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def test_per_layer_calibration_equals_plain_loop():
    torch.manual_seed(4)
    net = MLP().double().eval()
    pool = smooth_images(40, size=4, seed=5)
    loads = []

    def load(idx):
        loads.append(list(idx))
        return pool[idx]

    sampler = CalibrationSampler(len(pool), 12, load, seed=7, key=("similar-k10-00", "g2", "aware", 1))
    res = quantize_model(net, sampler, QuantSpec(bits=3), progress=False)

    # the plain loop: layer i gets its own 12 images; both networks run from the input on them
    ref_q = MLP().double().eval()
    ref_q.load_state_dict(net.state_dict())
    layers = ["fc1", "fc2", "fc3"]
    with torch.no_grad():
        for i, name in enumerate(layers):
            idx = sorted(rng(7, "calibration-batch", "similar-k10-00", "g2", "aware", 1, i).choice(40, size=12, replace=False))
            assert res.layer(name).calibration == [int(j) for j in idx]
            x_f = x_q = torch.flatten(pool[idx], 1)
            for prev in layers[:i]:
                x_f = torch.relu(getattr(net, prev)(x_f))
                x_q = torch.relu(getattr(ref_q, prev)(x_q))
            W = getattr(net, name).weight.detach()
            step = step_size(W, 3)
            codes = reference_gpfq(W, x_f, x_q, step, 3)
            assert torch.equal(res.layer(name).codes.to(F64), codes), name
            getattr(ref_q, name).weight.copy_(codes * step)
    assert len({tuple(res.layer(n).calibration) for n in layers}) == 3  # a fresh batch per layer
    assert res.layer("fc1").rows == 12
    # one fixed set for every layer gives other codes
    fixed = quantize_model(net, pool[res.layer("fc1").calibration], QuantSpec(bits=3), progress=False)
    assert torch.equal(fixed.layer("fc1").codes, res.layer("fc1").codes)
    assert not all(torch.equal(fixed.layer(n).codes, res.layer(n).codes) for n in layers[1:])


# ---------------------------------------------------------------- conv patches


def test_kernel_patches_equal_plain_slicing():
    conv = nn.Conv2d(3, 5, 3, stride=1, padding=1).double()
    x = smooth_images(2, size=8, seed=1)
    rows = layer_rows(conv, x, "kernel")
    xp = F.pad(x, (1, 1, 1, 1))
    expected = [xp[b, :, i : i + 3, j : j + 3].reshape(-1) for b in range(2) for i in range(0, 8, 3) for j in range(0, 8, 3)]
    assert rows_per_image(conv, x, "kernel") == 9
    assert torch.equal(rows, torch.stack(expected))


def test_retained_patch_rows_feed_the_first_layer():
    torch.manual_seed(0)
    net = SmallNet().double().eval()
    calib = smooth_images(6, seed=6)
    res = quantize_model(net, calib, QuantSpec(bits=4, retain_rate=0.3, patches="kernel", seed=11), progress=False)
    X = layer_rows(net.conv1, calib, "kernel")
    per_image = X.shape[0] // 6
    keep = retained_rows(6, per_image, 0.3, torch_generator(11, "retain", 0))
    kept = keep.reshape(6, -1)
    assert kept.shape[1] == math.ceil(0.3 * per_image)
    for b in range(6):  # each image keeps its own distinct, sorted rows
        assert (kept[b] // per_image == b).all() and torch.equal(kept[b], kept[b].unique())
    W = net.conv1.weight.detach().reshape(8, -1)
    ref = reference_gpfq(W, X[keep], X[keep], step_size(W, 4), 4)
    assert torch.equal(res.layer("conv1").codes.reshape(8, -1).to(F64), ref)


# ---------------------------------------------------------------- the quantize stage in per-layer mode


def test_quantize_subset_per_layer_records_each_layers_batch(tmp_path):
    from laq.data.store import Split
    from laq.design import quantized_runs
    from laq.io import read_json
    from laq.models.arch import build_arch
    from laq.stages import quantize_subset

    torch.manual_seed(0)
    gen = np.random.default_rng(0)
    labels = np.repeat(np.arange(8), 12)
    train = Split(gen.integers(0, 256, (len(labels), 16, 16, 3), dtype=np.uint8), labels)
    meta = {"arch": "cifar_resnet:8:4", "num_classes": 8, "input_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
            "classes": [str(c) for c in range(8)]}
    model = build_arch("cifar_resnet:8:4", 8).eval()
    manifest = {"id": "similar-k3-00", "classes": [1, 4, 6]}
    runs = quantized_runs(1)
    outputs = {run: str(tmp_path / f"{run[0]}-d{run[1]}.safetensors") for run in runs}
    spec = {"name": "g3", "method": "gpfq", "bits": 3}
    quantize_subset((model, meta), (model, meta), train, manifest, spec, outputs, num_classes=8, n_images=6, seed=3,
                    batch_size=8, device="cpu", provenance_of={"base": {}, "finetuned": {}}, calibration_mode="per_layer")
    for (variant, _), path in outputs.items():
        cal = read_json(path[: -len(".safetensors")] + ".json")["quantization"]["calibration"]
        assert cal["mode"] == "per_layer" and len(cal["layer_indices"]) == 10  # ResNet-8: 9 convs + fc
        n = round(6 * 8 / 3) if variant == "quant_density" else 6  # density-matched: N * C / k per batch
        assert all(len(b) == n == len(set(b)) for b in cal["layer_indices"])
        seen = {int(labels[i]) for b in cal["layer_indices"] for i in b}
        assert seen == set(cal["image_classes"]) and seen <= set(cal["pool_classes"])
        if variant in ("quant_aware", "finetuned_quant"):
            assert set(cal["pool_classes"]) == {1, 4, 6}
        elif variant == "quant_mismatched":
            assert not set(cal["pool_classes"]) & {1, 4, 6}
        assert len({tuple(b) for b in cal["layer_indices"]}) > 1  # batches differ between layers
