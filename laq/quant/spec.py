"""What to quantize and how: `QuantSpec`, built from a config dict, and its per-layer bit schedule."""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Any

METHODS: tuple[str, ...] = ("gpfq", "sgpfq", "gpfq_l0", "gpfq_l1", "gptq", "rtn")
PATCHES: tuple[str, ...] = ("conv", "kernel")
SCHEDULES: dict[str, tuple[int, int]] = {"asc": (3, 5), "desc": (5, 3)}  # (first half, second half)
MIN_BITS, MAX_BITS = 2, 8

# method -> rounding of the GPFQ argument (see laq.quant.alphabet.make_rounder)
GPFQ_ROUNDING: dict[str, str] = {"gpfq": "nearest", "sgpfq": "stochastic", "gpfq_l0": "l0", "gpfq_l1": "l1"}


@dataclass(frozen=True)
class QuantSpec:
    """Options of one quantization run.

    method: gpfq | sgpfq (stochastic rounding) | gpfq_l0 / gpfq_l1 (sparse, threshold `lam` in weight
        units) | gptq (float-input Hessian, dampening `damp`) | rtn (round to nearest, no data).
    bits: 2..8 for every layer; "asc" (first half of the quantized layers, in forward order, at 3
        bits, the rest at 5; with an odd count the middle layer is in the second half), "desc" (5 then
        3); or one int per quantized layer.
    scalar, percentile: the alphabet, step = scalar * mean_rows(quantile(|w|, percentile)) / 2^(b-1).
    retain_rate: fraction of conv patch rows kept per image (random, same rows in both networks).
    patches: "conv" = every patch at the conv's own stride (exact layer outputs); "kernel" = the
        seed's non-overlapping patches (unfold stride = kernel size).
    fold_bn: fold BatchNorm into the preceding conv before quantizing (the quantized weights then
        include the BN scale).
    skip: glob patterns of module names (e.g. "fc", "layer4.*") left in float.
    seed: seeds the patch sub-sampling and SGPFQ's stochastic rounding.
    """

    method: str = "gpfq"
    bits: int | str | tuple[int, ...] = 4
    scalar: float = 1.16
    percentile: float = 1.0
    lam: float = 0.0
    retain_rate: float = 1.0
    fold_bn: bool = False
    skip: tuple[str, ...] = ()
    seed: int = 0
    patches: str = "conv"
    damp: float = 0.01

    def __post_init__(self) -> None:
        if isinstance(self.bits, list):
            object.__setattr__(self, "bits", tuple(self.bits))
        if isinstance(self.skip, (list, str)):
            object.__setattr__(self, "skip", (self.skip,) if isinstance(self.skip, str) else tuple(self.skip))
        problems = _problems(self)
        if problems:
            raise ValueError("invalid quantization spec: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QuantSpec":
        """Build from a config mapping (keys = field names); unknown keys raise ValueError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown quantization spec key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
            )
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bits"] = list(self.bits) if isinstance(self.bits, tuple) else self.bits
        d["skip"] = list(self.skip)
        return d

    def skips(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pat) for pat in self.skip)

    def layer_bits(self, n_layers: int) -> list[int]:
        """Bits of each of the `n_layers` quantized layers, in forward order."""
        if isinstance(self.bits, int):
            return [self.bits] * n_layers
        if isinstance(self.bits, str):
            first, second = SCHEDULES[self.bits]
            half = n_layers // 2
            return [first] * half + [second] * (n_layers - half)
        if len(self.bits) != n_layers:
            raise ValueError(f"bits lists {len(self.bits)} values but the model has {n_layers} layers to quantize")
        return list(self.bits)


def _problems(s: QuantSpec) -> list[str]:
    out = []
    if s.method not in METHODS:
        out.append(f"method {s.method!r} is not one of {', '.join(METHODS)}")
    b = s.bits
    if isinstance(b, bool) or not (
        (isinstance(b, int) and MIN_BITS <= b <= MAX_BITS)
        or (isinstance(b, str) and b in SCHEDULES)
        or (isinstance(b, tuple) and b and all(isinstance(x, int) and not isinstance(x, bool) and MIN_BITS <= x <= MAX_BITS for x in b))
    ):
        out.append(f"bits {b!r} must be an int in {MIN_BITS}..{MAX_BITS}, 'asc', 'desc' or a non-empty list of such ints")
    if not (isinstance(s.scalar, (int, float)) and s.scalar > 0):
        out.append(f"scalar {s.scalar!r} must be > 0")
    if not (isinstance(s.percentile, (int, float)) and 0 < s.percentile <= 1):
        out.append(f"percentile {s.percentile!r} must be in (0, 1]")
    if not (isinstance(s.lam, (int, float)) and s.lam >= 0):
        out.append(f"lam {s.lam!r} must be >= 0")
    if not (isinstance(s.retain_rate, (int, float)) and 0 < s.retain_rate <= 1):
        out.append(f"retain_rate {s.retain_rate!r} must be in (0, 1]")
    if not isinstance(s.fold_bn, bool):
        out.append(f"fold_bn {s.fold_bn!r} must be true or false")
    if not all(isinstance(p, str) for p in s.skip):
        out.append(f"skip {list(s.skip)!r} must be a list of glob patterns")
    if not isinstance(s.seed, int) or isinstance(s.seed, bool) or s.seed < 0:
        out.append(f"seed {s.seed!r} must be an int >= 0")
    if s.patches not in PATCHES:
        out.append(f"patches {s.patches!r} is not one of {', '.join(PATCHES)}")
    if not (isinstance(s.damp, (int, float)) and s.damp >= 0):
        out.append(f"damp {s.damp!r} must be >= 0")
    return out
