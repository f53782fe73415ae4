"""top-k correctness and accuracies over all classes and restricted to a subset's classes (numpy only).

A prediction is correct when fewer than k other classes score at least as high as the label: ties
count against the label, and a row with any non-finite logit is wrong (a NaN model never scores).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Boolean per row: the label is among the k largest logits (ties against it; non-finite rows wrong)."""
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return np.zeros(0, dtype=bool)
    k = min(k, logits.shape[1])
    rows = np.arange(len(labels))
    true = logits[rows, labels]
    rivals = (logits >= true[:, None]).sum(1) - 1  # other classes scoring at least the label's logit
    return (rivals < k) & np.isfinite(logits).all(1)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Percent of rows whose label is among the k largest logits (see `topk_correct`); NaN for no rows."""
    if len(labels) == 0:
        return float("nan")
    return float(100.0 * np.mean(topk_correct(logits, labels, k)))


def subset_correct(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-image correctness on the subset's images: top-1/top-5 over all outputs ("all") and over the
    subset's outputs only ("sub"). `logits`/`labels` may cover more images; other classes' rows are dropped.
    A row with a non-finite logit in any column is wrong in both modes, even if the subset's columns are finite."""
    classes = np.asarray(classes)
    rows = np.isin(labels, classes)
    lg, lb = np.asarray(logits)[rows], np.asarray(labels)[rows]
    col = {c: i for i, c in enumerate(classes.tolist())}
    sub = lg[:, classes].astype(np.float64)
    sub[~np.isfinite(lg).all(1)] = np.nan
    sub_labels = np.array([col[c] for c in lb.tolist()], dtype=np.int64)
    return {
        "top1_all": topk_correct(lg, lb, 1),
        "top5_all": topk_correct(lg, lb, 5),
        "top1_sub": topk_correct(sub, sub_labels, 1),
        "top5_sub": topk_correct(sub, sub_labels, 5),
    }


def accuracies(correct: dict[str, np.ndarray]) -> dict[str, float]:
    """Percent correct per metric of a `subset_correct` result, plus n_images."""
    n = len(next(iter(correct.values())))
    out: dict[str, float] = {m: (float(100.0 * v.mean()) if n else float("nan")) for m, v in correct.items()}
    out["n_images"] = n
    return out


def subset_metrics(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> dict[str, float]:
    """top-1/top-5 over all outputs ("all") and over the subset's outputs only ("sub"), on the subset's images."""
    return accuracies(subset_correct(logits, labels, classes))
