"""Accuracy tables and the arrays they derive from: numpy/pandas only, so table jobs never import torch.

A table (`tables/<model>_<spec>.csv`) is in long format: one row per (subset, calibration draw), with
`<variant>_<metric>` in percent for every variant of `laq.design.VARIANTS`; `original` and `finetuned`
are not quantized and repeat across the draws of a subset.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np

from laq.compute import device_column
from laq.design import METRICS, QUANTIZED_VARIANTS, VARIANTS
from laq.io import LaqError, atomic_path, package_versions, rebuild_hint
from laq.metrics import subset_metrics
from laq.quant.registry import label as method_label

__all__ = ["METRICS", "VARIANTS", "load_arrays", "load_logits", "save_arrays", "save_logits", "table_rows", "write_table"]

# Columns that describe the spec (typed: the figures read them, never the config)
SPEC_COLUMNS = (
    "method", "bits_schedule", "bits_min", "bits_max", "bits_mean", "alphabet", "granularity", "bits_per_weight",
    "size_bytes", "compression",
)


def save_arrays(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        save_np({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def load_arrays(path: str) -> dict[str, np.ndarray]:
    try:
        return load_np(str(path))
    except (FileNotFoundError, SafetensorError, OSError, ValueError) as e:
        raise LaqError(f"array file {path} is missing or corrupted ({e}); {rebuild_hint(path)}.") from None


def save_logits(path: str, logits: np.ndarray, labels: np.ndarray) -> None:
    save_arrays(path, {"logits": logits.astype(np.float32), "labels": labels.astype(np.int64)})


def load_logits(path: str) -> tuple[np.ndarray, np.ndarray]:
    t = load_arrays(path)
    if "logits" not in t or "labels" not in t:
        raise LaqError(f"logits file {path} lacks logits or labels; {rebuild_hint(path)}.")
    return t["logits"], t["labels"]


def table_rows(
    manifest: dict[str, Any],
    base_logits: tuple[np.ndarray, np.ndarray],
    finetuned: dict[str, Any],
    quantized: dict[str, Any],
    base_sha256: str,
) -> list[dict[str, Any]]:
    """The rows of one subset, one per calibration draw: the subset, its distances, every variant's accuracies.

    `finetuned` and `quantized` are the subset's entries of the evaluation files
    (`laq.stages.evaluate_checkpoints`): variant -> list of per-draw metrics.
    """
    classes = manifest["classes"]
    head: dict[str, Any] = {
        "subset": manifest["id"],
        "strategy": manifest["strategy"],
        "size": len(classes),
        "classes": " ".join(map(str, classes)),
        "class_names": " ".join(n.replace(" ", "_") for n in manifest["class_names"]),
        **{k: manifest[k] for k in ("dist_min", "dist_max", "dist_mean", "dist_median")},
    }
    original = {**subset_metrics(*base_logits, classes), "sha256": base_sha256}
    ft = finetuned["finetuned"][0]
    draws = {len(quantized[v]) for v in QUANTIZED_VARIANTS}
    if len(draws) != 1:
        raise LaqError(f"subset {manifest['id']} has different numbers of draws per variant {sorted(draws)}; re-run evaluate.")
    rows = []
    for d in range(draws.pop()):
        found = {"original": original, "finetuned": ft, **{v: quantized[v][d] for v in QUANTIZED_VARIANTS}}
        row = {**head, "draw": d}
        for v in VARIANTS:
            for m in METRICS:
                row[f"{v}_{m}"] = round(float(found[v][m]), 4)
        row["sparsity"] = quantized["quant_aware"][d]["sparsity"]
        row["device"] = device_column(found)
        row.update({k: quantized["quantization"][k] for k in SPEC_COLUMNS})
        # sha256 (first 12 hex digits) of every checkpoint the row came from
        row["checkpoints_sha256"] = " ".join(f"{v}:{found[v]['sha256'][:12]}" for v in VARIANTS)
        rows.append(row)
    return rows


def write_table(path: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for k, v in {**extra, "packages": " ".join(f"{k}={v}" for k, v in package_versions().items())}.items():
        df[k] = v
    df = df.sort_values(["subset", "draw"], kind="stable").reset_index(drop=True)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    return df


def per_subset(table: pd.DataFrame) -> pd.DataFrame:
    """One row per subset: numeric columns averaged over the calibration draws, the rest from the first row."""
    numeric = table.select_dtypes("number").columns.drop("draw", errors="ignore")
    first = table.groupby("subset", sort=False).first()
    first[numeric] = table.groupby("subset", sort=False)[list(numeric)].mean()
    return first.drop(columns=["draw"], errors="ignore").reset_index()


def bits_label(row: Mapping[str, Any]) -> str:
    """"4 bits", "3→5 bits (asc)", "per-layer 3–5 bits (mean 4.2)" from a table row's typed bits columns."""
    lo, hi, schedule = int(row["bits_min"]), int(row["bits_max"]), str(row["bits_schedule"])
    if lo == hi:
        return f"{lo} bits"
    if schedule in ("asc", "desc"):
        first, second = (lo, hi) if schedule == "asc" else (hi, lo)
        return f"{first}→{second} bits ({schedule})"
    return f"per-layer {lo}–{hi} bits (mean {float(row['bits_mean']):.2g})"


def spec_label(table: pd.DataFrame) -> str:
    """"GPFQ, 4 bits": the method and bits of a table's spec, from its own columns."""
    if table.empty or "method" not in table:
        return "spec unknown"
    row = table.iloc[0]
    extra = [s for s, default in ((row.get("alphabet", "gpfq"), "gpfq"), (row.get("granularity", "tensor"), "tensor")) if s != default]
    extra = [{"signed": "signed alphabet", "channel": "per-channel steps"}.get(s, s) for s in extra]
    return f"{method_label(str(row['method']))}, {bits_label(row)}" + (f" ({', '.join(extra)})" if extra else "")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """An accuracy table written by the `table` rule; LaqError if it is missing, empty or lacks dist_median."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise LaqError(f"accuracy table {path} does not exist; {rebuild_hint(path)}.") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise LaqError(f"accuracy table {path} is unreadable ({e}); {rebuild_hint(path)}.") from None
    if "dist_median" not in df.columns:
        raise LaqError(f"accuracy table {path} has no dist_median column; {rebuild_hint(path)}.")
    return df
