"""Module-level helpers: which layers to quantize, their input rows (conv patches), BatchNorm folding."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from laq.io import LaqError

log = logging.getLogger(__name__)

QUANTIZABLE = (nn.Conv2d, nn.Linear)


def layer_groups(layer: nn.Module) -> int:
    return layer.groups if isinstance(layer, nn.Conv2d) else 1


def weight_matrix(layer: nn.Module) -> Tensor:
    """N x d_g view of the weight (conv: out x (in/groups * kh * kw), the order F.unfold uses)."""
    return layer.weight.detach().reshape(layer.weight.shape[0], -1)


# ---------------------------------------------------------------- input rows


def _explicit_padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of a conv, resolving 'same' / 'valid' the way torch does."""
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0, 0, 0)
        pads: list[int] = []
        for k, dil in zip(reversed(conv.kernel_size), reversed(conv.dilation)):
            total = dil * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)  # type: ignore[return-value]
    ph, pw = conv.padding
    return (pw, pw, ph, ph)


def rows_per_image(layer: nn.Module, x: Tensor, patches: str = "conv") -> int:
    """How many input rows (patches) one calibration image gives this layer."""
    if isinstance(layer, nn.Linear):
        return math.prod(x.shape[1:-1]) if x.dim() > 2 else 1
    pl, pr, pt, pb = _explicit_padding(layer)
    stride = layer.stride if patches == "conv" else layer.kernel_size
    out = []
    for size, lo, hi, k, dil, s in zip(x.shape[2:], (pt, pl), (pb, pr), layer.kernel_size, layer.dilation, stride):
        out.append((size + lo + hi - dil * (k - 1) - 1) // s + 1)
    return out[0] * out[1]


def layer_rows(layer: nn.Module, x: Tensor, patches: str = "conv", out: Tensor | None = None, select: Tensor | None = None) -> Tensor:
    """The layer's input as an m x d matrix whose rows meet the weight rows: conv patches or linear rows.

    patches "conv" unfolds at the conv's own stride (so X W^T is exactly the conv output);
    "kernel" uses stride = kernel size (non-overlapping patches, as in the seed's code).
    Rows are ordered image-major (all rows of image 0, then image 1, ...). With `out` (m x d) the
    rows are written there directly, saving a copy of what is often the largest tensor of the run.
    With `select` (row indices into that order) only those rows are copied out: the same values as
    `layer_rows(...)[select]` without materialising the rows that retain_rate drops.
    """
    if isinstance(layer, nn.Linear):
        rows = x.reshape(-1, x.shape[-1])
        if select is not None:
            return rows[select]
        return rows if out is None else out.copy_(rows)
    stride = layer.stride if patches == "conv" else layer.kernel_size
    pad = _explicit_padding(layer)
    if any(pad):
        mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
        x = F.pad(x, pad, mode=mode)
    if layer.kernel_size == (1, 1):
        # a 1x1 conv's patches are its (strided) pixels: no unfold needed
        pix = x[:, :, :: stride[0], :: stride[1]]
        if select is not None:
            w = pix.shape[3]
            b, p = select // (pix.shape[2] * w), select % (pix.shape[2] * w)
            return pix[b, :, p // w, p % w]  # (rows, C): advanced indices split by a slice go first
        pix = pix.permute(0, 2, 3, 1)
        if out is None:
            return pix.reshape(-1, x.shape[1])
        out.view(pix.shape).copy_(pix)
        return out
    cols = F.unfold(x, layer.kernel_size, dilation=layer.dilation, stride=stride)  # (B, d, L)
    if select is not None:
        return cols[select // cols.shape[2], :, select % cols.shape[2]]
    if out is None:
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
    out.view(cols.shape[0], cols.shape[2], cols.shape[1]).copy_(cols.transpose(1, 2))
    return out


def retained_rows(n_images: int, per_image: int, rate: float, generator: torch.Generator) -> Tensor | None:
    """Sorted row indices keeping ceil(rate * per_image) random rows of every image (None = keep all)."""
    if rate >= 1.0:
        return None
    keep = max(1, math.ceil(rate * per_image))
    order = torch.rand(n_images, per_image, generator=generator).argsort(dim=1)[:, :keep]
    idx = order.sort(dim=1).values + torch.arange(n_images).unsqueeze(1) * per_image
    return idx.reshape(-1)


# ---------------------------------------------------------------- BatchNorm folding


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    head, _, leaf = name.rpartition(".")
    return (model.get_submodule(head) if head else model), leaf


def conv_bn_pairs(model: nn.Module, example: Tensor) -> list[tuple[str, str]]:
    """(conv, bn) module names where the BatchNorm2d consumes only that conv's output.

    Uses the fx graph (which also proves the conv output has no other user); if the model cannot be
    traced, pairs a BN whose input tensor is a conv's output tensor in one forward pass.
    """
    mods = dict(model.named_modules())
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as e:  # noqa: BLE001 - any tracing failure means "use the hook fallback"
        log.warning("fx tracing failed (%s: %s); pairing conv/BN by tensor identity", type(e).__name__, e)
        return _conv_bn_pairs_by_hooks(model, example)
    calls: dict[str, int] = {}
    for n in graph.nodes:
        if n.op == "call_module":
            calls[n.target] = calls.get(n.target, 0) + 1
    pairs = []
    for n in graph.nodes:
        if n.op != "call_module" or not isinstance(mods.get(n.target), nn.BatchNorm2d) or len(n.args) != 1:
            continue
        src = n.args[0]
        if (
            isinstance(src, fx.Node)
            and src.op == "call_module"
            and isinstance(mods.get(src.target), nn.Conv2d)
            and len(src.users) == 1
            and calls[src.target] == 1
            and calls[n.target] == 1
        ):
            pairs.append((src.target, n.target))
    return pairs


def _conv_bn_pairs_by_hooks(model: nn.Module, example: Tensor) -> list[tuple[str, str]]:
    conv_out: dict[int, str] = {}
    seen: dict[str, int] = {}
    pairs: list[tuple[str, str]] = []

    def hook(name: str):
        def fn(mod: nn.Module, inp: tuple, out: Tensor) -> None:
            seen[name] = seen.get(name, 0) + 1
            if isinstance(mod, nn.Conv2d):
                conv_out[id(out)] = name
            elif inp and id(inp[0]) in conv_out:
                pairs.append((conv_out[id(inp[0])], name))

        return fn

    handles = [
        m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))
    ]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return [(c, b) for c, b in pairs if seen[c] == 1 and seen[b] == 1]


def fold_pair(model: nn.Module, conv_name: str, bn_name: str) -> None:
    """Scale the conv by gamma/sqrt(var+eps), give it the BN's shift as bias, replace the BN by Identity."""
    conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
    if bn.running_var is None:
        raise LaqError(f"{bn_name} has no running statistics, so it cannot be folded; set fold_bn: false.")
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        bias = shift if conv.bias is None else conv.bias * scale + shift
        conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype))
    parent, leaf = _parent(model, bn_name)
    setattr(parent, leaf, nn.Identity())


def apply_fold_structure(model: nn.Module, pairs: list[tuple[str, str]]) -> None:
    """Give a fresh skeleton the module structure of a BN-folded model (bias on the conv, BN -> Identity)."""
    for conv_name, bn_name in pairs:
        conv = model.get_submodule(conv_name)
        if conv.bias is None:
            conv.bias = nn.Parameter(torch.zeros(conv.out_channels, dtype=conv.weight.dtype, device=conv.weight.device))
        parent, leaf = _parent(model, bn_name)
        setattr(parent, leaf, nn.Identity())


def fold_batchnorm(model: nn.Module, example: Tensor) -> list[tuple[str, str]]:
    """Fold every foldable conv -> BN pair of `model` (in place, eval mode) and check the outputs agree."""
    model.eval()
    pairs = conv_bn_pairs(model, example)
    with torch.no_grad():
        before = model(example)
        for conv_name, bn_name in pairs:
            fold_pair(model, conv_name, bn_name)
        after = model(example)
    if isinstance(before, Tensor) and not torch.allclose(after, before, rtol=1e-3, atol=1e-3 * float(before.abs().max()) + 1e-6):
        raise LaqError("folding BatchNorm changed the model's outputs (a BN input is used elsewhere); set fold_bn: false.")
    return pairs
