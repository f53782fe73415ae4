"""laq.quant: the fast engines against plain loops written from the formulas, and the model-level API."""

from __future__ import annotations

import csv
import json
import math
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from laq.io import LaqError
from laq.models.resnet import CifarResNet
from laq.quant import (
    QuantSpec,
    gpfq_codes,
    gpfq_gram,
    gpfq_layer,
    gptq_gram,
    gptq_layer,
    load_quantized,
    lower_gram,
    make_rounder,
    pack_codes,
    quantize_model,
    quantized_size_bytes,
    rtn,
    save_quantized,
    size_report,
    step_size,
    unpack_codes,
    write_layer_table,
)

F64 = torch.float64


# ---------------------------------------------------------------- reference loops (the tests' own)


def reference_quantizer(x, step, L, rounding="nearest", lam=0.0, generator=None):
    """Q(x) on the alphabet {k step : |k| <= L}, straight from the definitions."""
    if rounding == "stochastic":
        r = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        lo = torch.floor(x / step)
        return step * (lo + (r < x / step - lo).to(x.dtype)).clamp(-L, L)
    if rounding == "l1":
        x = torch.sign(x) * (x.abs() - lam).clamp(min=0)
    q = torch.sign(x) * step * torch.minimum(torch.floor(x / step + 0.5).abs(), torch.tensor(float(L), dtype=x.dtype))
    if rounding == "l0":
        q = torch.where(x.abs() <= lam, torch.zeros_like(q), q)
    return q


def reference_gpfq(W, X, Xq, step, bits, rounding="nearest", lam=0.0, generator=None, L=None):
    """GPFQ as in the seed: u is the N x m error matrix, one column of W at a time. Returns codes.
    step: a float or one per row (per-channel); L: the largest code (default 2^(bits-1))."""
    L = 2 ** (bits - 1) if L is None else L
    N, d = W.shape
    u = torch.zeros(N, X.shape[0], dtype=W.dtype)
    Q = torch.zeros_like(W)
    for t in range(d):
        u += torch.outer(W[:, t], X[:, t])
        norm2 = Xq[:, t] @ Xq[:, t]
        arg = u @ Xq[:, t] / norm2 if norm2 > 0 else torch.zeros(N, dtype=W.dtype)
        Q[:, t] = reference_quantizer(arg, step, L, rounding, lam, generator)
        u -= torch.outer(Q[:, t], Xq[:, t])
    s = step[:, None] if isinstance(step, torch.Tensor) else step
    return torch.round(Q / s)


def reference_gptq(W, X, step, bits, damp=0.01, L=None):
    """GPTQ as sequential optimal-brain-surgeon updates with an explicitly shrunk inverse Hessian.
    step: a float or one per row."""
    L = 2 ** (bits - 1) if L is None else L
    H = X.T @ X
    H = H + damp * H.diagonal().mean() * torch.eye(H.shape[0], dtype=H.dtype)
    Hinv = torch.linalg.inv(H)
    W = W.clone()
    C = torch.zeros_like(W)
    for i in range(W.shape[1]):
        C[:, i] = torch.floor(W[:, i] / step + 0.5).clamp(-L, L)
        err = (W[:, i] - C[:, i] * step) / Hinv[i, i]
        W -= torch.outer(err, Hinv[i])  # column i itself becomes q_i; earlier columns have Hinv[i, :i] = 0
        Hinv = Hinv - torch.outer(Hinv[:, i], Hinv[i]) / Hinv[i, i]
    return C


def correlated_inputs(m, d, *, gen, dtype=F64, dead=(), noise=0.05):
    """Nonnegative, correlated inputs (like post-ReLU activations) and a perturbed copy; `dead`
    columns are zero in both, column dead[-1] + 1 (if any) only in Xq."""
    base = torch.randn(m, max(4, d // 8), generator=gen, dtype=dtype)
    X = (base @ torch.randn(base.shape[1], d, generator=gen, dtype=dtype)).relu()
    Xq = X + noise * torch.randn(m, d, generator=gen, dtype=dtype)
    for t in dead:
        X[:, t] = 0
        Xq[:, t] = 0
    if dead:
        Xq[:, dead[-1] + 1] = 0
    return X, Xq


# ---------------------------------------------------------------- layer engine: exactness


SHAPES = [  # N, d, m, bits
    (16, 40, 300, 4),
    (8, 300, 50, 3),  # m < d
    (32, 200, 1000, 2),
    (5, 260, 400, 8),
    (70, 129, 90, 3),  # m < d, a block boundary one past 128
]


@pytest.mark.parametrize("N,d,m,bits", SHAPES)
@pytest.mark.parametrize("form", ["data", "gram"])
def test_gpfq_codes_equal_reference_float64(N, d, m, bits, form):
    gen = torch.Generator().manual_seed(N * d + m)
    X, Xq = correlated_inputs(m, d, gen=gen, dead=(3, 11))
    W = torch.randn(N, d, generator=gen, dtype=F64)
    step = step_size(W, bits)
    ref = reference_gpfq(W, X, Xq, step, bits)
    for block in (7, 128):
        codes = gpfq_codes(W, X, Xq, step=step, bits=bits, form=form, block_size=block)
        assert torch.equal(codes, ref), f"block {block}: {(codes != ref).sum()} codes differ"
    assert (ref[:, 3] == 0).all() and (ref[:, 12] == 0).all()  # dead inputs quantize to 0
    assert ref.abs().max() <= 2 ** (bits - 1)


def test_gpfq_shared_input_and_layer_values():
    gen = torch.Generator().manual_seed(1)
    X, _ = correlated_inputs(200, 60, gen=gen)
    W = torch.randn(12, 60, generator=gen, dtype=F64)
    step = step_size(W, 4, scalar=1.16, percentile=1.0)
    ref = reference_gpfq(W, X, X, step, 4)
    assert torch.equal(gpfq_codes(W, X, None, step=step, bits=4, form="data"), ref)
    assert torch.equal(gpfq_codes(W, X, None, step=step, bits=4, form="gram"), ref)
    Q = gpfq_layer(W, X, X, bits=4)
    assert torch.equal(Q, ref * step)


def test_gram_form_accumulated_over_batches():
    gen = torch.Generator().manual_seed(2)
    X, Xq = correlated_inputs(900, 150, gen=gen, dead=(5,))
    W = torch.randn(20, 150, generator=gen, dtype=F64)
    step = step_size(W, 3)
    G = H = None
    for i0 in range(0, 900, 250):
        Xb, Xqb = X[i0 : i0 + 250].unsqueeze(0), Xq[i0 : i0 + 250].unsqueeze(0)
        H = lower_gram(Xqb, out=H, block=64)  # exercises the triangular blocks
        G = lower_gram(Xqb, Xb, out=G)
    Q = gpfq_gram(W, G[0], H[0], step=step, bits=3)
    assert torch.equal(Q / step, reference_gpfq(W, X, Xq, step, 3))
    assert torch.allclose(torch.tril(H[0]), torch.tril(Xq.T @ Xq))


def test_float32_codes_agree_with_reference():
    gen = torch.Generator().manual_seed(3)
    X, Xq = correlated_inputs(3000, 576, gen=gen, dtype=torch.float32)
    W = torch.randn(64, 576, generator=gen) / 24
    step = step_size(W, 4)
    ref = reference_gpfq(W, X, Xq, step, 4)
    ref64 = reference_gpfq(W.double(), X.double(), Xq.double(), step, 4)
    codes = gpfq_codes(W, X, Xq, step=step, bits=4)
    assert (codes == ref).double().mean() >= 0.999
    assert (codes == ref64).double().mean() >= 0.999


def test_sgpfq_equals_reference_with_the_same_generator():
    gen = torch.Generator().manual_seed(4)
    X, Xq = correlated_inputs(400, 90, gen=gen, dead=(7,))
    W = torch.randn(10, 90, generator=gen, dtype=F64)
    step = step_size(W, 3)
    ref = reference_gpfq(W, X, Xq, step, 3, "stochastic", generator=torch.Generator().manual_seed(9))
    codes = gpfq_codes(W, X, Xq, step=step, bits=3, rounding="stochastic", generator=torch.Generator().manual_seed(9), block_size=16)
    assert torch.equal(codes, ref)
    other = gpfq_codes(W, X, Xq, step=step, bits=3, rounding="stochastic", generator=torch.Generator().manual_seed(10))
    assert not torch.equal(other, codes)  # the randomness is really used


@pytest.mark.parametrize("rounding", ["l0", "l1"])
def test_sparse_gpfq_equals_reference_and_is_sparser(rounding):
    gen = torch.Generator().manual_seed(5)
    X, Xq = correlated_inputs(300, 80, gen=gen)
    W = torch.randn(16, 80, generator=gen, dtype=F64)
    step = step_size(W, 4)
    lam = 1.5 * step
    ref = reference_gpfq(W, X, Xq, step, 4, rounding, lam=lam)
    for form in ("data", "gram"):
        codes = gpfq_codes(W, X, Xq, step=step, bits=4, rounding=rounding, lam=lam, form=form, block_size=32)
        assert torch.equal(codes, ref)
    dense = gpfq_codes(W, X, Xq, step=step, bits=4)
    assert (ref == 0).sum() > (dense == 0).sum()


def test_gptq_equals_sequential_obs_reference_and_beats_rtn():
    gen = torch.Generator().manual_seed(6)
    X, _ = correlated_inputs(500, 70, gen=gen, noise=0.0)
    X = X + 0.01 * torch.randn(X.shape, generator=gen, dtype=F64)  # full rank
    W = torch.randn(24, 70, generator=gen, dtype=F64)
    step = step_size(W, 3)
    ref = reference_gptq(W, X, step, 3)
    Q = gptq_layer(W, X, bits=3, block_size=16)
    assert torch.equal(Q / step, ref)
    Qg = gptq_gram(W, symmetric(lower_gram(X.unsqueeze(0))[0]), step=step, bits=3)
    assert torch.equal(Qg, Q)
    err = lambda Qx: float(torch.linalg.norm(X @ (W - Qx).T))  # noqa: E731
    assert err(Q) < err(rtn(W, bits=3))


def symmetric(lower):
    return torch.tril(lower) + torch.tril(lower, -1).T


def test_gptq_dead_inputs_get_zero_codes():
    gen = torch.Generator().manual_seed(7)
    X, _ = correlated_inputs(200, 30, gen=gen, dead=(4, 9))
    W = torch.randn(6, 30, generator=gen, dtype=F64)
    Q = gptq_layer(W, X, bits=4)
    assert (Q[:, [4, 9]] == 0).all() and (Q[:, :4] != 0).any()


def test_rtn_and_step_follow_the_formulas():
    W = torch.randn(7, 33, generator=torch.Generator().manual_seed(8), dtype=F64)
    L = 2 ** (4 - 1)
    step = step_size(W, 4, scalar=1.16, percentile=1.0)
    assert step == pytest.approx(1.16 * float(W.abs().amax(dim=1).mean()) / L, rel=1e-15)
    step_med = step_size(W, 4, scalar=1.0, percentile=0.5)
    assert step_med == pytest.approx(float(W.abs().median(dim=1).values.mean()) / L, rel=1e-12)
    Q = rtn(W, bits=4, step=0.05)
    expected = torch.sign(W) * 0.05 * torch.minimum(torch.floor(W / 0.05 + 0.5).abs(), torch.tensor(float(L), dtype=F64))
    assert torch.equal(Q, expected)
    assert (Q / 0.05).abs().max() == L  # the clip is reached with this small step


def test_scalar_quantizers_at_their_boundaries():
    a = np.array([-9.0, -2.5, -0.5, 0.49, 0.5, 1.5, 1.0, 2.0, 2.01, 9.0])
    # nearest rounds halves up (sign(a) min(|floor(a + 1/2)|, L)) and clips at L = 8
    assert make_rounder("nearest", 8)(a.copy()).tolist() == [-8, -2, 0, 0, 1, 2, 1, 2, 2, 8]
    # hard threshold: |a| <= lambda -> 0, otherwise the nearest level (not shifted)
    assert make_rounder("l0", 8, lam_codes=2.0)(a.copy()).tolist() == [-8, -2, 0, 0, 0, 0, 0, 0, 2, 8]
    # soft threshold: shrink by lambda, then round
    assert make_rounder("l1", 8, lam_codes=1.0)(a.copy()).tolist() == [-8, -1, 0, 0, 0, 1, 0, 1, 1, 8]
    draws = np.stack([make_rounder("stochastic", 8, generator=torch.Generator().manual_seed(i))(np.full(4000, 0.3)) for i in range(2)])
    assert set(np.unique(draws)) == {0.0, 1.0} and abs(draws.mean() - 0.3) < 0.03  # unbiased


@pytest.mark.parametrize("form", ["data", "gram"])
def test_grouped_engine_equals_per_group_reference(form):
    gen = torch.Generator().manual_seed(12)
    X, Xq = correlated_inputs(250, 3 * 20, gen=gen, dead=(25,))
    W = torch.randn(3 * 4, 20, generator=gen, dtype=F64)  # 3 groups of 4 neurons x 20 inputs
    step = step_size(W, 3)
    codes = gpfq_codes(W, X, Xq, step=step, bits=3, groups=3, form=form, block_size=8)
    for g in range(3):
        ref = reference_gpfq(W[4 * g : 4 * g + 4], X[:, 20 * g : 20 * g + 20], Xq[:, 20 * g : 20 * g + 20], step, 3)
        assert torch.equal(codes[4 * g : 4 * g + 4], ref), f"group {g}"
    G = lower_gram(Xq.reshape(250, 3, 20).transpose(0, 1), X.reshape(250, 3, 20).transpose(0, 1))
    H = lower_gram(Xq.reshape(250, 3, 20).transpose(0, 1))
    assert torch.equal(gpfq_gram(W, G, H, step=step, bits=3) / step, codes)


# ---------------------------------------------------------------- model level


class SmallNet(nn.Module):
    """conv -> grouped conv -> depthwise conv -> linear, with in-place adds (one onto a shared tensor)."""

    def __init__(self, control_flow: bool = False) -> None:
        super().__init__()
        self.control_flow = control_flow
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.conv3 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        s = torch.tanh(x).repeat(1, 3, 1, 1)[:, :8]  # before any quantized layer: one tensor for both networks
        y = self.relu(self.conv1(x))
        if self.control_flow and bool(torch.isnan(y).any()):  # data-dependent: fx cannot trace it
            y = torch.zeros_like(y)
        s.add_(0.1 * y)  # in place on that shared tensor, with an operand that differs between the networks
        z = self.conv2(s)
        z += y
        z = self.relu(self.conv3(self.relu(z)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(z, 1), 1))


def smooth_images(n, size=16, *, seed=0, dtype=F64):
    """Structured random images: upsampled low-resolution noise plus a little pixel noise."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 3, size // 4, size // 4, generator=gen, dtype=dtype)
    return F.interpolate(low, size=size, mode="bilinear", align_corners=False) + 0.1 * torch.randn(
        n, 3, size, size, generator=gen, dtype=dtype
    )


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    return SmallNet().double().eval()


def unfold_rows(x, conv):
    cols = F.unfold(x, conv.kernel_size, dilation=conv.dilation, padding=conv.padding, stride=conv.stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def test_grouped_conv_in_model_equals_per_group_reference(small_net):
    calib = smooth_images(12)
    res = quantize_model(small_net, calib, QuantSpec(bits=3), progress=False)
    assert [r.name for r in res.layers] == ["conv1", "conv2", "conv3", "fc"]
    with torch.no_grad():
        s = torch.tanh(calib).repeat(1, 3, 1, 1)[:, :8]
        x_f = s + 0.1 * torch.relu(small_net.conv1(calib))
        x_q = s + 0.1 * torch.relu(res.model.conv1(calib))
    X, Xq = unfold_rows(x_f, small_net.conv2), unfold_rows(x_q, small_net.conv2)
    rec = res.layer("conv2")
    W = small_net.conv2.weight.detach().reshape(8, -1)
    codes = rec.codes.reshape(8, -1).to(F64)
    for g in range(4):
        rows, cols = slice(2 * g, 2 * g + 2), slice(18 * g, 18 * g + 18)
        ref = reference_gpfq(W[rows], X[:, cols], Xq[:, cols], rec.step, 3)
        assert torch.equal(codes[rows], ref), f"group {g}"
    # the layer's relative error is |X W^T - Xq Q^T| / |X W^T|, per group, over every position
    Q = codes * rec.step
    num = sum(float(torch.linalg.norm(X[:, 18 * g : 18 * g + 18] @ W[2 * g : 2 * g + 2].T - Xq[:, 18 * g : 18 * g + 18] @ Q[2 * g : 2 * g + 2].T) ** 2) for g in range(4))
    den = sum(float(torch.linalg.norm(X[:, 18 * g : 18 * g + 18] @ W[2 * g : 2 * g + 2].T) ** 2) for g in range(4))
    assert rec.rel_error == pytest.approx(math.sqrt(num / den), rel=1e-9)
    assert rec.rows == 12 * 16 * 16 and rec.groups == 4


def test_lockstep_equals_prefix_rerun_fallback(small_net):
    """The fx lockstep runner must feed every layer exactly what re-running the real forward gives."""
    calib = smooth_images(10, seed=1)
    fast = quantize_model(small_net, calib, QuantSpec(bits=4), progress=False)
    branchy = SmallNet(control_flow=True).double().eval()
    branchy.load_state_dict(small_net.state_dict())
    slow = quantize_model(branchy, calib, QuantSpec(bits=4), progress=False, batch_size=64)
    assert fast.traced and not slow.traced
    for a, b in zip(fast.layers, slow.layers):
        assert a.name == b.name and torch.equal(a.codes, b.codes)
        assert a.rel_error == pytest.approx(b.rel_error, rel=1e-12)


def test_gram_accumulation_over_chunks_equals_data_form():
    torch.manual_seed(4)
    net = CifarResNet(8, 8, 10).double().eval()
    calib = smooth_images(12, size=32, seed=13)
    data = quantize_model(net, calib, QuantSpec(bits=3), progress=False)
    gram = quantize_model(net, calib, QuantSpec(bits=3), progress=False, batch_size=5, data_form_bytes=0)
    assert {r.form for r in gram.layers} == {"gram"} and "data" in {r.form for r in data.layers}
    for a, b in zip(data.layers, gram.layers):
        assert torch.equal(a.codes, b.codes), a.name


def test_gpfq_error_not_above_rtn_on_real_activations():
    torch.manual_seed(1)
    net = CifarResNet(8, 8, 10).double().eval()
    calib = smooth_images(24, size=32, seed=2)
    gpfq = quantize_model(net, calib, QuantSpec(method="gpfq", bits=3), progress=False)
    base = quantize_model(net, calib, QuantSpec(method="rtn", bits=3), progress=False)
    for a, b in zip(gpfq.layers, base.layers):
        assert a.rel_error <= b.rel_error, a.name
    with torch.no_grad():
        y = net(calib)
        e_gpfq = float(torch.linalg.norm(gpfq.model(calib) - y))
        e_rtn = float(torch.linalg.norm(base.model(calib) - y))
    assert e_gpfq < e_rtn


@pytest.mark.parametrize("method", ["gpfq", "sgpfq", "gpfq_l0", "gpfq_l1", "gptq", "rtn"])
def test_every_method_puts_weights_on_the_grid(small_net, method):
    calib = smooth_images(8, seed=3)
    res = quantize_model(small_net, calib, QuantSpec(method=method, bits=3, options={"lam": 0.02} if method.startswith("gpfq_l") else {}), progress=False)
    assert len(res.layers) == 4
    for rec in res.layers:
        w = res.model.get_submodule(rec.name).weight.detach()
        assert rec.codes.abs().max() <= 4
        assert torch.equal(w, rec.codes.to(F64) * rec.step)
        assert rec.sparsity == pytest.approx(float((rec.codes == 0).double().mean()))
        assert math.isfinite(rec.rel_error) and rec.rel_error > 0
    # the float parts (biases) are untouched
    assert torch.equal(res.model.conv1.bias, small_net.conv1.bias)


@pytest.mark.parametrize("method", ["gpfq_l0", "gpfq_l1"])
def test_sparse_methods_give_more_zeros_with_lambda(small_net, method):
    calib = smooth_images(8, seed=4)
    zeros = {}
    for lam in (0.0, 0.05):
        res = quantize_model(small_net, calib, QuantSpec(method=method, bits=4, options={"lam": lam}), progress=False)
        zeros[lam] = sum(int((r.codes == 0).sum()) for r in res.layers)
    assert zeros[0.05] > zeros[0.0]


def test_sgpfq_is_seeded(small_net):
    calib = smooth_images(8, seed=5)
    runs = [quantize_model(small_net, calib, QuantSpec(method="sgpfq", bits=3, seed=s), progress=False) for s in (1, 1, 2)]
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(runs[0].layers, runs[1].layers))
    assert not all(torch.equal(a.codes, b.codes) for a, b in zip(runs[0].layers, runs[2].layers))


def test_retain_rate_and_kernel_patches(small_net):
    calib = smooth_images(6, seed=6)
    res = quantize_model(small_net, calib, QuantSpec(bits=4, retain_rate=0.3, patches="kernel"), progress=False)
    # conv1: 3x3 kernel, stride 3 on a 16+2 padded image -> 6 x 6 patches; keep ceil(0.3 * 36) = 11
    assert res.layer("conv1").rows == 6 * 11
    assert res.layer("fc").rows == 6
    full = quantize_model(small_net, calib, QuantSpec(bits=4), progress=False)
    assert full.layer("conv1").rows == 6 * 256
    assert not torch.equal(res.layer("conv2").codes, full.layer("conv2").codes)


def test_skip_patterns_leave_layers_in_float(small_net):
    calib = smooth_images(6, seed=7)
    res = quantize_model(small_net, calib, QuantSpec(bits=4, skip=["fc", "conv3*"]), progress=False)
    assert [r.name for r in res.layers] == ["conv1", "conv2"]
    assert torch.equal(res.model.fc.weight, small_net.fc.weight)
    assert torch.equal(res.model.conv3.weight, small_net.conv3.weight)
    assert not torch.equal(res.model.conv1.weight, small_net.conv1.weight)


# ---------------------------------------------------------------- spec and mixed precision


def test_mixed_precision_schedules():
    assert QuantSpec(bits="asc").layer_bits(5) == [3, 3, 5, 5, 5]
    assert QuantSpec(bits="desc").layer_bits(4) == [5, 5, 3, 3]
    assert QuantSpec(bits=[2, 8, 4]).layer_bits(3) == [2, 8, 4]
    with pytest.raises(ValueError, match="3 values"):
        QuantSpec(bits=[2, 8, 4]).layer_bits(4)


def test_mixed_precision_in_a_model(small_net):
    calib = smooth_images(6, seed=8)
    asc = quantize_model(small_net, calib, QuantSpec(bits="asc"), progress=False)
    desc = quantize_model(small_net, calib, QuantSpec(bits="desc"), progress=False)
    assert [r.bits for r in asc.layers] == [3, 3, 5, 5]
    assert [r.bits for r in desc.layers] == [5, 5, 3, 3]
    for rec in asc.layers:
        assert rec.codes.abs().max() <= 2 ** (rec.bits - 1)
    assert asc.layer("fc").step < desc.layer("fc").step  # more bits, finer grid
    explicit = quantize_model(small_net, calib, QuantSpec(bits=[2, 3, 4, 5]), progress=False)
    assert [r.bits for r in explicit.layers] == [2, 3, 4, 5]


def test_spec_from_dict_validates():
    spec = QuantSpec.from_dict({"method": "gpfq_l1", "bits": [3, 4], "lam": 0.1, "skip": ["fc"], "fold_bn": True})
    assert spec.bits == (3, 4) and spec.skip == ("fc",) and spec.to_dict()["bits"] == [3, 4]
    with pytest.raises(ValueError, match="bitz, colour"):
        QuantSpec.from_dict({"method": "gpfq", "bitz": 4, "colour": 1})
    assert QuantSpec.from_dict(spec.to_dict()) == spec and QuantSpec.from_dict({"bits": 3}).method == "gpfq"
    for bad, why in (({"method": "awq"}, "awq"), ({"bits": 9}, "bits"), ({"bits": "up"}, "bits"), ({"percentile": 0}, "percentile"),
                     ({"retain_rate": 1.5}, "retain_rate"), ({"method": "gpfq_l1", "lam": -1}, "lam"),
                     ({"method": "gpfq", "lam": 0.1}, "not of method gpfq"), ({"alphabet": "int"}, "alphabet"),
                     ({"granularity": "row"}, "granularity")):
        with pytest.raises(ValueError, match=why):
            QuantSpec.from_dict(bad)


# ---------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("width", range(0, 10))
def test_pack_unpack_roundtrip(width):
    gen = torch.Generator().manual_seed(width)
    lo = -(2 ** max(width - 1, 0))
    codes = torch.randint(lo, lo + 2**width, (1237,), generator=gen).to(torch.int16)
    codes[0], codes[1] = lo, lo + 2**width - 1  # both ends of the range present
    packed, w, offset = pack_codes(codes)
    assert w == width and offset == lo and packed.dtype == torch.uint8
    assert packed.numel() == math.ceil(1237 * width / 8)
    assert torch.equal(unpack_codes(packed, 1237, w, offset), codes)


def _data_bytes(path):
    """Size of a safetensors file's tensor data (file minus 8-byte length and JSON header)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    return path.stat().st_size - 8 - n, n


@pytest.mark.parametrize("fold_bn", [False, True])
def test_save_load_roundtrip_gives_identical_logits(tmp_path, fold_bn):
    torch.manual_seed(2)
    net = CifarResNet(8, 8, 10).eval()
    with torch.no_grad():  # non-trivial BN statistics so that folding matters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    calib = smooth_images(16, size=32, seed=9, dtype=torch.float32)
    res = quantize_model(net, calib, QuantSpec(bits=4, fold_bn=fold_bn), progress=False)
    assert bool(res.folded) == fold_bn
    path = tmp_path / "q.safetensors"
    save_quantized(path, res, {"spec": "gpfq4"})
    loaded = load_quantized(path, CifarResNet(8, 8, 10)).eval()
    test = smooth_images(8, size=32, seed=10, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded(test), res.model(test))
        assert not torch.equal(net(test), res.model(test))
    data, header = _data_bytes(path)
    assert data == quantized_size_bytes(res) == size_report(res)["size_bytes"]
    meta = json.loads(path.read_bytes()[8 : 8 + header])["__metadata__"]
    assert meta["spec"] == "gpfq4" and meta["laq.format"] == "laq-quantized-v1"


def test_packed_size_matches_the_expected_ratio(tmp_path):
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 8 * 8, 100, bias=False))
    calib = smooth_images(8, size=8, seed=11, dtype=torch.float32)
    for bits in (2, 4, 8):
        res = quantize_model(net, calib, QuantSpec(method="rtn", bits=bits), progress=False)
        report = size_report(res)
        n_weights = sum(r.codes.numel() for r in res.layers)
        widths = [pack_codes(r.codes)[1] for r in res.layers]
        assert all(bits <= w <= bits + 1 for w in widths)  # 2^b + 1 levels
        code_bytes = sum(math.ceil(r.codes.numel() * w / 8) for r, w in zip(res.layers, widths))
        assert report["size_bytes"] == code_bytes + 4 * len(res.layers)  # + one float32 step each
        assert report["float_bytes"] == 4 * n_weights
        assert report["compression"] >= 32 / (bits + 1) * 0.99


def test_load_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(LaqError, match="not a laq quantized checkpoint"):
        load_quantized(path, nn.Linear(2, 1))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(LaqError):
        load_quantized(bad, nn.Linear(2, 1))


def test_layer_table_csv(tmp_path, small_net):
    res = quantize_model(small_net, smooth_images(6, seed=12), QuantSpec(bits=4), progress=False)
    path = tmp_path / "layers.csv"
    write_layer_table(path, res)
    rows = list(csv.DictReader(path.open()))
    assert [r["name"] for r in rows] == ["conv1", "conv2", "conv3", "fc"]
    assert rows[1]["shape"] == "8x2x3x3" and rows[1]["groups"] == "4" and rows[1]["bits"] == "4"
    assert {"step", "rel_error", "sparsity", "seconds"} <= set(rows[0])
    assert float(rows[3]["rel_error"]) == pytest.approx(res.layer("fc").rel_error, rel=1e-5)
