"""GPTQ (Frantar et al.): sequential rounding with the inverse-Hessian error feedback of the float
network's inputs (H = X^T X, dampened by `damp` times its mean diagonal), on laq's shared alphabet."""

from __future__ import annotations

from typing import Any

from laq.quant.registry import Method, register


def quantize_layer(ctx: Any) -> tuple[Any, str]:
    from laq.quant.engine import gptq_gram_codes

    return gptq_gram_codes(ctx.W3, ctx.float_gram(), ctx.step, ctx.L, damp=ctx.spec.options["damp"]), "gptq"


register(Method(
    "gptq", "GPTQ", needs_calibration=True, quantize_layer=quantize_layer,
    options={"damp": {"type": "number", "minimum": 0, "default": 0.01, "description": "Hessian dampening, fraction of the mean diagonal"}},
))
