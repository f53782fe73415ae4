"""top-k accuracies over all classes and restricted to a subset's classes (numpy only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


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
