"""Accuracy tables and the logits they derive from: numpy/pandas only, so table jobs never import torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np

from laq.io import LaqError, atomic_path, package_versions, rebuild_hint
from laq.metrics import subset_metrics

VARIANTS = ("original", "quant_aware", "quant_agnostic", "finetuned", "finetuned_quant")
METRICS = ("top1_all", "top5_all", "top1_sub", "top5_sub")


def save_logits(path: str, logits: np.ndarray, labels: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        save_np({"logits": logits.astype(np.float32), "labels": labels.astype(np.int64)}, str(tmp))


def load_logits(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = load_np(str(path))
        return t["logits"], t["labels"]
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        raise LaqError(f"logits file {path} is missing or corrupted ({e}); {rebuild_hint(path)}.") from None


def table_row(
    manifest: dict[str, Any],
    base_logits: tuple[np.ndarray, np.ndarray],
    agnostic_logits: tuple[np.ndarray, np.ndarray],
    finetuned: dict[str, Any],
    quantized: dict[str, Any],
    checkpoints: dict[str, str],
) -> dict[str, Any]:
    """One row of the accuracy table: the subset, its distances, every variant's accuracies.

    `finetuned` and `quantized` are the subset's entries of the evaluation files (`evaluate_models`);
    `checkpoints` holds the sha256 of the base and label-agnostic checkpoints (keys base, agnostic).
    """
    classes = manifest["classes"]
    row: dict[str, Any] = {
        "subset": manifest["id"],
        "strategy": manifest["strategy"],
        "size": len(classes),
        "classes": " ".join(map(str, classes)),
        "class_names": " ".join(n.replace(" ", "_") for n in manifest["class_names"]),
        **{k: manifest[k] for k in ("dist_min", "dist_max", "dist_mean", "dist_median")},
    }
    found = {
        "original": subset_metrics(*base_logits, classes),
        "quant_agnostic": subset_metrics(*agnostic_logits, classes),
        "finetuned": finetuned["finetuned"],
        "quant_aware": quantized["quant_aware"],
        "finetuned_quant": quantized["finetuned_quant"],
    }
    for v in VARIANTS:
        for m in METRICS:
            row[f"{v}_{m}"] = round(float(found[v][m]), 4)
    for k in ("sparsity", "size_bytes", "compression", "method", "bits"):
        row[k] = quantized[k]
    # sha256 (first 12 hex digits) of every checkpoint the row came from
    hashes = {
        "original": checkpoints["base"],
        "quant_aware": quantized["inputs_sha256"]["quant_aware"],
        "quant_agnostic": checkpoints["agnostic"],
        "finetuned": finetuned["inputs_sha256"]["finetuned"],
        "finetuned_quant": quantized["inputs_sha256"]["finetuned_quant"],
    }
    row["checkpoints_sha256"] = " ".join(f"{v}:{hashes[v][:12]}" for v in VARIANTS)
    return row


def write_table(path: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for k, v in {**extra, "packages": " ".join(f"{k}={v}" for k, v in package_versions().items())}.items():
        df[k] = v
    df = df.sort_values("subset", kind="stable").reset_index(drop=True)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    return df
