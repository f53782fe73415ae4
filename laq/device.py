"""Numeric precision on a device, set explicitly by every run, and the record of what computed a model.

torch's defaults differ by backend (cuDNN convolutions in TF32, matmuls in fp32), and TF32 changes
which codes GPFQ picks (CIFAR ResNet-20: 68 % of codes equal CPU's with TF32 convs, 88 % without), so
no run leaves them to the library: quantization runs in fp32, evaluation and fine-tuning in the
configured `precision`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16")


def set_tf32(enabled: bool) -> None:
    """TF32 for CUDA matmuls and cuDNN convolutions, both at once (no-ops on CPU)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def tf32_flags() -> dict[str, bool]:
    return {"tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32), "tf32_conv": bool(torch.backends.cudnn.allow_tf32)}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        from laq.io import LaqError

        raise LaqError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}; fix `precision` in the config.")
    return precision


@contextlib.contextmanager
def precision_mode(precision: str, device: str | torch.device) -> Iterator[None]:
    """Run the block at `precision`: fp32 (TF32 off), tf32 (TF32 on), bf16 (autocast to bfloat16, TF32 off
    for what stays in float32). The previous TF32 flags come back afterwards."""
    check_precision(precision)
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    set_tf32(precision == "tf32")
    try:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def device_kind(device: str | torch.device) -> str:
    """"cpu", or the GPU's name (e.g. "NVIDIA H200"): draws made on different kinds are not byte-comparable."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return dev.type


def compute_record(device: str | torch.device, precision: str) -> dict[str, Any]:
    """What made a model, for its sidecar: device kind, versions, precision and the TF32 flags in force.

    Call it inside the run's `precision_mode` (or right after, with the same precision): the flags
    are read, not assumed. Nothing time-dependent: sidecars stay byte-reproducible on one machine."""
    dev = torch.device(device)
    return {
        "device": device_kind(dev),
        "device_type": dev.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
        "precision": precision,
        **tf32_flags(),
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
    }


def to_device(x: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """A host tensor on `device`; pinned first for CUDA so the copy does not stall the host."""
    dev = torch.device(device)
    if dev.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(dev, non_blocking=True)
    return x.to(dev)


def _gpu(device: str | torch.device) -> bool:
    return torch.device(device).type == "cuda"


@contextlib.contextmanager
def channels_last(model: torch.nn.Module, device: str | torch.device) -> Iterator[None]:
    """On a GPU, the model in channels-last memory format for the block (cuDNN's fast layout; on the
    CPU nothing changes, so CPU numbers stay as they were); contiguous again afterwards, as
    checkpoints store them."""
    if not _gpu(device):
        yield
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


def as_input(x: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """A preprocessed batch in the layout `channels_last` gives the model."""
    if _gpu(device) and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
