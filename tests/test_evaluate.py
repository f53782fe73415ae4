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


def _fake_entry(rng, draws, sha):
    return [{**{m: float(rng.uniform(0, 100)) for m in ("top1_all", "top5_all", "top1_sub", "top5_sub")},
             "sparsity": 0.25, "sha256": f"{sha}{d}" * 32} for d in range(draws)]


def test_table_rows_join_every_variant_and_draw():
    from laq.design import QUANTIZED_VARIANTS
    from laq.tables import METRICS, VARIANTS, table_rows

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 12, 400)
    base = rng.normal(size=(400, 12))
    classes = [1, 4, 9]
    manifest = {"id": "similar-k3-00", "strategy": "similar", "classes": classes, "class_names": ["a", "b c", "d"],
                "dist_min": 0.1, "dist_max": 0.9, "dist_mean": 0.5, "dist_median": 0.4}
    finetuned = {"finetuned": _fake_entry(rng, 1, "f")}
    quantized = {v: _fake_entry(rng, 3, str(i)) for i, v in enumerate(QUANTIZED_VARIANTS)}
    quantized["quantization"] = {"method": "gpfq", "bits_schedule": "uniform", "bits_min": 4, "bits_max": 4, "bits_mean": 4.0,
                                 "alphabet": "gpfq", "granularity": "tensor", "bits_per_weight": 4.9, "size_bytes": 123, "compression": 6.0,
                                 "calibration_images": 32}
    rows = table_rows(manifest, (base, labels), finetuned, quantized, "e" * 64)
    assert [r["draw"] for r in rows] == [0, 1, 2]
    for d, row in enumerate(rows):
        expected = {"original": _entry_metrics(base, labels, classes), "finetuned": finetuned["finetuned"][0],
                    **{v: quantized[v][d] for v in QUANTIZED_VARIANTS}}
        for v in VARIANTS:
            for m in METRICS:
                assert row[f"{v}_{m}"] == pytest.approx(expected[v][m], abs=1e-4), (v, m, d)
        assert row["class_names"] == "a b_c d" and row["classes"] == "1 4 9" and row["size"] == 3
        assert row["bits_min"] == 4 and row["method"] == "gpfq" and row["sparsity"] == 0.25
        hashes = dict(h.split(":") for h in row["checkpoints_sha256"].split())
        assert list(hashes) == list(VARIANTS) and hashes["original"] == "e" * 12 and hashes["finetuned"] == "f0" * 6
        assert hashes["quant_mismatched"] == f"2{d}" * 6  # the draw's own checkpoint


def test_per_subset_averages_the_draws():
    import pandas as pd

    from laq.tables import per_subset

    t = pd.DataFrame({"subset": ["b", "b", "a", "a"], "draw": [0, 1, 0, 1], "strategy": ["x", "x", "y", "y"],
                      "quant_aware_top1_all": [10.0, 20.0, 30.0, 50.0], "dist_median": [1.0, 1.0, 2.0, 2.0]})
    s = per_subset(t).set_index("subset")
    assert s.loc["b", "quant_aware_top1_all"] == 15.0 and s.loc["a", "quant_aware_top1_all"] == 40.0
    assert s.loc["a", "strategy"] == "y" and "draw" not in s.columns and list(s.index) == ["b", "a"]


def test_evaluate_checkpoints_equals_evaluating_each_model_alone(tmp_path):
    import hashlib

    import torch

    from laq.data.store import Split
    from laq.evaluate import predict_logits
    from laq.metrics import subset_correct
    from laq.models.checkpoint import save_checkpoint
    from laq.stages import evaluate_checkpoints, make_base_model
    from laq.workflow import preprocess_for

    rng = np.random.default_rng(3)
    test = Split(rng.integers(0, 256, (120, 16, 16, 3), dtype=np.uint8), np.repeat(np.arange(6), 20).astype(np.int64))
    cfg = {"source": "train", "depth": 8, "width": 4}
    checkpoints, manifests, expected = {}, [], {}
    for seed, classes in ((0, [0, 2, 5]), (1, [1, 3])):
        sid = f"random-k{len(classes)}-0{seed}"
        manifests.append({"id": sid, "classes": classes})
        checkpoints[sid] = {"finetuned": []}
        for draw in range(2):
            model, meta = make_base_model(cfg, test, list("abcdef"), seed=10 * seed + draw, device="cpu")
            path = str(tmp_path / f"m{seed}-{draw}.safetensors")
            save_checkpoint(path, model, meta)
            checkpoints[sid]["finetuned"].append(path)
            with torch.no_grad():
                logits = predict_logits(model, test.images, preprocess_for(meta), progress=False)
            expected[sid, draw] = (_entry_metrics(logits, test.labels, classes), subset_correct(logits, test.labels, classes), path)
    out, correct = evaluate_checkpoints(checkpoints, manifests, test, quantized=False, batch_size=7, device="cpu")
    assert list(out) == ["random-k3-00", "random-k2-01"]
    for (sid, draw), (exp, hits, path) in expected.items():
        entry = out[sid]["finetuned"][draw]
        for m, v in exp.items():
            assert entry[m] == pytest.approx(v), (sid, m)
        assert entry["n_images"] == 20 * int(sid[len("random-k")])  # 20 test images per class
        assert entry["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
        for k in ("top1_all", "top1_sub"):
            np.testing.assert_array_equal(correct[f"{sid}/finetuned/{k}"][draw], hits[k].astype(np.uint8))
