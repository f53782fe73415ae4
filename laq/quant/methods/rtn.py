"""Round to nearest: each weight to its nearest level, no data (the baseline every PTQ paper reports)."""

from __future__ import annotations

from typing import Any

from laq.quant.registry import Method, register


def quantize_layer(ctx: Any) -> tuple[Any, str]:
    from laq.quant.alphabet import rtn_codes

    return rtn_codes(ctx.W3, ctx.step_rows(), ctx.L), "rtn"


register(Method("rtn", "RTN", needs_calibration=False, quantize_layer=quantize_layer))
