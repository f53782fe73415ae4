"""One GPU check: laq against plain loops at the seed preset's shapes, CPU/GPU agreement, determinism,
and the projected GPU-hours of the seed presets.

    python benchmarks/gpu_check.py --out gpu_check.json          # on a GPU machine (<= 5 min on one H200)
    python benchmarks/gpu_check.py --quick --device cpu           # small sizes, to test the script anywhere

Needs torch, torchvision, numpy, scipy and safetensors only (no Snakemake, jsonschema, pandas or umap;
tqdm and pyyaml are used when present). Run from the repository root (or with laq importable).

Shapes (full size): torchvision ResNet-50, random init, 100 classes; 224 px `resize_crop` from 32 px
uint8 images; GPFQ 4 bits, scalar 1.16, percentile 1.0, kernel patches, retain 0.25, batch_size 32
(presets/cifar100-resnet50.yaml). Quantization runs at `threads: 1`, as the rules pin it.

The JSON written by --out (format "laq-gpu-check/1") holds, besides the printed tables:
  unit_costs: {quantize_per_layer_s, quantize_fixed_s, evaluate_images_per_s: {precision: ips},
               finetune_images_per_s: {precision: ips}}  - what benchmarks/cost.py scales;
  projection: {preset: {quantizations, evaluation_images, finetune_images, embed_images, gpu_hours: {precision: h}}}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:
    import tqdm  # noqa: F401
except ImportError:  # laq draws progress bars with tqdm; a GPU box without it gets silent ones
    stub = types.ModuleType("tqdm")

    class _NoBar:
        def __init__(self, iterable=None, *args, **kwargs):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def __getattr__(self, name):
            return lambda *a, **k: None

    stub.tqdm = _NoBar
    sys.modules["tqdm"] = stub

try:
    import jsonschema  # noqa: F401
except ImportError:  # laq checks method options with it; this script's one spec is checked by tests/test_gpu_check.py
    stub = types.ModuleType("jsonschema")
    stub.ValidationError = type("ValidationError", (Exception,), {})
    stub.validate = lambda value, schema: None
    sys.modules["jsonschema"] = stub

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from laq.data.store import Split  # noqa: E402
from laq.data.transforms import Preprocess  # noqa: E402
from laq.device import PRECISIONS, compute_record, precision_mode  # noqa: E402
from laq.evaluate import predict_logits  # noqa: E402
from laq.models.resnet import CifarResNet  # noqa: E402
from laq.stages import quantize_checkpoint  # noqa: E402
from laq.train import TrainSettings, train_classifier  # noqa: E402

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SPEC = {"name": "gpfq4", "method": "gpfq", "bits": 4, "scalar": 1.16, "percentile": 1.0, "patches": "kernel", "retain_rate": 0.25}
PRESETS = ("presets/cifar100-resnet50.yaml", "presets/seed-replay.yaml")
COUNTS_FILE = ROOT / "benchmarks" / "preset_counts.json"
# images per class of the datasets the presets use (train, test), when the config does not cap them
PER_CLASS = {"cifar100": (500, 100), "cifar10": (5000, 1000)}
QUANTIZED_PER_DRAW = 4  # laq.design.QUANTIZED: aware, agnostic, mismatched, fine-tuned-then-aware


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def uint8_images(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Smooth-ish random uint8 NHWC images (upsampled noise): like photos, unlike white noise."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, size // 4, size // 4, generator=gen)
    x = F.interpolate(low, size=size, mode="bilinear", align_corners=False) + 0.1 * torch.rand(n, 3, size, size, generator=gen)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def resnet50(num_classes: int = 100) -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None, num_classes=num_classes).eval()


# ---------------------------------------------------------------- plain loops (the references)


def _layout(device: str) -> torch.memory_format:
    """cuDNN's fast layout on a GPU; the CPU stays NCHW (channels-last is slower there for these nets)."""
    return torch.channels_last if torch.device(device).type == "cuda" else torch.contiguous_format


def plain_preprocess(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize(256/224 * size) + CenterCrop(size) + normalise on uint8 NHWC already on the device."""
    r = round(size * 256 / 224)
    x = x.permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
    o = int(round((r - size) / 2.0))
    x = x[..., o : o + size, o : o + size]
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x


def plain_evaluate(model, images: np.ndarray, size: int, batch: int, device: str, precision: str) -> torch.Tensor:
    model = model.to(device).eval().to(memory_format=_layout(device))
    x = torch.from_numpy(images).to(device)
    out = []
    with torch.inference_mode(), precision_mode(precision, device):
        for i in range(0, len(x), batch):
            out.append(model(plain_preprocess(x[i : i + batch], size)).float())
    model.to(memory_format=torch.contiguous_format)
    return torch.cat(out)


def plain_finetune(model, images: np.ndarray, labels: np.ndarray, size: int, batch: int, device: str, precision: str) -> None:
    model = model.to(device).train().to(memory_format=_layout(device))
    x, y = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    perm = torch.randperm(len(x), device=device)
    with precision_mode(precision, device):
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            loss = F.cross_entropy(model(plain_preprocess(x[idx], size)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.to(memory_format=torch.contiguous_format)


# ---------------------------------------------------------------- the checks


def check_quantize(device: str, size: int, n_layer: int, pool: int, n_fixed: int) -> dict[str, float]:
    model = resnet50()
    meta = {"input_size": size, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "preprocess": "resize_crop"}
    images = uint8_images(pool, seed=1)
    was = torch.get_num_threads()
    torch.set_num_threads(1)  # as the rules pin quantize jobs
    try:
        run = lambda: quantize_checkpoint(model, meta, images, SPEC, batch_size=32, device=device, seed=0,  # noqa: E731
                                          per_layer=(n_layer, ("gpu-check",)))
        if torch.device(device).type == "cuda":
            timed(run, device)  # warm-up: cuDNN/cuBLAS handles, allocator
        t_pl, res = timed(run, device)
        in_layers = sum(r.seconds for r in res.layers)
        t_fx, res_fx = timed(lambda: quantize_checkpoint(model, meta, images[:n_fixed], SPEC, batch_size=32, device=device, seed=0), device)
    finally:
        torch.set_num_threads(was)
    return {"per_layer_s": t_pl, "per_layer_in_layers_s": in_layers, "layers": len(res.layers), "fixed_s": t_fx,
            "per_layer_images": n_layer, "pool": pool, "fixed_images": n_fixed, "threads": 1}


def check_evaluate(device: str, size: int, n: int, batch: int) -> dict[str, dict[str, float]]:
    model = resnet50()
    images = uint8_images(n, seed=2)
    prep = Preprocess(size, IMAGENET_MEAN, IMAGENET_STD, "resize_crop")
    out = {}
    for precision in PRECISIONS:
        laq = lambda: predict_logits(model, images, prep, batch_size=batch, device=device, progress=False, precision=precision)  # noqa: E731
        plain = lambda: plain_evaluate(model, images, size, batch, device, precision)  # noqa: E731
        if torch.device(device).type == "cuda":
            laq(), plain()  # warm-up (cuDNN picks algorithms per shape and layout)
        t_laq, logits = timed(laq, device)
        t_plain, ref = timed(plain, device)
        top_agree = float((torch.from_numpy(logits).argmax(1) == ref.cpu().argmax(1)).float().mean())
        out[precision] = {"laq_ips": n / t_laq, "plain_ips": n / t_plain, "ratio": t_plain / t_laq, "top1_agreement_with_plain": top_agree}
    return out


def check_finetune(device: str, size: int, n: int, batch: int) -> dict[str, dict[str, float]]:
    images = uint8_images(n, seed=3)
    labels = np.arange(n, dtype=np.int64) % 100
    prep = Preprocess(size, IMAGENET_MEAN, IMAGENET_STD, "resize_crop")
    settings = TrainSettings(epochs=1, lr=1e-4, batch_size=batch, weight_decay=0.01, schedule="constant", crop_pad=0, config_key="finetune")
    out = {}
    for precision in PRECISIONS:
        def laq(model):
            train_classifier(model, Split(images, labels), prep, settings, device=device, progress=False, threads=1, precision=precision)

        def plain(model):
            plain_finetune(model, images, labels, size, batch, device, precision)

        if torch.device(device).type == "cuda":
            laq(resnet50()), plain(resnet50())  # warm-up
        m_laq, m_plain = resnet50(), resnet50()  # built outside the timing: neither loop's cost
        t_laq, _ = timed(lambda: laq(m_laq), device)
        t_plain, _ = timed(lambda: plain(m_plain), device)
        out[precision] = {"laq_ips": n / t_laq, "plain_ips": n / t_plain, "ratio": t_plain / t_laq}
    return out


def _quantize_small(device: str, n: int, tf32: bool, model=None):
    from laq.quant import QuantSpec, quantize_model

    if model is None:
        torch.manual_seed(0)
        model = CifarResNet(20, 100, 16).eval()
    calib = Preprocess(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(torch.from_numpy(uint8_images(n, seed=4)))
    with precision_mode("tf32" if tf32 else "fp32", device):
        res = quantize_model(model.to(device), calib.to(device), QuantSpec(bits=4), progress=False)
    model.cpu()
    return res


def check_agreement(device: str, n: int) -> dict[str, Any]:
    """Same float model, same calibration tensor: codes on the CPU vs on `device` (TF32 off and on),
    and two runs on `device` (determinism)."""
    torch.manual_seed(0)
    model = CifarResNet(20, 100, 16).eval()
    was = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cpu = _quantize_small("cpu", n, False, model)
    finally:
        torch.set_num_threads(was)
    out: dict[str, Any] = {"model": "CifarResNet-20 (width 16, 100 classes, random init)", "images": n,
                           "cpu_mean_rel_error": float(np.mean([r.rel_error for r in cpu.layers]))}
    runs = {}
    for tf32 in (False, True):
        dev = _quantize_small(device, n, tf32, model)
        agree = [float((a.codes == b.codes).float().mean()) for a, b in zip(cpu.layers, dev.layers)]
        key = "tf32" if tf32 else "fp32"
        runs[key] = dev
        out[f"{key}_code_agreement_mean"] = float(np.mean(agree))
        out[f"{key}_code_agreement_min"] = float(np.min(agree))
        out[f"{key}_first_layer_agreement"] = agree[0]
        out[f"{key}_mean_rel_error"] = float(np.mean([r.rel_error for r in dev.layers]))
    again = _quantize_small(device, n, False, model)
    out["repeat_identical_codes"] = all(torch.equal(a.codes, b.codes) for a, b in zip(runs["fp32"].layers, again.layers))
    return out


def check_determinism(device: str, size: int) -> dict[str, bool]:
    """Evaluation and fine-tuning run twice on `device` with the same seed give the same bytes?"""
    images = uint8_images(64, seed=5)
    labels = np.arange(64, dtype=np.int64) % 10
    prep = Preprocess(size, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    settings = TrainSettings(epochs=1, lr=1e-3, batch_size=16, crop_pad=4, schedule="constant")

    def train():
        torch.manual_seed(0)
        m = CifarResNet(8, 10, 16)
        train_classifier(m, Split(images, labels), prep, settings, seed=1, device=device, progress=False, threads=1)
        return {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}

    def evaluate():
        torch.manual_seed(0)
        return predict_logits(CifarResNet(8, 10, 16), images, prep, device=device, progress=False)

    a, b = train(), train()
    return {"evaluate_identical": bool(np.array_equal(evaluate(), evaluate())),
            "finetune_identical": all(torch.equal(a[k], b[k]) for k in a)}


def check_precision_effect(device: str, n_train: int, n_test: int, epochs: int) -> dict[str, Any]:
    """A CifarResNet-20 trained here (fp32) on blends of 10 class patterns; its test predictions at tf32 and
    bf16 against fp32: how often the top-1 class changes, and the accuracy at each precision."""
    gen = torch.Generator().manual_seed(6)
    templates = F.interpolate(torch.rand(10, 3, 4, 4, generator=gen), size=32, mode="bilinear", align_corners=False)

    def draw(n, seed):
        g = torch.Generator().manual_seed(seed)
        a, b = torch.randint(0, 10, (n,), generator=g), torch.randint(0, 10, (n,), generator=g)
        w = torch.rand(n, generator=g).view(-1, 1, 1, 1)  # a blend of two classes: images near w = 0.5 are borderline
        x = 0.8 * (w * templates[a] + (1 - w) * templates[b]) + 0.2 * torch.rand(n, 3, 32, 32, generator=g)
        y = torch.where(w.view(-1) >= 0.5, a, b)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy(), y.numpy()

    (xtr, ytr), (xte, yte) = draw(n_train, 7), draw(n_test, 8)
    prep = Preprocess(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    torch.manual_seed(0)
    model = CifarResNet(20, 10, 16)
    train_classifier(model, Split(xtr, ytr.astype(np.int64)), prep, TrainSettings(epochs=epochs, lr=5e-3, batch_size=128, crop_pad=2),
                     seed=0, device=device, progress=False)
    preds = {p: predict_logits(model, xte, prep, batch_size=500, device=device, progress=False, precision=p).argmax(1) for p in PRECISIONS}
    return {"test_images": n_test,
            **{f"top1_{p}": float((preds[p] == yte).mean() * 100) for p in PRECISIONS},
            **{f"agreement_{p}_vs_fp32": float((preds[p] == preds["fp32"]).mean()) for p in PRECISIONS if p != "fp32"}}


# ---------------------------------------------------------------- the seed presets' cost


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def preset_counts(preset: str) -> dict[str, Any]:
    """Quantizations, evaluation, fine-tuning and embedding images one preset plans (from its config)."""
    import yaml

    cfg = _merge(yaml.safe_load((ROOT / "config.yaml").read_text()), yaml.safe_load((ROOT / preset).read_text()))
    ds = cfg["dataset"]
    train_pc, test_pc = PER_CLASS[ds["name"]]
    train_pc, test_pc = ds.get("train_per_class") or train_pc, ds.get("test_per_class") or test_pc
    num_classes = 100 if ds["name"] == "cifar100" else 10
    sub = cfg["subsets"]
    if sub.get("file"):
        lines = (ROOT / sub["file"]).read_text().splitlines()
        n_subsets = sum(1 for s in lines if s.strip() and not s.startswith("#"))
    else:
        n_subsets = sum(sub["count"].values())
    q, ft, sim = cfg["quantization"], cfg["finetune"], cfg.get("similarity", {})
    specs, draws = len(q["specs"]), q["draws"]
    per_subset_models = 1 + specs * QUANTIZED_PER_DRAW * draws  # the fine-tuned model + every quantized one
    embed = 0 if sim.get("matrix_file") else (sim.get("max_per_class") or train_pc) * num_classes
    return {
        "subsets": n_subsets,
        "specs": specs,
        "draws": draws,
        "calibration_mode": q["calibration_mode"],
        "quantizations": n_subsets * specs * QUANTIZED_PER_DRAW * draws,
        "evaluation_images": n_subsets * sub["size"] * test_pc * per_subset_models + num_classes * test_pc,
        "finetune_images": n_subsets * ft["epochs"] * sub["size"] * train_pc,
        "embed_images": embed,
    }


def all_preset_counts() -> dict[str, dict[str, Any]]:
    """From the presets when pyyaml is here, else from benchmarks/preset_counts.json (kept equal by a test)."""
    try:
        return {Path(p).stem: preset_counts(p) for p in PRESETS}
    except ImportError:
        return json.loads(COUNTS_FILE.read_text())


def projection(counts: dict[str, Any], quant: dict[str, float], ev: dict, ft: dict) -> dict[str, float]:
    q_s = quant["per_layer_s"] if counts["calibration_mode"] == "per_layer" else quant["fixed_s"]
    hours = {}
    for p in PRECISIONS:
        seconds = (counts["quantizations"] * q_s + (counts["evaluation_images"] + counts["embed_images"]) / ev[p]["laq_ips"]
                   + counts["finetune_images"] / ft[p]["laq_ips"])
        hours[p] = seconds / 3600
    return hours


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="small sizes (64 px, few images): to test the script on a CPU")
    ap.add_argument("--out", help="write every number to this JSON file")
    ap.add_argument("--write-counts", action="store_true", help="only rewrite benchmarks/preset_counts.json from the presets")
    args = ap.parse_args()
    if args.write_counts:
        COUNTS_FILE.write_text(json.dumps({Path(p).stem: preset_counts(p) for p in PRESETS}, indent=1, sort_keys=True) + "\n")
        return
    dev = args.device
    size = 64 if args.quick else 224
    n_layer, pool, n_fixed = (2, 32, 4) if args.quick else (64, 5000, 64)
    n_eval, n_ft = (32, 32) if args.quick else (1000, 1024)
    n_agree = 16 if args.quick else 128
    t_start = time.perf_counter()
    with precision_mode("fp32", dev):
        machine = compute_record(dev, "fp32")
    machine.update(cpu_threads_available=os.cpu_count(), quick=args.quick)
    print(f"laq gpu_check on {machine['device']} (torch {machine['torch']}, CUDA {machine['cuda']}, cuDNN {machine['cudnn']}), "
          f"{'QUICK sizes' if args.quick else 'full sizes'}", flush=True)
    print(f"shapes: ResNet-50 random init, 100 classes, {size} px resize_crop from 32 px uint8; {SPEC}", flush=True)

    quant = check_quantize(dev, size, n_layer, pool, n_fixed)
    print(f"\nquantize (threads 1, fp32, TF32 off):\n"
          f"  per-layer calibration ({n_layer} images per layer, pool {pool}): {quant['per_layer_s']:.2f} s per ResNet-50, "
          f"of which {quant['per_layer_in_layers_s']:.2f} s in the {quant['layers']} layers (target <= 2.5 s on an H200)\n"
          f"  one fixed batch of {n_fixed}: {quant['fixed_s']:.2f} s", flush=True)

    ev = check_evaluate(dev, size, n_eval, 256)
    ft = check_finetune(dev, size, n_ft, 64)
    print(f"\n{'step':<30} {'precision':>9} {'laq img/s':>10} {'plain img/s':>12} {'laq/plain':>10}   (target >= 0.8 on a GPU)")
    for name, table in ((f"evaluate {n_eval} images, batch 256", ev), (f"fine-tune {n_ft} images, AdamW, batch 64", ft)):
        for p, r in table.items():
            extra = f"   top-1 agreement with plain {r['top1_agreement_with_plain']:.3f}" if "top1_agreement_with_plain" in r else ""
            print(f"{name:<30} {p:>9} {r['laq_ips']:>10.0f} {r['plain_ips']:>12.0f} {r['ratio']:>10.2f}{extra}")
    sys.stdout.flush()

    agree = check_agreement(dev, n_agree)
    print(f"\nCPU vs {dev} codes, {agree['model']}, {n_agree} images, GPFQ 4 bits:\n"
          f"  TF32 off (laq's quantization): mean {agree['fp32_code_agreement_mean']:.3f}, worst layer {agree['fp32_code_agreement_min']:.3f}, "
          f"first layer {agree['fp32_first_layer_agreement']:.3f}\n"
          f"  TF32 on:                       mean {agree['tf32_code_agreement_mean']:.3f}, worst layer {agree['tf32_code_agreement_min']:.3f}\n"
          f"  mean relative layer error: CPU {agree['cpu_mean_rel_error']:.4f}, {dev} fp32 {agree['fp32_mean_rel_error']:.4f}, "
          f"{dev} TF32 {agree['tf32_mean_rel_error']:.4f}\n"
          f"  two {dev} runs give identical codes: {agree['repeat_identical_codes']}", flush=True)

    det = check_determinism(dev, 32)
    print(f"\nrun-to-run on {dev}: evaluation identical {det['evaluate_identical']}, fine-tuning identical {det['finetune_identical']}", flush=True)

    eff = check_precision_effect(dev, *((1024, 500, 2) if args.quick else (10_000, 5_000, 6)))
    print(f"\nprecision on a model trained here (CifarResNet-20, blended 10-class patterns, {eff['test_images']} test images): top-1 "
          + ", ".join(f"{p} {eff[f'top1_{p}']:.2f}%" for p in PRECISIONS)
          + f"; predictions equal to fp32's: tf32 {eff['agreement_tf32_vs_fp32']:.4f}, bf16 {eff['agreement_bf16_vs_fp32']:.4f}", flush=True)

    counts = all_preset_counts()
    proj = {}
    print(f"\nprojected {dev}-hours per seed preset (quantize at laq's per-layer/fixed time, evaluate + embed + fine-tune at each precision):")
    for name, c in counts.items():
        hours = projection(c, quant, ev, ft)
        proj[name] = {**c, "gpu_hours": hours}
        print(f"  {name}: {c['quantizations']} quantizations ({c['calibration_mode']}), {c['evaluation_images']:,} evaluation + "
              f"{c['embed_images']:,} embedding images, {c['finetune_images']:,} fine-tuning images -> "
              + ", ".join(f"{p} {h:.2f} h" for p, h in hours.items()) + ("   (QUICK sizes: not the real cost)" if args.quick else ""))

    result = {
        "format": "laq-gpu-check/1",
        "machine": machine,
        "quantize": quant,
        "evaluate": ev,
        "finetune": ft,
        "agreement": agree,
        "determinism": det,
        "precision_effect": eff,
        "unit_costs": {
            "quantize_per_layer_s": quant["per_layer_s"],
            "quantize_fixed_s": quant["fixed_s"],
            "evaluate_images_per_s": {p: r["laq_ips"] for p, r in ev.items()},
            "finetune_images_per_s": {p: r["laq_ips"] for p, r in ft.items()},
        },
        "projection": proj,
        "seconds": time.perf_counter() - t_start,
    }
    print(f"\ngpu_check took {result['seconds']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
