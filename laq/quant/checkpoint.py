"""Quantized checkpoints: one safetensors file with bit-packed integer codes, step sizes and float parts.

Layout (tensor names):
  <layer>.weight.codes   uint8, the layer's codes bit-packed (see `pack_codes`)
  <layer>.weight.step    float32 tensor (float64 for float64 models): 0-d for one step per layer,
                         1-D with one step per output channel (granularity "channel")
  every other state_dict entry (biases, BatchNorm, layers left in float) under its own name
Metadata (strings): laq.format, laq.layers (JSON: shape, bits, width, offset, dtype per layer),
laq.folded (JSON list of folded [conv, bn] pairs), laq.spec (JSON), plus the caller's entries.
Nothing is unpickled when loading.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from laq.io import LaqError, atomic_path, brief, canonical_safetensors, rebuild_hint
from laq.quant.layers import apply_fold_structure
from laq.quant.result import QuantResult, code_width, dequantize
from laq.quant.spec import levels

FORMAT = "laq-quantized-v1"
_CHUNK = 1 << 20  # values packed per numpy pass (a multiple of 8, so chunks end on byte boundaries)
# sidecar fields that decide how the model is rebuilt and fed: copied into the checkpoint's header when
# it is written, so an edited sidecar (other normalisation, preprocessing, classes) is caught on read
MODEL_FIELDS = ("arch", "num_classes", "input_size", "mean", "std", "preprocess", "classes")
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pack_codes(codes: Tensor) -> tuple[Tensor, int, int]:
    """Bit-pack integer codes (little-endian within each code and byte); returns (uint8, width, offset)."""
    width, offset = code_width(codes)
    flat = codes.reshape(-1).to(torch.int64).numpy()
    if width == 0:
        return torch.zeros(0, dtype=torch.uint8), 0, offset
    shifts = np.arange(width, dtype=np.uint16)
    parts = []
    for i0 in range(0, flat.size, _CHUNK):
        u = (flat[i0 : i0 + _CHUNK] - offset).astype(np.uint16)
        bits = ((u[:, None] >> shifts) & 1).astype(np.uint8)
        parts.append(np.packbits(bits.reshape(-1), bitorder="little"))
    return torch.from_numpy(np.concatenate(parts)), width, offset


def unpack_codes(packed: Tensor, n: int, width: int, offset: int) -> Tensor:
    """Inverse of `pack_codes`: n int16 codes."""
    if width == 0:
        return torch.full((n,), offset, dtype=torch.int16)
    bits = np.unpackbits(packed.numpy(), count=n * width, bitorder="little").reshape(n, width)
    values = (bits.astype(np.int32) << np.arange(width, dtype=np.int32)).sum(axis=1) + offset
    return torch.from_numpy(values.astype(np.int16))


def _packed(result: QuantResult) -> dict[str, tuple[Tensor, int, int]]:
    """Packed codes per layer, computed once per result (size report and save both need them)."""
    cache = result.packed
    for rec in result.layers:
        if rec.name not in cache:
            cache[rec.name] = pack_codes(rec.codes)
    return cache


def _checkpoint_tensors(result: QuantResult) -> tuple[dict[str, Tensor], dict[str, Any]]:
    state = result.model.state_dict()
    packed = _packed(result)
    tensors: dict[str, Tensor] = {}
    layers: dict[str, Any] = {}
    for rec in result.layers:
        key = f"{rec.name}.weight"
        dtype = state[key].dtype
        codes, width, offset = packed[rec.name]
        tensors[f"{key}.codes"] = codes
        # the step is computed in float32 (float64 for float64 models): store it at that precision
        sdtype = torch.float64 if dtype == torch.float64 else torch.float32
        step = rec.step.detach().cpu() if isinstance(rec.step, Tensor) else torch.tensor(rec.step)
        tensors[f"{key}.step"] = step.to(sdtype).contiguous()
        layers[rec.name] = {
            "shape": list(rec.shape), "bits": rec.bits, "width": width, "offset": offset,
            "dtype": str(dtype).removeprefix("torch."), "groups": rec.groups,
        }
    quantized = {f"{rec.name}.weight" for rec in result.layers}
    for k, v in state.items():
        if k not in quantized:
            # clone: safetensors refuses tensors that share storage (tied weights)
            tensors[k] = v.detach().cpu().contiguous().clone()
    return tensors, layers


def quantized_size_bytes(result: QuantResult) -> int:
    """Bytes of tensor data in the quantized checkpoint (packed codes + steps + float parts; the file
    adds only its JSON header)."""
    tensors, _ = _checkpoint_tensors(result)
    return sum(t.numel() * t.element_size() for t in tensors.values())


def size_report(result: QuantResult) -> dict[str, Any]:
    """What the checkpoint stores: its size, the float32 baseline, the compression, and the packed code
    bits per quantized weight (`bits_per_weight`, steps not counted: a few floats per layer or channel)."""
    size = quantized_size_bytes(result)
    packed = _packed(result)
    n = sum(rec.codes.numel() for rec in result.layers)
    stored = sum(packed[rec.name][1] * rec.codes.numel() for rec in result.layers)
    return {
        "size_bytes": size,
        "float_bytes": result.float_bytes,
        "compression": result.float_bytes / size if size else math.inf,
        "quantized_layers": len(result.layers),
        "bits_per_weight": stored / n if n else math.nan,
        "alphabet": result.spec.alphabet,
        "granularity": result.spec.granularity,
        "layer_bits": [rec.bits for rec in result.layers],
    }


def save_quantized(
    path: str | os.PathLike, result: QuantResult, metadata: dict[str, str] | None = None, *, model_meta: dict[str, Any] | None = None
) -> None:
    """Write the quantized model to one safetensors file (atomically). `model_meta`: the sidecar's model
    fields (MODEL_FIELDS), recorded so that `check_sidecar` can compare the sidecar with them on read."""
    tensors, layers = _checkpoint_tensors(result)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    clash = [k for k in meta if k.startswith("laq.")]
    if clash:
        raise ValueError(f"metadata keys {', '.join(clash)} are reserved (prefix 'laq.')")
    meta.update({
        "format": "pt",
        "laq.format": FORMAT,
        "laq.layers": json.dumps(layers, sort_keys=True),
        "laq.folded": json.dumps([list(p) for p in result.folded]),
        "laq.spec": json.dumps(result.spec.to_dict(), sort_keys=True),
    })
    if model_meta is not None:
        meta["laq.model"] = json.dumps({k: model_meta.get(k) for k in MODEL_FIELDS}, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
        canonical_safetensors(tmp)


def read_quantized(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors and the metadata of a quantized checkpoint (no unpickling)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise LaqError(f"quantized checkpoint {path} does not exist; {rebuild_hint(path)}.") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise LaqError(f"{path} is corrupted or not a safetensors file ({e}); {rebuild_hint(path)}.") from None
    if meta.get("laq.format") != FORMAT:
        raise LaqError(f"{path} is not a laq quantized checkpoint (format {meta.get('laq.format')!r}); use the file quantize writes.")
    return tensors, meta


def _bad(path: str | os.PathLike, what: str) -> LaqError:
    return LaqError(f"quantized checkpoint {path}: {what}; {rebuild_hint(path)}.")


def check_codes(path: str | os.PathLike, name: str, codes: Tensor, bits: int, alphabet: str) -> None:
    """Codes must lie in [-L, L] of the recorded bits and alphabet (a vectorised min/max)."""
    L = levels(bits, alphabet)
    if codes.numel() and (int(codes.min()) < -L or int(codes.max()) > L):
        raise _bad(path, f"layer {name} has codes in [{int(codes.min())}, {int(codes.max())}], outside [-{L}, {L}] of {bits} bits ({alphabet} alphabet)")


def check_steps(path: str | os.PathLike, name: str, step: Tensor, codes: Tensor) -> None:
    """Steps must be finite and > 0; a 0 step only on a row whose codes are all 0 (the traversal's rule)."""
    s = step.double().reshape(-1)
    bad = ~torch.isfinite(s) | (s < 0)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise _bad(path, f"layer {name} has a non-finite or negative step (step[{i}] = {float(s[i]):.4g})")
    zero = s == 0
    if bool(zero.any()):
        rows = codes.reshape(len(s), -1) if len(s) > 1 else codes.reshape(1, -1)
        if bool((rows[zero] != 0).any()):
            raise _bad(path, f"layer {name} has a 0 step for non-zero codes")


def check_sidecar(path: str | os.PathLike, sidecar: dict[str, Any], header: dict[str, str], expect: dict[str, Any] | None = None) -> None:
    """The sidecar must say what the checkpoint was written with (spec, variant, draw, bits, alphabet,
    model fields), and both what the reading job expects (`expect`: spec, variant, draw)."""
    side = Path(path).with_suffix(".json")

    def differ(field: str, said: Any, truth: Any, source: str = f"checkpoint {Path(path).name}") -> LaqError:
        return LaqError(f"sidecar {side}: {field} = {brief(said, 24)} but {source} says {brief(truth, 24)}; {rebuild_hint(path)}.")

    q = sidecar.get("quantization")
    if not isinstance(q, dict) or not isinstance(q.get("spec"), dict) or not isinstance(q.get("calibration"), dict):
        raise LaqError(f"sidecar {side} has no quantization record; {rebuild_hint(path)}.")
    try:
        hspec, layers = json.loads(header["laq.spec"]), json.loads(header["laq.layers"])
        model = json.loads(header["laq.model"])
    except (KeyError, ValueError):
        raise _bad(path, "the header lacks the spec, layers or model record") from None
    pairs = [
        ("quantization.spec.name", q["spec"].get("name"), header.get("spec")),
        ("quantization.variant", q.get("variant"), header.get("variant")),
        ("quantization.calibration.draw", str(q["calibration"].get("draw")), header.get("draw")),
        ("quantization.spec.method", q["spec"].get("method", "gpfq"), hspec.get("method")),
        ("quantization.spec.alphabet", q["spec"].get("alphabet", "gpfq"), hspec.get("alphabet")),
        ("quantization.spec.granularity", q["spec"].get("granularity", "tensor"), hspec.get("granularity")),
        ("quantization.layer_bits", sorted(q.get("layer_bits") or []), sorted(v["bits"] for v in layers.values())),
        *((f, sidecar.get(f), model.get(f)) for f in MODEL_FIELDS),
    ]
    for field, said, truth in pairs:
        if said != truth:
            if isinstance(said, list) and isinstance(truth, list) and len(said) == len(truth):
                i = next(i for i, (a, b) in enumerate(zip(said, truth)) if a != b)  # name the first difference
                field, said, truth = f"{field}[{i}]", said[i], truth[i]
            raise differ(field, said, truth)
    for field, want in (expect or {}).items():
        got = {"spec": header.get("spec"), "variant": header.get("variant"), "draw": header.get("draw")}[field]
        if got != str(want):
            raise LaqError(f"quantized checkpoint {path} holds {field} {got!r}, but this job reads it as {field} {str(want)!r}; {rebuild_hint(path)}.")


def load_quantized(
    path: str | os.PathLike, model_skeleton: nn.Module, *, sidecar: dict[str, Any] | None = None, expect: dict[str, Any] | None = None
) -> nn.Module:
    """Fill `model_skeleton` (the unquantized architecture) with the checkpoint: dequantized weights,
    BatchNorm folded where it was; evaluates exactly like `QuantResult.model`.

    Codes must lie in the recorded alphabet and steps be finite and positive; with `sidecar`, the sidecar
    must agree with the checkpoint and with `expect` (see `check_sidecar`). LaqError otherwise."""
    tensors, meta = read_quantized(path)
    if sidecar is not None:
        check_sidecar(path, sidecar, meta, expect)
    expected = model_skeleton.state_dict()
    state: dict[str, Tensor] = {}
    try:
        alphabet = json.loads(meta["laq.spec"]).get("alphabet", "gpfq")
        apply_fold_structure(model_skeleton, [tuple(p) for p in json.loads(meta["laq.folded"])])
        for name, info in json.loads(meta["laq.layers"]).items():
            key = f"{name}.weight"
            # the header is data: its shape must be the architecture's before anything is allocated
            if key not in expected or list(info["shape"]) != list(expected[key].shape) or not 0 <= info["width"] <= 16:
                raise ValueError(f"layer {name} does not fit the architecture")
            n, packed = math.prod(info["shape"]), tensors.pop(f"{key}.codes")
            if packed.dtype != torch.uint8 or packed.numel() * 8 < n * info["width"]:
                raise ValueError(f"layer {name} has {packed.numel()} bytes of codes for {n} weights")
            codes = unpack_codes(packed, n, info["width"], info["offset"])
            check_codes(path, name, codes, int(info["bits"]), alphabet)
            step_t = tensors.pop(f"{key}.step")
            if step_t.dim() == 0:
                step: float | Tensor = float(step_t)
            elif step_t.dim() == 1 and step_t.numel() == info["shape"][0]:
                step = step_t
            else:
                raise ValueError(f"layer {name} has {step_t.numel()} steps for {info['shape'][0]} output channels")
            check_steps(path, name, step_t, codes)
            state[key] = dequantize(codes.reshape(info["shape"]), step, _DTYPES[info["dtype"]])
    except (KeyError, ValueError, TypeError, AttributeError, RuntimeError) as e:
        raise LaqError(f"{path} has a malformed quantization header ({type(e).__name__}: {e}); {rebuild_hint(path)}.") from None
    state.update(tensors)
    try:
        model_skeleton.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise LaqError(f"{path} does not match the given architecture ({str(e).splitlines()[0]}); {rebuild_hint(path)}.") from None
    return model_skeleton
