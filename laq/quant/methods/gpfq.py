"""GPFQ (Lybrand & Saab's greedy path-following quantization) and its roundings: nearest (gpfq),
stochastic (sgpfq) and the sparse L0 / L1 thresholds (gpfq_l0, gpfq_l1; threshold `lam` in weight units).

The recursion itself is in `laq.quant.engine` (Gram and data forms, the same codes).
"""

from __future__ import annotations

from typing import Any

from laq.quant.registry import Method, register

LAM = {"lam": {"type": "number", "minimum": 0, "default": 0.0, "description": "sparsity threshold in weight units"}}


def _quantizer(rounding: str):
    def quantize_layer(ctx: Any) -> tuple[Any, str]:
        from laq.quant.alphabet import make_rounder
        from laq.quant.engine import auto_block, gpfq_data_codes, gpfq_gram_codes

        lam = ctx.spec.options.get("lam", 0.0)
        rounder = make_rounder(rounding, ctx.L, lam_codes=ctx.per_step(lam), generator=ctx.generator("rounding"))
        block = auto_block(ctx.N)
        if ctx.prefers_data_form(block):
            X3, Xq3 = ctx.all_rows()
            return gpfq_data_codes(ctx.W3, X3, Xq3, ctx.step, rounder, block), "data"
        G, H = ctx.grams()
        return gpfq_gram_codes(ctx.W3, G, H, ctx.step, rounder, block), "gram"

    return quantize_layer


for name, rounding, label, options in (
    ("gpfq", "nearest", "GPFQ", {}),
    ("sgpfq", "stochastic", "stochastic GPFQ", {}),
    ("gpfq_l0", "l0", "GPFQ-L0", LAM),
    ("gpfq_l1", "l1", "GPFQ-L1", LAM),
):
    register(Method(name, label, needs_calibration=True, quantize_layer=_quantizer(rounding), options=options,
                    description=f"GPFQ with {rounding} rounding"))
