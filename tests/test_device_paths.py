"""The device-aware paths give on the CPU exactly what the plain code gave before them: preprocessing,
crops, evaluation, training, per-layer calibration; and the precision / device records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from laq.compute import device_column, device_statement
from laq.data.store import Split
from laq.data.transforms import Preprocess, crop_window, random_crop
from laq.device import PRECISIONS, compute_record, precision_mode
from laq.evaluate import predict_logits
from laq.io import LaqError
from laq.models.resnet import CifarResNet
from laq.quant import QuantSpec, quantize_model
from laq.quant import model as qmodel
from laq.quant.model import CalibrationSampler
from laq.train import TrainSettings, onednn_trains_reliably, set_seed, train_classifier

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def _uint8(n, size=32, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def reference_preprocess(images, size, mode):
    """Today's preprocessing written out: [0,1] floats, antialiased bilinear resize, centre crop, normalise."""
    x = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    if mode == "resize_crop":
        r = round(size * 256 / 224)
        x = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
        o = crop_window(r, size)
        x = x[..., o : o + size, o : o + size]
    elif x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


@pytest.mark.parametrize("size,mode", [(224, "resize_crop"), (56, "resize"), (32, "resize"), (40, "resize_crop")])
def test_preprocess_is_bitwise_todays(size, mode):
    images = _uint8(3, seed=size)
    got = Preprocess(size, MEAN, STD, mode)(images)
    assert got.dtype == torch.float32 and got.shape == (3, 3, size, size)
    assert torch.equal(got, reference_preprocess(images, size, mode))


def test_random_crop_is_todays_draws_and_shifts():
    x = _uint8(5, size=8, seed=3)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    got = random_crop(x, 2, g1)
    dy = torch.randint(0, 5, (5,), generator=g2)
    dx = torch.randint(0, 5, (5,), generator=g2)
    padded = F.pad(x, (0, 0, 2, 2, 2, 2))
    for i in range(5):
        assert torch.equal(got[i], padded[i, dy[i] : dy[i] + 8, dx[i] : dx[i] + 8])


def test_predict_logits_equals_a_plain_loop():
    torch.manual_seed(0)
    model = CifarResNet(8, 5, 4).eval()
    images = _uint8(13, size=16, seed=1).numpy()
    pre = Preprocess(16, MEAN, STD)
    got = predict_logits(model, images, pre, batch_size=5, progress=False)
    with torch.inference_mode():
        ref = torch.cat([model(pre(torch.from_numpy(images[i : i + 5]))) for i in range(0, 13, 5)]).numpy()
    assert np.array_equal(got, ref)


def _toy(n=48, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n // 4)
    colours = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]])
    imgs = colours[labels][:, None, None, :] + rng.normal(0, 30, (n, 12, 12, 3))
    return Split(np.clip(imgs, 0, 255).astype(np.uint8), labels.astype(np.int64))


def test_training_equals_a_plain_loop_bit_for_bit():
    """Device-resident batches, crops drawn per epoch and losses summed once per epoch change nothing on the CPU."""
    data, pre = _toy(), Preprocess(12, MEAN, STD)
    settings = TrainSettings(epochs=2, lr=0.01, batch_size=20, crop_pad=2, schedule="constant")
    torch.manual_seed(1)
    a = CifarResNet(8, 4, 4)
    b = CifarResNet(8, 4, 4)
    b.load_state_dict(a.state_dict())
    hist = train_classifier(a, data, pre, settings, seed=3, progress=False, threads=1)

    # the loop as it was: everything on the host, one .item() per step
    was, was_onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = was_onednn and onednn_trains_reliably(b)
    try:
        gen = set_seed(3)
        b.train()
        images, labels = torch.from_numpy(data.images), torch.from_numpy(data.labels)
        opt = torch.optim.AdamW(b.parameters(), lr=0.01, weight_decay=settings.weight_decay)
        ref_hist = []
        for epoch in range(2):
            perm = torch.randperm(len(labels), generator=gen)
            total = 0.0
            for s in range(0, len(labels), 20):
                idx = perm[s : s + 20]
                x = random_crop(images[idx], 2, gen)
                loss = F.cross_entropy(b(pre(x)), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            ref_hist.append(total / len(labels))
    finally:
        torch.set_num_threads(was)
        torch.backends.mkldnn.enabled = was_onednn
    assert [h["loss"] for h in hist] == ref_hist
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_per_layer_calibration_codes_equal_the_prefix_rerun():
    """Per-layer calibration of a conv net (kernel patches, retained rows) through the traced runner
    gives the codes of re-running each network prefix with hooks (the runner of the untraced fallback)."""
    torch.manual_seed(2)
    net = CifarResNet(8, 6, 4).eval()
    pool = torch.randn(30, 3, 16, 16)
    spec = QuantSpec(bits=4, scalar=1.16, patches="kernel", retain_rate=0.25, seed=5)

    def sampler():
        return CalibrationSampler(30, 6, lambda idx: pool[list(idx)], seed=9, key=("s", 1))

    fast = quantize_model(net, sampler(), spec, progress=False)
    original = qmodel._trace
    qmodel._trace = lambda model, names: (None, [])
    try:
        slow = quantize_model(net, sampler(), spec, progress=False)
    finally:
        qmodel._trace = original
    assert [r.name for r in fast.layers] == [r.name for r in slow.layers]
    for a, b in zip(fast.layers, slow.layers):
        assert torch.equal(a.codes, b.codes), a.name
        assert a.calibration == b.calibration and a.rel_error == b.rel_error


class _Scaled(nn.Module):
    def __init__(self, scale, bias=0.0):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.bias.fill_(bias)
        self.fc = nn.Linear(4, 2)
        self.scale = scale

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.conv(x * self.scale), 1), 1))


def test_non_finite_outputs_are_still_refused():
    """Finite weights, inputs and codes (RTN reads no data), but the float conv's outputs overflow."""
    torch.manual_seed(0)
    with pytest.raises(LaqError, match="layer conv gives non-finite outputs"):
        quantize_model(_Scaled(1e37, bias=3.4e38), torch.rand(4, 3, 8, 8), QuantSpec(method="rtn", bits=4), progress=False)


def test_outputs_too_large_to_square_are_finite_and_keep_their_error():
    """A norm can overflow on finite outputs: the elementwise check then clears them, and the relative
    error is what the two norms give, as before the check was made cheap."""
    torch.manual_seed(0)
    net = _Scaled(1e19)
    calib = torch.rand(4, 3, 8, 8)
    res = quantize_model(net, calib, QuantSpec(method="rtn", bits=4), progress=False)
    with torch.no_grad():
        out_f, out_q = net.conv(calib * 1e19), res.model.conv(calib * 1e19)
    assert torch.isfinite(out_f).all() and not math.isfinite(float(torch.linalg.vector_norm(out_f)))
    num, den = float(torch.linalg.vector_norm(out_f - out_q)), float(torch.linalg.vector_norm(out_f - net.conv.bias.view(-1, 1, 1)))
    expected = num / den if den > 0 else (0.0 if num == 0 else math.inf)
    got = res.layer("conv").rel_error
    assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_precision_mode_sets_and_restores_tf32_flags():
    torch.backends.cudnn.allow_tf32 = True  # torch's default for convolutions
    torch.backends.cuda.matmul.allow_tf32 = False
    with precision_mode("tf32", "cpu"):
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        assert compute_record("cpu", "tf32")["tf32_matmul"] is True
    with precision_mode("fp32", "cpu"):
        rec = compute_record("cpu", "fp32")
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    with precision_mode("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
    assert torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert rec["device"] == "cpu" and rec["precision"] == "fp32" and rec["tf32_conv"] is False
    assert rec["torch"] == torch.__version__ and rec["cuda"] is None and rec["threads"] >= 1
    assert set(PRECISIONS) == {"fp32", "tf32", "bf16"}
    with pytest.raises(LaqError, match="precision 'fp16'"):
        with precision_mode("fp16", "cpu"):
            pass


def test_bf16_evaluation_agrees_with_fp32_mostly():
    torch.manual_seed(0)
    model = CifarResNet(8, 5, 4).eval()
    images = _uint8(20, size=16, seed=2).numpy()
    pre = Preprocess(16, MEAN, STD)
    a = predict_logits(model, images, pre, progress=False)
    b = predict_logits(model, images, pre, progress=False, precision="bf16")
    assert a.dtype == b.dtype == np.float32 and not np.array_equal(a, b)
    assert np.abs(a - b).max() < 0.1 * np.abs(a).max() + 1e-3


def test_device_statement_warns_when_rows_mix_devices():
    found = {"finetuned": {"made_on": "cpu fp32", "evaluated_on": "cpu fp32"},
             "quant_aware": {"made_on": "NVIDIA H200 fp32", "evaluated_on": "cpu fp32"}, "original": {}}
    col = device_column(found)
    assert col == "made NVIDIA H200 fp32 + cpu fp32; evaluated cpu fp32"
    one = pd.DataFrame({"device": [col, col]})
    assert "one device set" in device_statement(one)
    mixed = pd.DataFrame({"device": [col, "made cpu fp32; evaluated cpu fp32"]})
    assert device_statement(mixed).startswith("WARNING") and "2 different device sets" in device_statement(mixed)
    assert "do not record" in device_statement(pd.DataFrame({"x": [1]}))


@pytest.mark.parametrize("layer", [nn.Conv2d(4, 6, 1), nn.Conv2d(4, 6, 1, stride=2), nn.Conv2d(4, 6, 3, padding=1),
                                   nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.Conv2d(4, 6, 1, padding=1), nn.Linear(5, 3)])
@pytest.mark.parametrize("patches", ["conv", "kernel"])
def test_selected_rows_are_the_rows_selected(layer, patches):
    """Copying out only the retained rows gives exactly the retained rows of the full matrix."""
    from laq.quant.layers import layer_rows

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 9, 9, generator=gen) if isinstance(layer, nn.Conv2d) else torch.randn(3, 7, 5, generator=gen)
    full = layer_rows(layer, x, patches)
    select = torch.randperm(full.shape[0], generator=gen)[: full.shape[0] // 3].sort().values
    assert torch.equal(layer_rows(layer, x, patches, select=select), full[select])
