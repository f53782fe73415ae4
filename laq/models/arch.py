"""Architecture names and checkpoint sidecars: data, checked before anything is built or allocated.

Architecture strings (stored in checkpoint sidecars):
  cifar_resnet:<depth>:<width>   laq's small CIFAR-style ResNet (native 32 px)
  torchvision:<name>             torchvision.models.get_model(name), name among list_models()
  timm:<name>                    timm.create_model(name), a name timm knows
  torchhub:<repo or dir>:<name>  torch.hub.load(repo, name): runs the repository's hubconf.py, so it
                                 is built only when it equals the configured model.source (`trusted_hub`),
                                 never because a sidecar says so.

This module imports no torch at module level: config validation (every snakemake call) uses it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from laq.io import LaqError

if TYPE_CHECKING:
    from torch import nn

MAX_CLASSES = 100_000
MAX_INPUT_SIZE = 2048
CIFAR_DEPTH = (8, 1202)  # 6n+2; 1202 is the deepest in He et al. (2016)
CIFAR_WIDTH = (1, 1024)
# cifar_resnet above this many parameters (800 MB of float32) is refused before anything is allocated;
# the paper's ResNet-1202 at width 16 has 19.4 M.
MAX_PARAMS = 200_000_000
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
_CIFAR = re.compile(r"cifar_resnet:(\d{1,5}):(\d{1,7})")


def cifar_resnet_layers(depth: int, width: int, num_classes: int) -> list[tuple[str, int]]:
    """(module name, weight count) of every Conv2d/Linear of `CifarResNet(depth, width, num_classes)`,
    in forward order, computed without building it (config validation counts layers for a bits list)."""
    n = (depth - 2) // 6
    out = [("conv1", 3 * width * 9)]
    cin, i = width, 0
    for stage, cout in enumerate((width, 2 * width, 4 * width)):
        for b in range(n):
            stride = 2 if (stage > 0 and b == 0) else 1
            out += [(f"layers.{i}.conv1", cin * cout * 9), (f"layers.{i}.conv2", cout * cout * 9)]
            if stride != 1 or cin != cout:
                out.append((f"layers.{i}.shortcut.0", cin * cout))
            cin, i = cout, i + 1
    return out + [("fc", cin * num_classes)]


def cifar_resnet_params(depth: int, width: int, num_classes: int) -> int:
    """Parameter count of `CifarResNet(depth, width, num_classes)` (weights, biases, BatchNorm affine)."""
    n = (depth - 2) // 6
    bn = 2 * width + sum(2 * c * (2 * n) for c in (width, 2 * width, 4 * width)) + 2 * (2 * width + 4 * width)
    return sum(w for _, w in cifar_resnet_layers(depth, width, num_classes)) + num_classes + bn


def check_arch(arch: Any, num_classes: int, *, trusted_hub: str | None = None, where: str = "architecture") -> str:
    """`arch` if it names an architecture laq may build with `num_classes` outputs; LaqError otherwise.

    Syntax and sizes only (no torch import); `build_arch` also checks torchvision/timm names.
    """
    if not isinstance(arch, str) or not arch or len(arch) > 1000 or not arch.isprintable():
        raise LaqError(f"{where} {arch!r} is not an architecture name; use cifar_resnet:<depth>:<width>, torchvision:<name> or timm:<name>.")
    kind, _, rest = arch.partition(":")
    if kind == "cifar_resnet":
        m = _CIFAR.fullmatch(arch)
        if not m:
            raise LaqError(f"{where} {arch!r} is malformed; use cifar_resnet:<depth>:<width>, e.g. cifar_resnet:20:16.")
        depth, width = int(m[1]), int(m[2])
        if (depth - 2) % 6 or not CIFAR_DEPTH[0] <= depth <= CIFAR_DEPTH[1]:
            raise LaqError(f"{where} {arch!r} has depth {depth}; use 6n+2 between {CIFAR_DEPTH[0]} and {CIFAR_DEPTH[1]}.")
        if not CIFAR_WIDTH[0] <= width <= CIFAR_WIDTH[1]:
            raise LaqError(f"{where} {arch!r} has width {width}; use {CIFAR_WIDTH[0]}..{CIFAR_WIDTH[1]}.")
        params = cifar_resnet_params(depth, width, num_classes)
        if params > MAX_PARAMS:
            raise LaqError(f"{where} {arch!r} with {num_classes} classes has {params:,} parameters, above laq's limit of {MAX_PARAMS:,}; use a smaller depth or width.")
        return arch
    if kind in ("torchvision", "timm"):
        if not _NAME.fullmatch(rest):
            raise LaqError(f"{where} {arch!r} is malformed; use {kind}:<model name>.")
        return arch
    if kind == "torchhub":
        if trusted_hub is not None and arch == trusted_hub:
            return arch
        raise LaqError(
            f"{where} {arch!r} would run a repository's hubconf.py; laq builds torchhub: architectures only when "
            f"model.source is exactly that string, so set model.source to it if you trust the repository."
        )
    raise LaqError(f"{where} {arch!r} is not one laq builds; use cifar_resnet:<depth>:<width>, torchvision:<name> or timm:<name>.")


REMAKE = "re-make the checkpoint with laq"


def _int_in(meta: Mapping[str, Any], key: str, lo: int, hi: int, where: str, advice: str) -> int:
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise LaqError(f"{where}: {key} = {v!r} is not an integer in {lo}..{hi}; {advice}.")
    return v


def check_meta(meta: Any, where: str, *, trusted_hub: str | None = None, advice: str = REMAKE) -> dict[str, Any]:
    """A checkpoint sidecar, every field laq reads checked for type, range and size; LaqError otherwise.

    Required: arch, num_classes, input_size, mean and std (3 finite numbers, std > 0), classes (one
    name per output); optional preprocess (resize | resize_crop, default resize). Other keys
    (provenance, history, quantization) are carried along unread here.
    """
    if not isinstance(meta, dict):
        raise LaqError(f"{where} holds a {type(meta).__name__}, not a JSON object; {advice}.")
    missing = [k for k in ("arch", "num_classes", "input_size", "mean", "std", "classes") if k not in meta]
    if missing:
        raise LaqError(f"{where} is missing {', '.join(missing)}; {advice}.")
    n = _int_in(meta, "num_classes", 1, MAX_CLASSES, where, advice)
    _int_in(meta, "input_size", 8, MAX_INPUT_SIZE, where, advice)
    for key in ("mean", "std"):
        v = meta[key]
        if (
            not isinstance(v, list)
            or len(v) != 3
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
            or (key == "std" and not all(x > 0 for x in v))
        ):
            what = "positive " if key == "std" else ""
            raise LaqError(f"{where}: {key} = {v!r} is not a list of 3 finite {what}numbers (one per RGB channel); {advice}.")
    classes = meta["classes"]
    if not isinstance(classes, list) or len(classes) != n or not all(isinstance(c, str) for c in classes):
        got = f"{len(classes)} entries" if isinstance(classes, list) else type(classes).__name__
        raise LaqError(f"{where}: classes must list {n} names (num_classes), got {got}; {advice}.")
    if meta.get("preprocess", "resize") not in ("resize", "resize_crop"):
        raise LaqError(f"{where}: preprocess = {meta['preprocess']!r} is not resize or resize_crop; {advice}.")
    check_arch(meta["arch"], n, trusted_hub=trusted_hub, where=f"{where}: arch")
    return meta


def replace_head(model: "nn.Module", num_classes: int) -> "nn.Module":
    """Swap the last nn.Linear for a fresh one with `num_classes` outputs (no-op if it already fits)."""
    from torch import nn

    name, last = None, None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name, last = n, m
    if last is None:
        raise LaqError("the model has no nn.Linear classifier head to resize; give a model whose last layer is Linear.")
    if last.out_features == num_classes:
        return model
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, num_classes, bias=last.bias is not None))
    return model


def hub_repo_dir(repo: str) -> Path | None:
    """The torch.hub cache's copy of a GitHub repository `owner/name[:ref]`, if there is one."""
    import torch

    owner_name, _, ref = repo.partition(":")
    owner, _, name = owner_name.partition("/")
    found = sorted(Path(torch.hub.get_dir()).glob(f"{owner}_{name}_{ref or '*'}"))
    return found[0] if found else None


def hub_model(repo: str, name: str, pretrained: bool) -> "nn.Module":
    import torch

    cached = None if os.path.isdir(repo) else hub_repo_dir(repo)
    if cached:  # the download target's copy: loading it as a local folder asks GitHub nothing
        repo = str(cached)
    source = "local" if os.path.isdir(repo) else "github"
    try:
        return torch.hub.load(repo, name, source=source, trust_repo=True, pretrained=pretrained)
    except TypeError:  # entry points without a `pretrained` argument
        return torch.hub.load(repo, name, source=source, trust_repo=True)


def build_arch(arch: str, num_classes: int, *, trusted_hub: str | None = None, where: str = "architecture") -> "nn.Module":
    """An untrained model of architecture `arch` with `num_classes` outputs (no download of weights).

    `trusted_hub`: the configured model.source when it is a torchhub: source; the only torchhub:
    architecture built (see the module docstring).
    """
    check_arch(arch, num_classes, trusted_hub=trusted_hub, where=where)
    if not 1 <= num_classes <= MAX_CLASSES:
        raise LaqError(f"num_classes = {num_classes} is outside 1..{MAX_CLASSES}.")
    kind, _, rest = arch.partition(":")
    if kind == "cifar_resnet":
        from laq.models.resnet import CifarResNet

        depth, width = (int(v) for v in rest.split(":"))
        return CifarResNet(depth, width, num_classes)
    if kind == "torchvision":
        import torchvision

        if rest not in torchvision.models.list_models():
            raise LaqError(f"{where} {arch!r}: torchvision has no model {rest!r}; see torchvision.models.list_models().")
        return torchvision.models.get_model(rest, weights=None, num_classes=num_classes)
    if kind == "timm":
        import timm

        if not timm.is_model(rest):
            raise LaqError(f"{where} {arch!r}: timm has no model {rest!r}; see timm.list_models().")
        return timm.create_model(rest, pretrained=False, num_classes=num_classes)
    repo, _, name = rest.rpartition(":")
    return replace_head(hub_model(repo, name, pretrained=False), num_classes)
