"""What to quantize and how: `QuantSpec`, built from a config dict, and its per-layer bit schedule.

Torch-free: config validation, tables and plots import it. Methods and their options come from
`laq.quant.registry`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Mapping

from laq.quant import registry
from laq.quant.registry import ALPHABETS, GRANULARITIES, MAX_BITS, MIN_BITS, PATCHES, SCHEDULES


def levels(bits: int, alphabet: str = "gpfq") -> int:
    """L, the largest code magnitude: codes are the integers in [-L, L].

    gpfq: L = 2^(b-1), 2^b + 1 levels (the original GPFQ code's; stored in b + 1 bits);
    signed: L = 2^(b-1) - 1, 2^b - 1 levels (fits b bits).
    """
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"bits must be between 1 and 16, got {bits}")
    if alphabet not in ALPHABETS:
        raise ValueError(f"alphabet must be one of {', '.join(ALPHABETS)}, got {alphabet!r}")
    L = 2 ** (int(bits) - 1)
    return L if alphabet == "gpfq" else max(1, L - 1)


def code_bits(L: int) -> int:
    """Bits a packed code of magnitude <= L takes: 2L + 1 levels."""
    return max(1, (2 * L).bit_length())


@dataclass(frozen=True)
class QuantSpec:
    """Options of one quantization run.

    method: a registered method (laq.quant.registry; built in: gpfq, sgpfq, gpfq_l0, gpfq_l1, gptq, rtn).
    bits: 2..8 for every layer; "asc" (first half of the quantized layers, in forward order, at 3
        bits, the rest at 5; with an odd count the middle layer is in the second half), "desc" (5 then
        3); or one int per quantized layer.
    alphabet: "gpfq" (codes in [-2^(b-1), 2^(b-1)], the original code's) or "signed" ([-(2^(b-1)-1), ...]).
    granularity: "tensor" (one step per layer) or "channel" (one step per output channel, same rule per row).
    scalar, percentile: step = scalar * quantile(|w|, percentile) / L, the quantile taken per row and,
        for "tensor", averaged over rows (percentile 1.0 = the row's max |w|).
    retain_rate: fraction of conv patch rows kept per image (random, same rows in both networks).
    patches: "conv" = every patch at the conv's own stride (exact layer outputs); "kernel" = the
        seed's non-overlapping patches (unfold stride = kernel size).
    fold_bn: fold BatchNorm into the preceding conv before quantizing.
    skip: glob patterns of module names (e.g. "fc", "layer4.*") left in float.
    seed: seeds the patch sub-sampling and any random rounding.
    allow_degenerate: let a layer quantize to all zeros (step underflow, all-zero codes); refused
        otherwise (laq.quant.degenerate), since such a model predicts a constant.
    options: the method's own options (e.g. gpfq_l1's `lam`, gptq's `damp`); missing ones take the
        method's defaults.
    """

    method: str = "gpfq"
    bits: int | str | tuple[int, ...] = 4
    scalar: float = 1.16
    percentile: float = 1.0
    alphabet: str = "gpfq"
    granularity: str = "tensor"
    retain_rate: float = 1.0
    fold_bn: bool = False
    skip: tuple[str, ...] = ()
    seed: int = 0
    patches: str = "conv"
    allow_degenerate: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.bits, list):
            object.__setattr__(self, "bits", tuple(self.bits))
        if isinstance(self.skip, (list, str)):
            object.__setattr__(self, "skip", (self.skip,) if isinstance(self.skip, str) else tuple(self.skip))
        problems = _problems(self)
        if problems:
            raise ValueError("invalid quantization spec: " + "; ".join(problems))
        object.__setattr__(self, "options", {**registry.get(self.method).defaults(), **dict(self.options)})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "QuantSpec":
        """Build from a flat config mapping: common keys are fields, the method's option keys go to
        `options`; unknown keys raise ValueError naming them."""
        common = {f.name for f in dataclasses.fields(cls)} - {"options"}
        opts = registry.option_names()
        unknown = sorted(set(d) - common - opts - {"options"})
        if unknown:
            allowed = sorted(common | set(registry.get(d.get("method", "gpfq")).options))
            raise ValueError(f"unknown quantization spec key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        errors = registry.spec_errors({"method": cls.method, **d})
        if errors:
            raise ValueError("invalid quantization spec: " + "; ".join(errors))
        options = {**d.get("options", {}), **{k: v for k, v in d.items() if k in opts}}
        return cls(**{k: v for k, v in d.items() if k in common}, options=options)

    def to_dict(self) -> dict[str, Any]:
        """The flat form `from_dict` reads (options beside the common keys)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "options"}
        d["bits"] = list(self.bits) if isinstance(self.bits, tuple) else self.bits
        d["skip"] = list(self.skip)
        return {**d, **self.options}

    def option(self, name: str) -> Any:
        return self.options[name]

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
    names = registry.methods()
    if s.method not in names:
        out.append(f"method {s.method!r} is not one of {', '.join(names)}")
    else:
        unknown = sorted(set(s.options) - set(names[s.method].options))
        if unknown:
            out.append(f"option(s) {', '.join(unknown)} are not options of {s.method}")
        else:
            out += registry.spec_errors({"method": s.method, **dict(s.options)}, "options")
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
    if s.alphabet not in ALPHABETS:
        out.append(f"alphabet {s.alphabet!r} is not one of {', '.join(ALPHABETS)}")
    if s.granularity not in GRANULARITIES:
        out.append(f"granularity {s.granularity!r} is not one of {', '.join(GRANULARITIES)}")
    if not (isinstance(s.retain_rate, (int, float)) and 0 < s.retain_rate <= 1):
        out.append(f"retain_rate {s.retain_rate!r} must be in (0, 1]")
    if not isinstance(s.fold_bn, bool):
        out.append(f"fold_bn {s.fold_bn!r} must be true or false")
    if not all(isinstance(p, str) for p in s.skip):
        out.append(f"skip {list(s.skip)!r} must be a list of glob patterns")
    if not isinstance(s.seed, int) or isinstance(s.seed, bool) or s.seed < 0:
        out.append(f"seed {s.seed!r} must be an int >= 0")
    if not isinstance(s.allow_degenerate, bool):
        out.append(f"allow_degenerate {s.allow_degenerate!r} must be true or false")
    if s.patches not in PATCHES:
        out.append(f"patches {s.patches!r} is not one of {', '.join(PATCHES)}")
    return out
