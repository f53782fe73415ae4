"""One function per workflow step: what each `scripts/*.py` calls, testable without Snakemake."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import load_file as load_np
from safetensors.numpy import save_file as save_np

from laq.data.store import Split
from laq.data.transforms import channel_stats
from laq.evaluate import predict_logits, subset_metrics, topk_accuracy
from laq.io import LaqError, atomic_path, package_versions
from laq.models.sources import load_base
from laq.train import TrainSettings, train_classifier
from laq.workflow import preprocess_for

log = logging.getLogger(__name__)

VARIANTS = ("original", "quant_aware", "quant_agnostic", "finetuned", "finetuned_quant")
METRICS = ("top1_all", "top5_all", "top1_sub", "top5_sub")


def make_base_model(
    model_cfg: dict[str, Any], train: Split, names: list[str], *, seed: int, device: str
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The study's "original" model: from its source, trained on the full training set if asked."""
    torch.manual_seed(seed)  # the initial weights (and any new head) come from the global generator
    base = load_base(
        model_cfg["source"],
        len(names),
        depth=model_cfg.get("depth", 8),
        width=model_cfg.get("width", 16),
        pretrained=model_cfg.get("pretrained", True),
        image_size=int(train.images.shape[1]),
    )
    mean, std = (channel_stats(train.images) if model_cfg["source"] == "train" else (base.mean, base.std))
    meta = {
        "arch": base.arch,
        "num_classes": len(names),
        "input_size": int(model_cfg.get("input_size") or base.input_size),
        "mean": list(mean),
        "std": list(std),
        "classes": names,
        "source": model_cfg["source"],
    }
    tcfg = model_cfg.get("train", {})
    if tcfg.get("epochs", 0) > 0:
        settings = TrainSettings(
            epochs=tcfg["epochs"], lr=tcfg["lr"], batch_size=tcfg["batch_size"], weight_decay=tcfg["weight_decay"]
        )
        meta["history"] = train_classifier(base.model, train, preprocess_for(meta), settings, seed=seed, device=device)
    return base.model.cpu().eval(), meta


def finetune(
    model: torch.nn.Module, meta: dict[str, Any], train: Split, classes: Sequence[int], ft_cfg: dict[str, Any], *, seed: int, device: str
) -> list[dict[str, float]]:
    """Fine-tune all weights on the subset's training images, keeping every output (as the seed study did)."""
    data = train.subset(classes)
    settings = TrainSettings(
        epochs=ft_cfg["epochs"], lr=ft_cfg["lr"], batch_size=ft_cfg["batch_size"], weight_decay=ft_cfg["weight_decay"], schedule="constant"
    )
    return train_classifier(model, data, preprocess_for(meta), settings, seed=seed, device=device)


def save_logits(path: str, logits: np.ndarray, labels: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        save_np({"logits": logits.astype(np.float32), "labels": labels.astype(np.int64)}, str(tmp))


def load_logits(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = load_np(str(path))
        return t["logits"], t["labels"]
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        raise LaqError(f"logits file {path} is missing or corrupted ({e}); delete it and re-run.") from None


def base_metrics(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, Any]:
    per_class = [topk_accuracy(logits[labels == c], labels[labels == c], 1) for c in range(len(names))]
    order = np.argsort(per_class)
    return {
        "top1": topk_accuracy(logits, labels, 1),
        "top5": topk_accuracy(logits, labels, 5),
        "n_images": int(len(labels)),
        "per_class_top1": dict(zip(names, per_class)),
        "hardest_classes": [names[i] for i in order[:10]],
    }


def evaluate_on_subset(
    model: torch.nn.Module, meta: dict[str, Any], test: Split, classes: Sequence[int], *, batch_size: int, device: str
) -> dict[str, float]:
    data = test.subset(classes)
    logits = predict_logits(model, data.images, preprocess_for(meta), batch_size=batch_size, device=device, progress=False)
    return subset_metrics(logits, data.labels, classes)


def table_row(
    manifest: dict[str, Any],
    base_logits: tuple[np.ndarray, np.ndarray],
    agnostic_logits: tuple[np.ndarray, np.ndarray],
    finetuned: dict[str, Any],
    quantized: dict[str, Any],
    checkpoints: dict[str, str],
) -> dict[str, Any]:
    """One row of the accuracy table: the subset, its distances, every variant's accuracies.

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
        "finetuned": finetuned["metrics"],
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
        "quant_aware": quantized["provenance"]["inputs"]["aware"],
        "quant_agnostic": checkpoints["agnostic"],
        "finetuned": finetuned["provenance"]["inputs"]["model"],
        "finetuned_quant": quantized["provenance"]["inputs"]["finetuned"],
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


def embedder_model(embedder: str, base_checkpoint: str | None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model whose penultimate features embed the images: the base model, or an ImageNet backbone."""
    from laq.models.checkpoint import load_checkpoint

    if embedder == "base":
        return load_checkpoint(base_checkpoint)
    b = load_base(embedder, 1000, pretrained=True)
    return b.model.eval(), {"input_size": b.input_size, "mean": list(b.mean), "std": list(b.std), "arch": b.arch}


def quantize_checkpoint(
    model: torch.nn.Module,
    meta: dict[str, Any],
    calib_images: np.ndarray,
    spec: dict[str, Any],
    *,
    batch_size: int,
    device: str,
    seed: int = 0,
):
    """Quantize `model` with the preprocessed calibration images; returns laq.quant's QuantResult.

    `seed` (the study seed) drives patch sub-sampling and stochastic rounding unless the spec sets its own.
    """
    from laq.quant import QuantSpec, quantize_model

    calib = preprocess_for(meta)(torch.from_numpy(calib_images))
    qspec = QuantSpec.from_dict({"seed": seed, **{k: v for k, v in spec.items() if k != "name"}})
    return quantize_model(model.to(device), calib.to(device), qspec, batch_size=batch_size)


def load_quantized_checkpoint(path: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A quantized checkpoint rebuilt as a float model whose weights are the dequantized codes."""
    from laq.models.checkpoint import read_meta
    from laq.models.sources import build_arch
    from laq.quant import load_quantized

    meta = read_meta(path)
    return load_quantized(path, build_arch(meta["arch"], meta["num_classes"])).eval(), meta
