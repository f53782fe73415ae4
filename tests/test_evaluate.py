import pytest
import numpy as np

from laq.evaluate import subset_metrics, topk_accuracy


def loop_topk(logits, labels, k):
    hits = 0
    for row, y in zip(logits, labels):
        better = sum(1 for v in row if v > row[y])
        hits += better < k
    return 100.0 * hits / len(labels)


def test_topk_matches_plain_loop():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 17)).astype(np.float32)
    labels = rng.integers(0, 17, 200)
    for k in (1, 3, 5, 17, 30):
        assert topk_accuracy(logits, labels, k) == pytest.approx(loop_topk(logits, labels, min(k, 17)))


def test_subset_metrics_restricts_rows_and_columns():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(300, 20)).astype(np.float32)
    labels = rng.integers(0, 20, 300)
    classes = [3, 7, 11]
    m = subset_metrics(logits, labels, classes)
    rows = np.isin(labels, classes)
    assert m["n_images"] == rows.sum()
    assert m["top1_all"] == pytest.approx(loop_topk(logits[rows], labels[rows], 1))
    remap = {c: i for i, c in enumerate(classes)}
    sub = logits[rows][:, classes]
    assert m["top1_sub"] == pytest.approx(loop_topk(sub, [remap[c] for c in labels[rows]], 1))
    assert m["top5_sub"] == 100.0  # 3 classes: every label is in the top 5
    assert m["top1_sub"] >= m["top1_all"]  # restricting outputs can only help
