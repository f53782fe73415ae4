"""Where base ("original") models come from (config `model.source`); architectures are in `laq.models.arch`."""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from laq.io import LaqError
from laq.models.arch import hub_model, build_arch, replace_head
from laq.models.checkpoint import load_checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SOURCE_KINDS = ("train", "torchvision", "timm", "torchhub", "file")


@dataclass
class BaseModel:
    model: nn.Module
    arch: str
    input_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    extra: dict[str, Any] = field(default_factory=dict)


def _download_error(what: str, e: Exception, where: Path | None = None) -> LaqError:
    where = where or Path(torch.hub.get_dir()) / "checkpoints"
    return LaqError(
        f"could not download {what} ({type(e).__name__}: {e}); connect to the internet once, "
        f"put the weights in {where}, or set model.pretrained: false."
    )


def _timm_cache(name: str) -> Path | None:
    """Where timm looks for `hf_hub:` weights: the Hugging Face hub cache (HF_HUB_CACHE / HF_HOME)."""
    if not name.startswith("hf_hub:"):
        return None
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return Path(HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - timm depends on huggingface_hub
        return None


_NET_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, OSError)


def num_outputs(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else -1


def load_base(
    source: str,
    num_classes: int,
    *,
    depth: int = 8,
    width: int = 16,
    pretrained: bool = True,
    image_size: int = 32,
    weights: str = "DEFAULT",
) -> BaseModel:
    """Instantiate the base model named by `source` (see config.yaml: model.source); `weights` names
    torchvision's pretrained weights (e.g. IMAGENET1K_V1; DEFAULT = the newest)."""
    kind, _, rest = source.partition(":")
    if kind in ("torchvision", "timm", "torchhub"):
        from laq.download import require, source_need

        need = source_need(source, pretrained=pretrained, weights=weights)
        if need:  # fetched by the download target; a job never downloads
            require(need)
    if kind == "train":
        arch = f"cifar_resnet:{depth}:{width}"
        return BaseModel(build_arch(arch, num_classes), arch, image_size)
    if kind == "torchvision":
        import torchvision

        try:
            m = torchvision.models.get_model(rest, weights=weights if pretrained else None)
        except _NET_ERRORS as e:
            raise _download_error(f"torchvision weights for {rest}", e) from None
        except ValueError as e:
            raise LaqError(f"torchvision has no model {rest!r} ({e}); see torchvision.models.list_models().") from None
        return BaseModel(replace_head(m, num_classes), f"torchvision:{rest}", 224)
    if kind == "timm":
        import timm

        try:
            m = timm.create_model(rest, pretrained=pretrained)
        except RuntimeError as e:
            if "Unknown model" in str(e):
                raise LaqError(f"timm has no model {rest!r}; see timm.list_models().") from None
            raise _download_error(f"timm model {rest}", e, _timm_cache(rest)) from None
        except _NET_ERRORS as e:
            raise _download_error(f"timm model {rest}", e, _timm_cache(rest)) from None
        cfg = getattr(m, "pretrained_cfg", {}) or {}
        arch_name = cfg.get("architecture", rest)
        if m.num_classes != num_classes:
            m.reset_classifier(num_classes)
        size = int(cfg.get("input_size", (3, 224, 224))[-1])
        return BaseModel(
            m, f"timm:{arch_name}", size, tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))
        )
    if kind == "torchhub":
        repo, _, name = rest.rpartition(":")
        if not repo or not name:
            raise LaqError(f"model.source {source!r} must look like torchhub:<owner/repo or local dir>:<entry point>.")
        try:
            m = hub_model(repo, name, pretrained)
        except _NET_ERRORS as e:
            raise _download_error(f"torch.hub model {repo}:{name}", e) from None
        return BaseModel(replace_head(m, num_classes), f"torchhub:{repo}:{name}", 224)
    if kind == "file":
        return _from_file(Path(rest), num_classes)
    raise LaqError(f"unknown model.source {source!r}; use one of {', '.join(SOURCE_KINDS)}.")


def _from_file(path: Path, num_classes: int) -> BaseModel:
    """A laq checkpoint (.safetensors + .json sidecar), e.g. the base model of an earlier run.

    Its sidecar is data: a torchhub: architecture in it is refused (see `laq.models.arch`)."""
    if not path.exists() or not path.with_suffix(".json").exists():
        raise LaqError(f"model file {path} or its sidecar {path.with_suffix('.json')} does not exist; give a laq checkpoint.")
    model, meta = load_checkpoint(path, user_file=True)
    if meta["num_classes"] != num_classes:
        model = replace_head(model, num_classes)
    return BaseModel(model, meta["arch"], int(meta["input_size"]), tuple(meta["mean"]), tuple(meta["std"]))
