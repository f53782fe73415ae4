"""One function per workflow step: what each `scripts/*.py` calls, testable without Snakemake."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from laq.data.store import Split
from laq.data.transforms import channel_stats
from laq.evaluate import predict_logits, weight_sparsity
from laq.io import sha256_file
from laq.metrics import subset_metrics, topk_accuracy
from laq.models.sources import load_base
from laq.seeding import derive_seed
from laq.train import TrainSettings, train_classifier
from laq.workflow import preprocess_for

log = logging.getLogger(__name__)


def make_base_model(
    model_cfg: dict[str, Any], train: Split, names: list[str], *, seed: int, device: str, threads: int | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The study's "original" model: from its source, trained on the full training set if asked."""
    torch.manual_seed(derive_seed(seed, "init"))  # the initial weights (and any new head) come from the global generator
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
        meta["history"] = train_classifier(base.model, train, preprocess_for(meta), settings, seed=seed, device=device, threads=threads)
    return base.model.cpu().eval(), meta


def finetune(
    model: torch.nn.Module,
    meta: dict[str, Any],
    train: Split,
    classes: Sequence[int],
    ft_cfg: dict[str, Any],
    *,
    seed: int,
    device: str,
    threads: int | None = None,
) -> list[dict[str, float]]:
    """Fine-tune all weights on the subset's training images, keeping every output (as the seed study did)."""
    data = train.subset(classes)
    settings = TrainSettings(
        epochs=ft_cfg["epochs"], lr=ft_cfg["lr"], batch_size=ft_cfg["batch_size"], weight_decay=ft_cfg["weight_decay"], schedule="constant",
        config_key="finetune",
    )
    return train_classifier(model, data, preprocess_for(meta), settings, seed=seed, device=device, threads=threads)


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


def evaluate_models(
    models: dict[str, Sequence[str]],
    manifests: Sequence[dict[str, Any]],
    test: Split,
    *,
    quantized: bool,
    batch_size: int,
    device: str,
    trusted_hub: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every subset's models on that subset's test images, in one process (a job costs more than an evaluation).

    `models` maps a variant name to one checkpoint per manifest. Returns, per subset id, each variant's
    metrics and `inputs_sha256` (variant -> checkpoint hash); for quantized models also the first
    variant's sparsity, size and method. `trusted_hub`: see `laq.models.checkpoint.load_checkpoint`.
    """
    from laq.models.checkpoint import load_checkpoint

    out: dict[str, dict[str, Any]] = {}
    for i, manifest in enumerate(tqdm(manifests, desc="subsets", mininterval=2)):
        entry: dict[str, Any] = {"inputs_sha256": {}}
        for j, (variant, paths) in enumerate(models.items()):
            path = paths[i]
            model, meta = load_quantized_checkpoint(path, trusted_hub) if quantized else load_checkpoint(path, trusted_hub=trusted_hub)
            entry[variant] = evaluate_on_subset(model, meta, test, manifest["classes"], batch_size=batch_size, device=device)
            entry["inputs_sha256"][variant] = sha256_file(path)
            if quantized and j == 0:
                q = _quantization_record(meta, path)
                entry.update(sparsity=weight_sparsity(model), size_bytes=q["size_bytes"], compression=q["compression"],
                             method=q["spec"]["method"], bits=str(q["spec"]["bits"]))
            log.info("%s %s: %s", manifest["id"], variant, entry[variant])
        out[manifest["id"]] = entry
    return out


def _quantization_record(meta: dict[str, Any], path: str) -> dict[str, Any]:
    """The sidecar's quantization block, checked for the fields the evaluation copies."""
    from laq.io import LaqError, rebuild_hint

    q = meta.get("quantization")
    ok = (
        isinstance(q, dict)
        and isinstance(q.get("size_bytes"), int)
        and isinstance(q.get("compression"), (int, float))
        and isinstance(q.get("spec"), dict)
        and "method" in q["spec"]
        and "bits" in q["spec"]
    )
    if not ok:
        raise LaqError(f"the sidecar of {path} has no valid quantization record; {rebuild_hint(path)}.")
    return q


def embedder_model(
    embedder: str, base_checkpoint: str | None, trusted_hub: str | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model whose penultimate features embed the images: the base model, or an ImageNet backbone."""
    from laq.models.checkpoint import load_checkpoint

    if embedder == "base":
        return load_checkpoint(base_checkpoint, trusted_hub=trusted_hub)
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


def load_quantized_checkpoint(path: str, trusted_hub: str | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A quantized checkpoint rebuilt as a float model whose weights are the dequantized codes."""
    from laq.models.arch import build_arch
    from laq.models.checkpoint import read_meta
    from laq.quant import load_quantized

    meta = read_meta(path, trusted_hub=trusted_hub)
    skeleton = build_arch(meta["arch"], meta["num_classes"], trusted_hub=trusted_hub, where=f"sidecar of {path}: arch")
    return load_quantized(path, skeleton).eval(), meta
