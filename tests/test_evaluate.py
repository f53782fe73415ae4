import math

import pytest
import numpy as np

from laq.metrics import subset_metrics, topk_accuracy


def loop_topk(logits, labels, k):
    """Reference: a row scores when fewer than k OTHER logits are >= the label's (ties count against
    the label) and every logit of the row is finite."""
    hits = 0
    for row, y in zip(logits, labels):
        if not all(math.isfinite(v) for v in row):
            continue
        at_least = sum(1 for j, v in enumerate(row) if j != y and v >= row[y])
        hits += at_least < k
    return 100.0 * hits / len(labels)


def test_topk_matches_plain_loop():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 17)).astype(np.float32)
    labels = rng.integers(0, 17, 200)
    for k in (1, 3, 5, 17, 30):
        assert topk_accuracy(logits, labels, k) == pytest.approx(loop_topk(logits, labels, min(k, 17)))


def test_ties_and_non_finite_logits_count_as_wrong():
    rng = np.random.default_rng(4)
    logits = rng.integers(0, 3, size=(300, 8)).astype(np.float32)  # many ties
    labels = rng.integers(0, 8, 300)
    logits[rng.random(300) < 0.1, rng.integers(0, 8)] = np.nan
    logits[rng.random(300) < 0.1, rng.integers(0, 8)] = np.inf
    logits[rng.random(300) < 0.05, rng.integers(0, 8)] = -np.inf
    for k in (1, 2, 5, 8):
        assert topk_accuracy(logits, labels, k) == pytest.approx(loop_topk(logits, labels, k))
    assert 0 < topk_accuracy(logits, labels, 8) < 100  # k = C still fails the non-finite rows
    labels4 = np.array([0, 1, 2, 3])
    assert topk_accuracy(np.zeros((4, 10)), labels4, 1) == 0.0  # all equal: no prediction
    assert topk_accuracy(np.full((4, 10), np.nan), labels4, 5) == 0.0  # a diverged model scores nothing
    only_label_inf = np.zeros((4, 10))
    only_label_inf[np.arange(4), labels4] = np.inf
    assert topk_accuracy(only_label_inf, labels4, 1) == 0.0
    # a NaN outside the subset's columns still makes the row wrong when restricted to the subset
    sub_logits = np.eye(10)[labels4] * 5
    sub_logits[0, 9] = np.nan
    m = subset_metrics(sub_logits, labels4, [0, 1, 2, 3])
    assert m["top1_all"] == m["top1_sub"] == m["top5_sub"] == 75.0


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


def _entry_metrics(logits, labels, classes):
    """Independent reference: plain loops over the subset's rows, all columns and the subset's columns."""
    rows = [i for i, y in enumerate(labels) if y in classes]
    lg, lb = logits[rows], labels[rows]
    col = {c: i for i, c in enumerate(classes)}
    sub, sub_lb = lg[:, classes], np.array([col[y] for y in lb])
    return {"top1_all": loop_topk(lg, lb, 1), "top5_all": loop_topk(lg, lb, 5),
            "top1_sub": loop_topk(sub, sub_lb, 1), "top5_sub": loop_topk(sub, sub_lb, 5)}


def test_table_row_joins_every_variant():
    from laq.tables import METRICS, VARIANTS, table_row

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 12, 400)
    base, agnostic = rng.normal(size=(400, 12)), rng.normal(size=(400, 12))
    classes = [1, 4, 9]
    manifest = {"id": "similar-k3-00", "strategy": "similar", "classes": classes, "class_names": ["a", "b c", "d"],
                "dist_min": 0.1, "dist_max": 0.9, "dist_mean": 0.5, "dist_median": 0.4}
    fake = lambda v: {m: float(rng.uniform(0, 100)) for m in METRICS}  # noqa: E731
    finetuned = {"finetuned": fake(0), "inputs_sha256": {"finetuned": "f" * 64}}
    quantized = {"quant_aware": fake(1), "finetuned_quant": fake(2), "sparsity": 0.25, "size_bytes": 123, "compression": 6.0,
                 "method": "gpfq", "bits": "4", "inputs_sha256": {"quant_aware": "a" * 64, "finetuned_quant": "b" * 64}}
    row = table_row(manifest, (base, labels), (agnostic, labels), finetuned, quantized, {"base": "0" * 64, "agnostic": "9" * 64})
    expected = {"original": _entry_metrics(base, labels, classes), "quant_agnostic": _entry_metrics(agnostic, labels, classes),
                "finetuned": finetuned["finetuned"], "quant_aware": quantized["quant_aware"],
                "finetuned_quant": quantized["finetuned_quant"]}
    for v in VARIANTS:
        for m in METRICS:
            assert row[f"{v}_{m}"] == pytest.approx(expected[v][m], abs=1e-4), (v, m)
    assert row["class_names"] == "a b_c d" and row["classes"] == "1 4 9" and row["size"] == 3
    assert row["checkpoints_sha256"] == ("original:000000000000 quant_aware:aaaaaaaaaaaa quant_agnostic:999999999999 "
                                         "finetuned:ffffffffffff finetuned_quant:bbbbbbbbbbbb")


def test_evaluate_models_equals_evaluating_each_model_alone(tmp_path):
    import hashlib

    import torch

    from laq.data.store import Split
    from laq.evaluate import predict_logits
    from laq.models.checkpoint import save_checkpoint
    from laq.stages import evaluate_models, make_base_model
    from laq.workflow import preprocess_for

    rng = np.random.default_rng(3)
    test = Split(rng.integers(0, 256, (120, 16, 16, 3), dtype=np.uint8), np.repeat(np.arange(6), 20).astype(np.int64))
    cfg = {"source": "train", "depth": 8, "width": 4}
    paths, manifests, expected = [], [], []
    for seed, classes in ((0, [0, 2, 5]), (1, [1, 3])):
        model, meta = make_base_model(cfg, test, list("abcdef"), seed=seed, device="cpu")
        paths.append(str(tmp_path / f"m{seed}.safetensors"))
        save_checkpoint(paths[-1], model, meta)
        manifests.append({"id": f"random-k{len(classes)}-0{seed}", "classes": classes})
        with torch.no_grad():
            logits = predict_logits(model, test.images, preprocess_for(meta), progress=False)
        expected.append(_entry_metrics(logits, test.labels, classes))
    out = evaluate_models({"finetuned": paths}, manifests, test, quantized=False, batch_size=7, device="cpu")
    assert list(out) == ["random-k3-00", "random-k2-01"]
    for path, manifest, exp in zip(paths, manifests, expected):
        entry = out[manifest["id"]]
        for m, v in exp.items():
            assert entry["finetuned"][m] == pytest.approx(v), (manifest["id"], m)
        assert entry["finetuned"]["n_images"] == 20 * len(manifest["classes"])
        assert entry["inputs_sha256"]["finetuned"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
