"""The seed study's published data (resources/seed/): its result logs read into laq's table format,
its subsets as a `subsets.file`, and a comparison of a replay run with a log.

Torch-free. A seed log has one row per 10-class subset (`Subset_Inds` in the order the seed's code
listed them) with the accuracies of the original, quantized (GPFQ, subset calibration), fine-tuned
and fine-tuned + quantized ResNet-50, as fractions, over all 100 outputs and restricted to the
subset ("Pick Sub"). A replay run takes the logs' distinct subsets as its `subsets.file`
(`write_subsets_file`); rows are matched to its subsets by their classes (`compare`).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from laq.design import METRICS, VARIANTS
from laq.io import LaqError, atomic_path, brief
from laq.tables import per_subset

# laq variant -> the seed log's column prefix ("" = not measured by the seed)
SEED_VARIANTS = {
    "original": "Original",
    "quant_aware": "Quantized",
    "quant_agnostic": "",
    "quant_mismatched": "",
    "quant_density": "",
    "quant_mix0": "",
    "quant_mix25": "",
    "quant_mix50": "",
    "finetuned": "Fine-Tuned",
    "finetuned_quant": "Quant+FT",
}
_METRIC_COLUMNS = {"top1_all": "Top1 Accuracy", "top5_all": "Top5 Accuracy",
                   "top1_sub": "Top1 Accuracy (Pick Sub)", "top5_sub": "Top5 Accuracy (Pick Sub)"}
COMPARED = [v for v in VARIANTS if SEED_VARIANTS.get(v)]  # the other conditions are laq's own


_LOG_FIX = "use one of the logs in resources/seed/ (or restore this one from git)"
_KL_COLUMNS = ("Min_KL", "Max_KL", "Avg_KL", "Median_KL")


def _log_subsets(df: pd.DataFrame, path: str | os.PathLike, num_classes: int | None = None) -> list[list[int]]:
    out = []
    for i, raw in enumerate(df["Subset_Inds"]):
        text = str(raw)
        try:
            if len(text) > 10_000:  # literal_eval of a huge string is slow and can exhaust the stack
                raise ValueError
            classes = ast.literal_eval(text)
            if not isinstance(classes, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
                raise ValueError
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise LaqError(f"seed log {path}, row {i}: Subset_Inds {brief(raw, 40)} is not a list of class indices; {_LOG_FIX}.") from None
        bad = [c for c in classes if c < 0 or (num_classes is not None and c >= num_classes)]
        if bad:
            bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise LaqError(f"seed log {path}, row {i}: class index {bad[0]} in Subset_Inds is out of range {bound}; {_LOG_FIX}.")
        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise LaqError(f"seed log {path}, row {i}: Subset_Inds lists a class twice or fewer than 2 classes; {_LOG_FIX}.")
        out.append(list(classes))
    return out


def _check_numbers(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Every accuracy a fraction in [0, 1] and every distance finite and >= 0: no blank, text or percentage."""
    accuracy = [f"{p} {m}" for p in SEED_VARIANTS.values() if p for m in _METRIC_COLUMNS.values()]
    for col in [*_KL_COLUMNS, *accuracy]:
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        for i in np.flatnonzero(values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))):
            what = "is blank (a truncated or edited row)" if pd.isna(raw.iloc[i]) else f"= {brief(raw.iloc[i], 24)} is not a finite number"
            raise LaqError(f"seed log {path}, row {i}: {col} {what}; {_LOG_FIX}.")
        if col in _KL_COLUMNS:
            if (values < 0).any():
                i = int(np.flatnonzero(values < 0)[0])
                raise LaqError(f"seed log {path}, row {i}: {col} = {values.iloc[i]} is negative; distances are >= 0; {_LOG_FIX}.")
            continue
        out = (values < 0) | (values > 1)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            hint = " (a percentage? the seed's logs hold fractions)" if 1 < values.iloc[i] <= 100 else ""
            raise LaqError(f"seed log {path}, row {i}: {col} = {values.iloc[i]} is not a fraction in [0, 1]{hint}; {_LOG_FIX}.")
        df[col] = values


def read_log(path: str | os.PathLike, num_classes: int | None = None) -> pd.DataFrame:
    """A seed log, checked: the columns laq reads present, accuracies fractions in [0, 1], distances
    finite and >= 0, Subset_Inds lists of distinct class indices (below `num_classes` when given)."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise LaqError(f"seed log {path} does not exist; the seed's logs are in resources/seed/.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise LaqError(f"seed log {path} is not a readable CSV ({e}).") from None
    need = ["Subset_Inds", "Min_KL", "Max_KL", "Avg_KL", "Median_KL"] + [
        f"{p} {m}" for p in SEED_VARIANTS.values() if p for m in _METRIC_COLUMNS.values()
    ]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise LaqError(f"seed log {path} lacks column(s) {', '.join(missing[:3])}; use one of the logs in resources/seed/.")
    if df.empty:
        raise LaqError(f"seed log {path} has no rows; {_LOG_FIX}.")
    _check_numbers(df, path)
    _log_subsets(df, path, num_classes)
    return df


def read_seed_log(path: str | os.PathLike, class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """A seed log as laq's long table, one row per log row: ids file-k<size>-<i> numbered like the
    replay's subsets file (`write_subsets_file`: distinct subsets in order of first appearance), so a
    log row that repeats a subset gets that subset's id and the next `draw` (0 for its first row);
    classes sorted as laq's manifests store them (`seed_order` keeps the log's order), accuracies in
    percent, the variants the seed did not run (label-agnostic, mismatched) as NaN."""
    df = read_log(path, None if class_names is None else len(class_names))
    subsets = _log_subsets(df, path)
    rows = []
    ids: dict[frozenset[int], int] = {}
    seen: dict[frozenset[int], int] = {}
    for classes, (_, r) in zip(subsets, df.iterrows()):
        key = frozenset(classes)
        i = ids.setdefault(key, len(ids))
        draw = seen[key] = seen.get(key, -1) + 1
        row = {
            "subset": f"file-k{len(classes)}-{i:02d}",
            "strategy": "file",
            "size": len(classes),
            "classes": " ".join(str(c) for c in sorted(classes)),
            "seed_order": " ".join(str(c) for c in classes),
            "class_names": " ".join(str(class_names[c]) for c in sorted(classes)) if class_names is not None else "",
            "dist_min": float(r["Min_KL"]),
            "dist_max": float(r["Max_KL"]),
            "dist_mean": float(r["Avg_KL"]),
            "dist_median": float(r["Median_KL"]),
            "draw": draw,
        }
        for v in VARIANTS:
            for m in METRICS:
                prefix = SEED_VARIANTS[v]
                row[f"{v}_{m}"] = 100.0 * float(r[f"{prefix} {_METRIC_COLUMNS[m]}"]) if prefix else np.nan
        row["seed_bits"] = int(r["Bits"]) if "Bits" in df.columns else -1
        rows.append(row)
    return pd.DataFrame(rows)


def write_subsets_file(log: str | os.PathLike, out: str | os.PathLike) -> list[list[int]]:
    """The log's distinct subsets as a `subsets.file`, one line each in order of first appearance
    (class indices in the log's order); a row that repeats an earlier subset becomes a comment, since
    laq refuses repeated subsets (they would count twice in the statistics). Returns the subsets written."""
    subsets = _log_subsets(read_log(log), log)
    lines = [f"# The distinct subsets of the seed study's log {Path(log).name}, in log order (laq.seed.write_subsets_file).\n"]
    first: dict[frozenset[int], int] = {}
    kept = []
    for row, s in enumerate(subsets):
        key = frozenset(s)
        if key in first:
            lines.append(f"# log row {row} repeats log row {first[key]}\n")
            continue
        first[key] = row
        kept.append(s)
        lines.append("\t".join(str(c) for c in s) + "\n")
    with atomic_path(out) as tmp:
        Path(tmp).write_text("".join(lines))
    return kept


def compare(ours: pd.DataFrame, seed: pd.DataFrame) -> pd.DataFrame:
    """Per seed-log row, variant and metric: our accuracy on the subset with the same classes (mean
    over draws), the seed's, and ours − seed's (pp). Only variants the seed measured; a log row that
    repeats a subset is compared with the same subset of ours. LaqError if no row matches (the run did
    not use the log's subsets)."""
    mine = per_subset(ours).set_index("classes")
    rows = []
    for i, (_, s) in enumerate(seed.iterrows()):
        key = str(s["classes"])
        if key not in mine.index:
            continue
        for v in COMPARED:
            for m in METRICS:
                a, b = float(mine.at[key, f"{v}_{m}"]), float(s[f"{v}_{m}"])
                rows.append({"seed_row": i, "subset": mine.at[key, "subset"], "classes": key,
                             "dist_median": float(s["dist_median"]), "variant": v, "metric": m,
                             "ours": a, "seed": b, "difference_pp": a - b})
    if not rows:
        raise LaqError("no subset of the run has the classes of a seed-log row; set subsets.file to the log's subsets (resources/seed/subsets_resnet50.tsv).")
    return pd.DataFrame(rows)


def plot_comparison(cmp: pd.DataFrame, path: str | os.PathLike, *, title: str) -> None:
    """Ours vs the seed's top-1, one panel per variant the seed measured, over all classes (filled)
    and restricted to the subset (open), with the identity line; PNG + SVG."""
    from laq.plots.style import VARIANT_STYLES, new_figure, save_figure

    variants = [v for v in COMPARED if v in set(cmp["variant"])]
    fig = new_figure(3.4 * max(1, len(variants)), 3.9)
    axes = fig.subplots(1, max(1, len(variants)), squeeze=False)[0]
    for ax, v in zip(axes, variants):
        st = VARIANT_STYLES[v]
        for mode, face in (("all", st.colour), ("sub", "none")):
            d = cmp[(cmp["variant"] == v) & (cmp["metric"] == f"top1_{mode}")]
            ax.scatter(d["seed"], d["ours"], s=22, marker=st.marker, facecolors=face, edgecolors=st.colour,
                       label=f"top-1, {'all classes' if mode == 'all' else 'subset classes'}")
        d = cmp[cmp["variant"] == v][["seed", "ours"]].to_numpy(dtype=float)
        finite = d[np.isfinite(d).all(axis=1)]
        lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 100.0)
        pad = max(1.0, 0.05 * (hi - lo))
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", linewidth=0.8, linestyle="--", zorder=0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        diff = cmp[(cmp["variant"] == v) & (cmp["metric"] == "top1_all")]["difference_pp"]
        ax.set_title(f"{st.label}\nmean ours − seed: {diff.mean():+.1f} pp (top-1, all)", loc="left", fontsize="medium")
        ax.set_xlabel("seed study (%)")
        ax.set_ylabel("this run (%)")
        ax.set_aspect("equal")
    axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle(title, x=0.01, ha="left")
    save_figure(fig, path)


def write_comparison(cmp: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        cmp.to_csv(tmp, index=False, float_format="%.4f")
