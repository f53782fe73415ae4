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


# The subset prior of the prior-corrected control, fixed before any result was seen (never tuned on test
# data): a deployment that knows its subset expects 99 % of its images from the subset's k classes
# (uniformly) and 1 % from the other C - k. The model was trained on balanced classes (prior 1/C), so
# Bayes' rule adds log(prior_c * C) to logit c; only the difference between the two groups moves the
# arg max, log((0.99 / k) / (0.01 / (C - k))): 6.8 nats for k = 10 of C = 100.
SUBSET_PRIOR_MASS = 0.99


def subset_prior_shift(k: int, num_classes: int, mass: float = SUBSET_PRIOR_MASS) -> float:
    """The logit shift added to the subset's k classes by the subset prior (0 when the subset is every class)."""
    if k >= num_classes:
        return 0.0
    return float(np.log(mass / k) - np.log((1.0 - mass) / (num_classes - k)))


def subset_flags(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int], mass: float = SUBSET_PRIOR_MASS) -> dict[str, np.ndarray]:
    """Per image of the subset's classes (rows as in `subset_correct`):

    outside     the top-scoring class lies outside the subset (a tie between the best subset class and
                an outside one counts as outside, as ties count against the label in `topk_correct`);
                then top1_all == top1_sub & ~outside holds image by image, which splits the all-classes
                gain exactly into a within-subset part and an out-of-subset part (laq.stats.decomposition);
    top1_prior  top-1 over all classes after adding `subset_prior_shift` to the subset's logits: the
                model given the subset's class prior as a last-layer bias shift, without calibration.
    A row with a non-finite logit is wrong in top1_prior and not outside (it predicts nothing)."""
    classes = np.asarray(classes)
    rows = np.isin(labels, classes)
    lg = np.asarray(logits)[rows].astype(np.float64)
    lb = np.asarray(labels)[rows]
    inside = np.zeros(lg.shape[1], dtype=bool)
    inside[classes] = True
    finite = np.isfinite(lg).all(1)
    if inside.all() or len(lb) == 0:
        outside = np.zeros(len(lb), dtype=bool)
    else:
        outside = (lg[:, ~inside].max(1) >= lg[:, inside].max(1)) & finite
    shifted = lg + np.where(inside, subset_prior_shift(len(classes), lg.shape[1], mass), 0.0)
    return {"outside": outside, "top1_prior": topk_correct(shifted, lb, 1)}


def accuracies(correct: dict[str, np.ndarray]) -> dict[str, float]:
    """Percent correct per metric of a `subset_correct` result, plus n_images."""
    n = len(next(iter(correct.values())))
    out: dict[str, float] = {m: (float(100.0 * v.mean()) if n else float("nan")) for m, v in correct.items()}
    out["n_images"] = n
    return out


def subset_metrics(logits: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> dict[str, float]:
    """top-1/top-5 over all outputs ("all") and over the subset's outputs only ("sub"), on the subset's images."""
    return accuracies(subset_correct(logits, labels, classes))
