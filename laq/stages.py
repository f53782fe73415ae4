"""One function per workflow step: what each `scripts/*.py` calls, testable without Snakemake."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm

from laq.data.store import Split
from laq.data.transforms import channel_stats
from laq.device import compute_record, device_kind, precision_mode, to_device
from laq.evaluate import predict_logits, weight_sparsity
from laq.design import CONDITION_BY_NAME, QUANTIZED, draw_calibration
from laq.io import LaqError, sha256_file, write_json
from laq.metrics import accuracies, subset_correct, subset_flags, topk_accuracy
from laq.paths import layer_table, sidecar
from laq.models.sources import load_base
from laq.seeding import derive_seed
from laq.train import TrainSettings, train_classifier
from laq.workflow import preprocess_for

log = logging.getLogger(__name__)

QUANTIZE_PRECISION = "fp32"  # quantization ignores `precision`: TF32 moves GPFQ's codes (see laq.device)


def make_base_model(
    model_cfg: dict[str, Any], train: Split, names: list[str], *, seed: int, device: str, threads: int | None = None,
    precision: str = "fp32",
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
        "preprocess": model_cfg.get("preprocess", "resize"),  # every consumer of this model's images reads it here
    }
    tcfg = model_cfg.get("train", {})
    if tcfg.get("epochs", 0) > 0:
        settings = TrainSettings(
            epochs=tcfg["epochs"], lr=tcfg["lr"], batch_size=tcfg["batch_size"], weight_decay=tcfg["weight_decay"]
        )
        meta["history"] = train_classifier(base.model, train, preprocess_for(meta), settings, seed=seed, device=device, threads=threads,
                                           precision=precision)
        meta["compute"] = training_record(device, precision, threads)
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
    precision: str = "fp32",
) -> list[dict[str, float]]:
    """Fine-tune all weights on the subset's training images, keeping every output (as the seed study
    did), with a constant learning rate; random 4-pixel crops unless `augment` is false (the seed used none)."""
    data = train.subset(classes)
    settings = TrainSettings(
        epochs=ft_cfg["epochs"], lr=ft_cfg["lr"], batch_size=ft_cfg["batch_size"], weight_decay=ft_cfg["weight_decay"], schedule="constant",
        config_key="finetune", crop_pad=4 if ft_cfg.get("augment", True) else 0,
    )
    return train_classifier(model, data, preprocess_for(meta), settings, seed=seed, device=device, threads=threads, precision=precision)


def training_record(device: str, precision: str, threads: int | None) -> dict[str, Any]:
    """laq.device.compute_record of a training run (its flags as `train_classifier` sets them; CPU threads pinned)."""
    was = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with precision_mode(precision, device):
            return compute_record(device, precision)
    finally:
        torch.set_num_threads(was)


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


def evaluate_checkpoints(
    checkpoints: Mapping[str, Mapping[str, Sequence[str]]],
    manifests: Sequence[dict[str, Any]],
    test: Split,
    *,
    quantized: bool,
    batch_size: int,
    device: str,
    trusted_hub: str | None = None,
    precision: str = "fp32",
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Every subset's models on that subset's test images, in one process (a job costs more than an evaluation).

    `checkpoints[subset id][variant]` lists one checkpoint per calibration draw (one for a model that is
    not quantized). Returns (results, correct): results[subset id][variant] is a list, per draw, of the
    metrics (`laq.metrics.subset_metrics`) with the checkpoint's sha256 and, for quantized models, its
    weight sparsity; results[subset id]["quantization"] describes the spec as the first checkpoint's
    sidecar records it. correct["<subset id>/<variant>/<flag>"] is a uint8 array (draws x images) per
    image: correctness for top1_all and top1_sub (the paired data of McNemar's test), and the
    `laq.metrics.subset_flags` outside (predicted a class outside the subset) and top1_prior (correct
    after the subset-prior shift); correct["<subset id>/labels"] holds the images' labels (int64).
    `trusted_hub`: see `laq.models.checkpoint.load_checkpoint`. Each draw's metrics also name the
    device kind that made the checkpoint (`made_on`, from its sidecar; "unrecorded" for older ones)
    and the device kind and precision of this evaluation (`evaluated_on`).
    """
    from laq.models.checkpoint import load_checkpoint

    results: dict[str, dict[str, Any]] = {}
    correct: dict[str, np.ndarray] = {}
    for manifest in tqdm(manifests, desc="subsets", mininterval=2):
        sid, classes = manifest["id"], manifest["classes"]
        data = test.subset(classes)
        entry: dict[str, Any] = {}
        correct[f"{sid}/labels"] = data.labels.astype(np.int64)
        for variant, paths in checkpoints[sid].items():
            per_draw, hits = [], {"top1_all": [], "top1_sub": [], "outside": [], "top1_prior": []}
            for draw, path in enumerate(paths):
                if quantized:
                    model, meta = load_quantized_checkpoint(path, trusted_hub, expect={"variant": variant, "draw": draw})
                else:
                    model, meta = load_checkpoint(path, trusted_hub=trusted_hub)
                logits = predict_logits(model, data.images, preprocess_for(meta), batch_size=batch_size, device=device, progress=False,
                                        precision=precision)
                c = subset_correct(logits, data.labels, classes)
                m: dict[str, Any] = {**accuracies(c), "sha256": sha256_file(path), "made_on": made_on(meta),
                                     "evaluated_on": f"{device_kind(device)} {precision}"}
                c = {**c, **subset_flags(logits, data.labels, classes)}
                if quantized:
                    m["sparsity"] = weight_sparsity(model)
                    entry.setdefault("quantization", spec_description(_quantization_record(meta, path)))
                per_draw.append(m)
                for k in hits:
                    hits[k].append(c[k])
                log.info("%s %s %s: top-1 %.2f%% (all) %.2f%% (sub)", sid, variant, Path(path).stem, m["top1_all"], m["top1_sub"])
            entry[variant] = per_draw
            for k, v in hits.items():
                correct[f"{sid}/{variant}/{k}"] = np.stack(v).astype(np.uint8)
        results[sid] = entry
    return results, correct


def made_on(meta: dict[str, Any]) -> str:
    """The device kind (and precision) a checkpoint's sidecar says made it."""
    rec = meta.get("compute")
    return f"{rec['device']} {rec['precision']}" if isinstance(rec, dict) and "device" in rec else "unrecorded"


def spec_description(q: dict[str, Any]) -> dict[str, Any]:
    """Typed columns describing a spec, from a quantized sidecar's `quantization` block: method and the
    bits actually used per layer (min, max, mean, and the schedule they came from), storage and size."""
    bits, layer_bits = q["spec"]["bits"], [int(b) for b in q["layer_bits"]]
    if isinstance(bits, str):
        schedule = bits
    else:
        schedule = "uniform" if len(set(layer_bits)) == 1 else "per-layer"
    return {
        "method": q["spec"]["method"],
        "bits_schedule": schedule,
        "bits_min": min(layer_bits),
        "bits_max": max(layer_bits),
        "bits_mean": float(np.mean(layer_bits)),
        "alphabet": q["spec"].get("alphabet", "gpfq"),
        "granularity": q["spec"].get("granularity", "tensor"),
        "bits_per_weight": q.get("bits_per_weight"),
        "size_bytes": q["size_bytes"],
        "compression": q["compression"],
        # only when set, so that the evaluation files of specs without it stay as they were
        **({"allow_degenerate": True} if q["spec"].get("allow_degenerate") else {}),
        # images per calibration draw of this checkpoint (0 for a data-free method)
        "calibration_images": int(q.get("calibration", {}).get("n_images", 0)),
    }


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
        and isinstance(q.get("layer_bits"), list)
        and len(q["layer_bits"]) > 0
        and all(isinstance(b, int) and not isinstance(b, bool) for b in q["layer_bits"])
    )
    if not ok:
        raise LaqError(f"the sidecar of {path} has no valid quantization record; {rebuild_hint(path)}.")
    return q


def embedder_model(
    embedder: str, base_checkpoint: str | None, trusted_hub: str | None = None, *, weights: str = "DEFAULT",
    preprocess: str = "resize",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model whose penultimate features embed the images: the base model (with its own
    preprocessing), or an ImageNet backbone with torchvision `weights` (by name) and `preprocess`."""
    from laq.models.checkpoint import load_checkpoint

    if embedder == "base":
        return load_checkpoint(base_checkpoint, trusted_hub=trusted_hub)
    b = load_base(embedder, 1000, pretrained=True, weights=weights)
    meta = {"input_size": b.input_size, "mean": list(b.mean), "std": list(b.std), "arch": b.arch, "preprocess": preprocess}
    return b.model.eval(), meta


def quantize_checkpoint(
    model: torch.nn.Module,
    meta: dict[str, Any],
    calib_images: np.ndarray,
    spec: dict[str, Any],
    *,
    batch_size: int,
    device: str,
    seed: int = 0,
    per_layer: tuple[int, int, tuple] | None = None,
):
    """Quantize `model` with the calibration images (uint8, preprocessed here); returns laq.quant's QuantResult.

    per_layer (n, batch_seed, key): every layer gets its own batch of n images drawn from `calib_images`
    (the pool), seeded from (batch_seed, "calibration-batch", *key, layer), instead of all of them.
    `seed` drives patch sub-sampling and stochastic rounding unless the spec sets its own.
    """
    from laq.quant import QuantSpec, quantize_model
    from laq.quant.degenerate import DegenerateLayer
    from laq.quant.model import CalibrationSampler

    prep = preprocess_for(meta)
    qspec = QuantSpec.from_dict({"seed": seed, **{k: v for k, v in spec.items() if k not in STUDY_SPEC_KEYS}})
    # the uint8 images (or the whole pool) move to the device once and are preprocessed there
    images = to_device(torch.from_numpy(np.ascontiguousarray(calib_images)), device)
    if per_layer is None:
        calib: Any = prep(images)
    else:
        n, batch_seed, key = per_layer
        calib = CalibrationSampler(len(calib_images), n, lambda idx: prep(images[list(idx)]), seed=batch_seed, key=key)
    try:
        with precision_mode(QUANTIZE_PRECISION, device):  # TF32 off: it changes which codes are chosen
            return quantize_model(model.to(device), calib, qspec, batch_size=batch_size)
    except DegenerateLayer as e:
        raise e.named(spec["name"]) from None


# Keys of a config spec that belong to the study, not to laq.quant's QuantSpec.
STUDY_SPEC_KEYS = ("name", "calibration_images")


def quantize_subset(
    base: tuple[torch.nn.Module, dict[str, Any]],
    finetuned: tuple[torch.nn.Module, dict[str, Any]],
    train: Split,
    manifest: dict[str, Any],
    spec: dict[str, Any],
    outputs: Mapping[tuple[str, int], str],
    *,
    num_classes: int,
    n_images: int,
    seed: int,
    batch_size: int,
    device: str,
    provenance_of: Mapping[str, dict[str, Any]],
    calibration_mode: str = "fixed",
    sources: Mapping[str, str] | None = None,
) -> None:
    """Quantize every variant of one subset under one spec, from every calibration draw (see laq.design),
    writing each to outputs[(variant, draw)] with its sidecar and layer table.

    n_images: images per calibration draw, unless the spec sets its own `calibration_images`; the draws
    do not depend on the spec otherwise, so specs with the same count are calibrated on the same images.
    calibration_mode "fixed": each draw is one set of images used for every layer;
    "per_layer": each layer gets a fresh batch of as many images from the draw's classes (the seed's protocol).
    A method that reads no data (RTN) gives the same model whatever the calibration, so each model is
    quantized once and written under every condition and draw. `provenance_of` maps "base"/"finetuned"
    to the provenance block of that model's quantizations (computed once per job: hashing is slow).
    `sources` maps "base"/"finetuned" to their checkpoints' paths: a model with non-finite weights or
    activations is refused naming its file and the setting that made it, before any quantization.
    """
    from laq.quant import save_quantized, size_report, write_layer_table
    from laq.quant.registry import get as get_method

    models = {"base": base, "finetuned": finetuned}
    by_variant = {q.variant: q for q in QUANTIZED}
    mixtures = sorted({v for v, _ in outputs if CONDITION_BY_NAME[by_variant[v].condition].subset_fraction is not None})
    if calibration_mode == "per_layer" and mixtures:
        raise LaqError(f"{', '.join(mixtures)} fix how many images come from the subset, which per-layer batches would not keep; "
                       "use quantization.calibration_mode: fixed or leave the mix conditions out of quantization.conditions.")
    data_free = not get_method(spec["method"]).needs_calibration
    n_cal = int(spec.get("calibration_images", n_images))
    with precision_mode(QUANTIZE_PRECISION, device):
        compute = compute_record(device, QUANTIZE_PRECISION)  # the flags quantize_checkpoint runs under
    done: dict[tuple, Any] = {}
    if sources:
        _check_inputs(models, sources, train.subset(manifest["classes"]).images[:n_images or 1], device)
    for (variant, draw), path in tqdm(outputs.items(), desc=f"{manifest['id']} {spec['name']}", mininterval=2):
        q = by_variant[variant]
        model, meta = models[q.model]
        per_layer = None
        if data_free:
            record: dict[str, Any] = {"condition": q.condition, "draw": draw, "data_free": True, "n_images": 0}
            key: tuple = (q.model,)
            calib = train.images[:1]  # the method reads no data; one image drives the traversal
        else:
            cal = draw_calibration(train.labels, q.condition, manifest["classes"], num_classes, n_cal,
                                   seed=seed, subset_id=manifest["id"], draw=draw)
            key = (q.model, q.condition, draw)
            if calibration_mode == "per_layer":
                pool = cal.candidates(train.labels)
                calib, per_layer = train.images[pool], (len(cal.indices), seed, (manifest["id"], q.condition, draw))
            else:
                record, calib = cal.record(train.labels), train.images[cal.indices]
        if key not in done:
            qseed = derive_seed(seed, "quantize", manifest["id"], spec["name"], q.model, q.condition, draw)
            done[key] = quantize_checkpoint(model, meta, calib, spec, batch_size=batch_size, device=device, seed=qseed,
                                            per_layer=per_layer)
        result = done[key]
        if per_layer is not None:
            record = cal.per_layer_record(train.labels, pool, [rec.calibration for rec in result.layers])
        write_layer_table(layer_table(path), result)
        save_quantized(path, result, {"spec": spec["name"], "variant": variant, "draw": str(draw)}, model_meta=meta)
        info = {"spec": spec, "variant": variant, "calibration": record, **size_report(result)}
        write_json(sidecar(path), {**meta, "quantization": info, "provenance": provenance_of[q.model],
                                   "compute": compute})
        log.info("%s %s d%d: %s", manifest["id"], variant, draw, ", ".join(f"{r.name} {r.rel_error:.3g}" for r in result.layers))


def _check_inputs(models: Mapping[str, tuple[torch.nn.Module, dict[str, Any]]], sources: Mapping[str, str], images: np.ndarray,
                  device: str) -> None:
    """A broken input model is named as such (and the setting that made it), not blamed on the quantizer."""
    from laq.quant.degenerate import check_float_model

    for which, (model, meta) in models.items():
        setting = "finetune.lr" if which == "finetuned" else ("model.train.lr" if meta.get("history") else None)
        x = preprocess_for(meta)(torch.from_numpy(images)).to(device)
        check_float_model(model.to(device), x, sources[which], "fine-tuned" if which == "finetuned" else "base", setting)


def load_quantized_checkpoint(
    path: str, trusted_hub: str | None = None, expect: dict[str, Any] | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A quantized checkpoint rebuilt as a float model whose weights are the dequantized codes; its
    sidecar must agree with the checkpoint and with `expect` (laq.quant.checkpoint.check_sidecar)."""
    from laq.models.arch import build_arch
    from laq.models.checkpoint import read_meta
    from laq.quant import load_quantized
    from laq.quant.degenerate import check_loaded

    meta = read_meta(path, trusted_hub=trusted_hub)
    skeleton = build_arch(meta["arch"], meta["num_classes"], trusted_hub=trusted_hub, where=f"sidecar of {path}: arch")
    model = load_quantized(path, skeleton, sidecar=meta, expect=expect).eval()
    q = meta.get("quantization")
    spec = q.get("spec") if isinstance(q, dict) else None
    check_loaded(path, model, spec if isinstance(spec, dict) else {})  # a malformed record is refused by the evaluation
    return model, meta
