"""Accuracy tables and the arrays they derive from: numpy/pandas only, so table jobs never import torch.

A table (`tables/<model>_<spec>.csv`) is in long format: one row per (subset, calibration draw), with
`<variant>_<metric>` in percent for every variant the run made (`laq.design.variants_for` its
conditions; `laq.design.variants_in(columns)` reads them back); `original` and `finetuned` are not
quantized and repeat across the draws of a subset.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np

from laq.compute import device_column
from laq.design import METRICS, QUANTIZED_VARIANTS, VARIANTS, variants_in
from laq.io import LaqError, atomic_path, brief, package_versions, read_json, rebuild_hint
from laq.metrics import subset_metrics
from laq.quant.registry import label as method_label

__all__ = ["METRICS", "VARIANTS", "load_arrays", "load_logits", "save_arrays", "save_logits", "table_rows", "write_table"]

# Columns that describe the spec (typed: the figures read them, never the config)
SPEC_COLUMNS = (
    "method", "bits_schedule", "bits_min", "bits_max", "bits_mean", "alphabet", "granularity", "bits_per_weight",
    "size_bytes", "compression", "calibration_images",
)


def save_arrays(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        save_np({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def load_arrays(path: str) -> dict[str, np.ndarray]:
    try:
        return load_np(str(path))
    except (FileNotFoundError, SafetensorError, OSError, ValueError) as e:
        raise LaqError(f"array file {path} is missing or corrupted ({e}); {rebuild_hint(path)}.") from None


def read_correct(path: str | os.PathLike, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-image correctness file of a spec (`eval/<model>/spec-<spec>_correct.safetensors`), checked
    against its table: for every subset, quantized variant and mode a uint8 array of 0/1 with one row per
    draw of the table and the same number of images for every variant of the subset."""
    arrays = load_arrays(str(path))
    made = [v for v in QUANTIZED_VARIANTS if f"{v}_top1_all" in table.columns]
    for sid, rows in table.groupby("subset", sort=False):
        n = None
        for v in made:
            for mode in ("all", "sub"):
                key = f"{sid}/{v}/top1_{mode}"
                a = arrays.get(key)
                if a is None:
                    raise LaqError(f"correctness file {path} lacks {key}; {rebuild_hint(path)}.")
                if a.dtype != np.uint8 or a.ndim != 2 or a.shape[0] != len(rows) or (n is not None and a.shape[1] != n) or (a > 1).any():
                    raise LaqError(f"correctness file {path}: {key} is {a.dtype} {a.shape}, not 0/1 uint8 of {len(rows)} draws x images; {rebuild_hint(path)}.")
                n = a.shape[1]
    return arrays


def save_logits(path: str, logits: np.ndarray, labels: np.ndarray) -> None:
    save_arrays(path, {"logits": logits.astype(np.float32), "labels": labels.astype(np.int64)})


def load_logits(path: str) -> tuple[np.ndarray, np.ndarray]:
    t = load_arrays(path)
    if "logits" not in t or "labels" not in t:
        raise LaqError(f"logits file {path} lacks logits or labels; {rebuild_hint(path)}.")
    return t["logits"], t["labels"]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def read_evaluation(path: str | os.PathLike, subset_ids: Sequence[str], variants: Sequence[str]) -> dict[str, Any]:
    """The `subsets` block of an evaluation file (`eval/<model>/*.json`), checked: every subset of the run
    and every variant present, one entry per draw (the same number for every variant), each metric a
    number in [0, 100], sparsity in [0, 1], a sha256; quantized files also describe their spec."""
    data = read_json(path)

    def bad(where: str, what: str) -> LaqError:
        return LaqError(f"evaluation file {path}: {where} {what}; {rebuild_hint(path)}.")

    subsets = data.get("subsets") if isinstance(data, dict) else None
    if not isinstance(subsets, dict):
        raise bad("subsets", "is missing or not a mapping")
    quantized = any(v in QUANTIZED_VARIANTS for v in variants)
    for sid in subset_ids:
        entry = subsets.get(sid)
        if not isinstance(entry, dict):
            raise bad(f"subsets.{str(sid)[:60]}", "is missing (the file was made for other subsets)")
        counts = set()
        for v in variants:
            runs = entry.get(v)
            if not isinstance(runs, list) or not runs:
                raise bad(f"subsets.{sid}.{v}", "is missing or empty")
            counts.add(len(runs))
            for d, m in enumerate(runs):
                where = f"subsets.{sid}.{v}[{d}]"
                if not isinstance(m, dict):
                    raise bad(where, "is not a mapping of metrics")
                for k in METRICS:
                    x = m.get(k)
                    if not _is_number(x) or not 0.0 <= x <= 100.0:  # NaN fails the comparison too
                        raise bad(f"{where}.{k}", f"= {brief(x, 24)} is not an accuracy in [0, 100] %")
                if not isinstance(m.get("sha256"), str):
                    raise bad(f"{where}.sha256", "is missing")
                if quantized and not (_is_number(m.get("sparsity")) and 0.0 <= m["sparsity"] <= 1.0):
                    raise bad(f"{where}.sparsity", f"= {brief(m.get('sparsity'), 24)} is not a fraction in [0, 1]")
        if len(counts) != 1:
            raise bad(f"subsets.{sid}", f"has different numbers of draws per variant ({sorted(counts)})")
        if quantized:
            q = entry.get("quantization")
            missing = [k for k in SPEC_COLUMNS if not isinstance(q, dict) or k not in q]
            if missing:
                raise bad(f"subsets.{sid}.quantization", f"lacks {', '.join(missing[:3])}")
    return subsets


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
    made = [v for v in QUANTIZED_VARIANTS if v in quantized]  # the run's conditions (laq.design.variants_for)
    variants = [v for v in VARIANTS if v in made or v in ("original", "finetuned")]
    draws = {len(quantized[v]) for v in made}
    if len(draws) != 1:
        raise LaqError(f"subset {manifest['id']} has different numbers of draws per variant {sorted(draws)}; re-run evaluate.")
    _refuse_all_zero(manifest["id"], quantized)
    rows = []
    for d in range(draws.pop()):
        found = {"original": original, "finetuned": ft, **{v: quantized[v][d] for v in made}}
        row = {**head, "draw": d}
        for v in variants:
            for m in METRICS:
                row[f"{v}_{m}"] = round(float(found[v][m]), 4)
        row["sparsity"] = quantized["quant_aware"][d]["sparsity"]
        row["device"] = device_column(found)
        row.update({k: quantized["quantization"][k] for k in SPEC_COLUMNS})
        # sha256 (first 12 hex digits) of every checkpoint the row came from
        row["checkpoints_sha256"] = " ".join(f"{v}:{found[v]['sha256'][:12]}" for v in variants)
        rows.append(row)
    return rows


def _refuse_all_zero(subset: str, quantized: dict[str, Any]) -> None:
    """A quantized model whose weights are all zero predicts a constant: kept out of tables unless its spec allows it."""
    if quantized.get("quantization", {}).get("allow_degenerate"):
        return
    for v in (v for v in QUANTIZED_VARIANTS if v in quantized):
        for d, m in enumerate(quantized[v]):
            if m.get("sparsity", 0.0) >= 1.0:
                raise LaqError(
                    f"subset {subset}: the {v} model of draw {d} has only zero weights (sparsity 1.0); change the spec's "
                    "scalar or percentile and re-run quantize, or set allow_degenerate: true in the spec if that is intended."
                )


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
    check_table(df, path)
    return df


def check_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """A table's invariants: rows, every variant's accuracies numeric, finite and in [0, 100], distances
    finite and >= 0, sparsity in [0, 1], one row per (subset, draw)."""
    def bad(what: str) -> LaqError:
        return LaqError(f"accuracy table {path}: {what}; {rebuild_hint(path)}.")

    if df.empty:
        raise bad("it has no rows")
    # every run has these variants; the other conditions are the config's choice (laq.design.check_conditions)
    have = sorted(set(variants_in(df.columns)) | {"original", "quant_aware", "finetuned", "finetuned_quant"}, key=VARIANTS.index)
    need = ["subset", "draw", *(f"{v}_{m}" for v in have for m in METRICS)]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise bad(f"column(s) {', '.join(missing[:3])} missing")
    ranges = {**{f"{v}_{m}": (0.0, 100.0) for v in have for m in METRICS},
              **{c: (0.0, np.inf) for c in ("dist_min", "dist_max", "dist_mean", "dist_median") if c in df},
              **({"sparsity": (0.0, 1.0)} if "sparsity" in df else {})}
    for col, (lo, hi) in ranges.items():
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        out = ~(np.isfinite(values) & (values >= lo) & (values <= hi))
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise bad(f"line {i + 2}, column {col} = {brief(df[col].iloc[i], 24)} is not a number in [{lo:g}, {hi:g}]")
    dup = df.duplicated(["subset", "draw"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise bad(f"line {i + 2} repeats subset {df['subset'].iloc[i]} draw {df['draw'].iloc[i]}")
