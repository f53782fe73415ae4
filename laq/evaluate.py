"""Logits and top-k accuracies, over all classes and restricted to a subset's classes."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from laq.device import as_input, channels_last, precision_mode, to_device


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 500,
    device: str = "cpu",
    progress: bool = True,
    precision: str = "fp32",
) -> np.ndarray:
    """float32 [N, C] logits of `model` on uint8 NHWC `images`, at `precision` (laq.device.PRECISIONS).

    The uint8 images move to the device once and are preprocessed there batch by batch; logits stay
    on the device until the end (no host sync per batch). On a GPU the model runs channels-last.
    """
    model.to(device).eval()
    x = to_device(torch.from_numpy(images), device)
    out = []
    with precision_mode(precision, device), channels_last(model, device):
        for i in tqdm(range(0, len(x), batch_size), desc="predict", disable=not progress, mininterval=2):
            out.append(model(as_input(preprocess(x[i : i + batch_size]), device)).float())
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, 0), np.float32)


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over all Conv2d/Linear weight tensors."""
    zeros = total = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            zeros += int((m.weight == 0).sum())
            total += m.weight.numel()
    return zeros / total if total else 0.0
