"""Penultimate-layer features: the input of a classifier's last nn.Linear, for every image."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from laq.io import LaqError


def last_linear(model: nn.Module) -> nn.Linear:
    """The last nn.Linear in registration order: the classifier head of torchvision, timm and laq's ResNets."""
    found = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            found = m
    if found is None:
        raise LaqError(
            f"{type(model).__name__} has no nn.Linear layer, so it has no penultimate features; use a classifier with a linear head."
        )
    return found


def penultimate_features(
    model: nn.Module,
    images: np.ndarray,
    *,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """float32 [N, D] features of uint8 [N,H,W,3] `images`: what the model's last nn.Linear receives.

    The model is moved to `device` and run in eval mode (its training flag is restored afterwards)
    under torch.inference_mode; `preprocess` turns a uint8 NHWC batch into the model's float NCHW input.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N,H,W,3], got {images.dtype} {images.shape}")
    head = last_linear(model)
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        captured.append(inputs[0])

    was_training = model.training
    model.to(device).eval()
    handle = head.register_forward_hook(hook)
    chunks: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            starts = range(0, len(images), batch_size)
            for s in tqdm(starts, desc="embed", unit="batch", disable=not progress):
                batch = torch.from_numpy(np.ascontiguousarray(images[s : s + batch_size]))
                captured.clear()
                model(preprocess(batch.to(device)))  # the uint8 batch is preprocessed on the device
                if not captured:
                    raise LaqError(
                        f"the last nn.Linear of {type(model).__name__} was not called in forward; the model's head is not its last Linear layer."
                    )
                # A head applied per token/position would give [B, ..., D]; keep one vector per image.
                feats = captured[-1].reshape(len(batch), -1)
                chunks.append(feats.float().cpu().numpy())
    finally:
        handle.remove()
        model.train(was_training)
    if not chunks:
        return np.zeros((0, head.in_features), np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
