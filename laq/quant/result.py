"""What a quantization produces: per-layer codes and steps (`LayerResult`), the model and its layers
(`QuantResult`), the layer table, and `dequantize`, the one place weights are rebuilt from codes."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from laq.io import atomic_path
from laq.quant.spec import QuantSpec, code_bits


def dequantize(codes: Tensor, step: float | Tensor, dtype: torch.dtype) -> Tensor:
    """code * step in `dtype` (per-row steps scale each output row); the single place weights are
    rebuilt, so model and checkpoint agree bit for bit."""
    if isinstance(step, Tensor):
        return codes.to(dtype) * step.to(dtype).reshape(-1, *([1] * (codes.dim() - 1)))
    return codes.to(dtype) * step


def code_width(codes: Tensor) -> tuple[int, int]:
    """(bits per code, offset): codes - offset fit in `width` unsigned bits (the "gpfq" alphabet has
    2^b + 1 levels, so a layer that uses both extremes needs b + 1 bits; "signed" fits b bits)."""
    if codes.numel() == 0:
        return 0, 0
    lo, hi = int(codes.min()), int(codes.max())
    return (hi - lo).bit_length(), lo


@dataclass
class LayerResult:
    """One quantized layer: integer codes (int16, weight shape) with code * step = the new weight.

    step: one float (granularity "tensor") or a 1-D tensor, one per output channel ("channel").
    levels: L, the largest code magnitude the alphabet allows (codes in [-L, L]).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    groups: int
    bits: int
    levels: int
    step: float | Tensor
    codes: Tensor
    rel_error: float
    sparsity: float
    rows: int
    form: str
    seconds: float
    calibration: list[int] | None = None  # pool indices of the layer's own batch (per-layer calibration)

    @property
    def code_bits(self) -> int:
        """Bits a code of this alphabet needs: 2L + 1 levels, ceil(log2(2L + 1)) (the checkpoint packs a
        layer at the width its codes actually span, at most this)."""
        return code_bits(self.levels)

    @property
    def stored_bits(self) -> int:
        """Bits per code in the checkpoint: the width of the range the codes span."""
        return code_width(self.codes)[0]

    def row(self) -> dict[str, Any]:
        step = self.step if not isinstance(self.step, Tensor) else float(self.step.float().mean())
        return {
            "name": self.name, "kind": self.kind, "shape": "x".join(map(str, self.shape)), "groups": self.groups,
            "bits": self.bits, "code_bits": self.code_bits, "stored_bits": self.stored_bits, "levels": 2 * self.levels + 1,
            "step": step, "steps": 1 if not isinstance(self.step, Tensor) else self.step.numel(),
            "rel_error": self.rel_error, "sparsity": self.sparsity, "rows": self.rows, "form": self.form,
            "seconds": self.seconds,
        }


TABLE_COLUMNS = (
    "name", "kind", "shape", "groups", "bits", "code_bits", "stored_bits", "levels", "step", "steps", "rel_error", "sparsity", "rows",
    "form", "seconds",
)


@dataclass
class QuantResult:
    """The quantized model (dequantized float weights), per-layer codes and statistics.

    rel_error = |X W^T - Xq Q^T|_F / |X W^T|_F over every output position of the calibration set,
    measured on the two networks' layer outputs (X, Xq: the layer's inputs in the float and the
    partially quantized network). Sizes: `laq.quant.checkpoint.size_report`.
    """

    model: nn.Module
    spec: QuantSpec
    layers: list[LayerResult]
    folded: list[tuple[str, str]] = field(default_factory=list)
    float_bytes: int = 0
    traced: bool = True
    packed: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # cache of laq.quant.checkpoint

    def layer(self, name: str) -> LayerResult:
        for rec in self.layers:
            if rec.name == name:
                return rec
        raise KeyError(name)

    def table(self) -> list[dict[str, Any]]:
        return [rec.row() for rec in self.layers]


def write_layer_table(path: str | os.PathLike, result: QuantResult) -> None:
    """The per-layer table as CSV (one row per quantized layer, forward order)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TABLE_COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in result.table():
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
