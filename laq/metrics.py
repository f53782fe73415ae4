"""top-k accuracies over all classes and restricted to a subset's classes (numpy only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Percent of rows whose label is among the k largest logits.

    Ties count against the label: its rank is the number of other logits >= its own, so all-equal
    logits are wrong. A row with any non-finite logit (NaN, inf) is wrong: a diverged model must not
    score, and NaN compares false with everything.
    """
    if len(labels) == 0:
        return float("nan")
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    k = min(k, logits.shape[1])
    rows = np.arange(len(labels))
    true = logits[rows, labels]
    rank = (logits >= true[:, None]).sum(1) - 1  # minus the label's own column
    finite = np.isfinite(logits).all(1)
    return float(100.0 * np.mean((rank < k) & finite))


def subset_metrics(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> dict[str, float]:
    """top-1/top-5 over all outputs ("all") and over the subset's outputs only ("sub"), on the subset's images.

    `logits`/`labels` may cover the whole test set; rows of other classes are ignored. A row with a
    non-finite logit in any column is wrong in both modes, even if the subset's columns are finite.
    """
    classes = np.asarray(classes)
    rows = np.isin(labels, classes)
    lg, lb = logits[rows], labels[rows]
    col = {c: i for i, c in enumerate(classes.tolist())}
    sub = lg[:, classes].astype(np.float64)
    sub[~np.isfinite(lg).all(1)] = np.nan
    sub_labels = np.array([col[c] for c in lb.tolist()], dtype=np.int64)
    return {
        "top1_all": topk_accuracy(lg, lb, 1),
        "top5_all": topk_accuracy(lg, lb, 5),
        "top1_sub": topk_accuracy(sub, sub_labels, 1),
        "top5_sub": topk_accuracy(sub, sub_labels, 5),
        "n_images": int(rows.sum()),
    }
