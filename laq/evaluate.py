"""Logits and top-k accuracies, over all classes and restricted to a subset's classes."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 500,
    device: str = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """float32 [N, C] logits of `model` on uint8 NHWC `images`."""
    model.to(device).eval()
    x = torch.from_numpy(images)
    out = []
    for i in tqdm(range(0, len(x), batch_size), desc="predict", disable=not progress, mininterval=2):
        out.append(model(preprocess(x[i : i + batch_size]).to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Percent of rows whose label is among the k largest logits (ties count against the label)."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    true = logits[np.arange(len(labels)), labels]
    rank = (logits > true[:, None]).sum(1)
    return float(100.0 * np.mean(rank < k))


def subset_metrics(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> dict[str, float]:
    """top-1/top-5 over all outputs ("all") and over the subset's outputs only ("sub"), on the subset's images.

    `logits`/`labels` may cover the whole test set; rows of other classes are ignored.
    """
    classes = np.asarray(classes)
    rows = np.isin(labels, classes)
    lg, lb = logits[rows], labels[rows]
    col = {c: i for i, c in enumerate(classes.tolist())}
    sub = lg[:, classes]
    sub_labels = np.array([col[c] for c in lb.tolist()], dtype=np.int64)
    return {
        "top1_all": topk_accuracy(lg, lb, 1),
        "top5_all": topk_accuracy(lg, lb, 5),
        "top1_sub": topk_accuracy(sub, sub_labels, 1),
        "top5_sub": topk_accuracy(sub, sub_labels, 5),
        "n_images": int(rows.sum()),
    }


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over all Conv2d/Linear weight tensors."""
    zeros = total = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            zeros += int((m.weight == 0).sum())
            total += m.weight.numel()
    return zeros / total if total else 0.0
