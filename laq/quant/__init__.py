"""Weight-only post-training quantization: GPFQ (+ stochastic / sparse variants), GPTQ, RTN.

Layer level:  gpfq_layer, gpfq_gram, gptq_layer, gptq_gram, rtn, step_size, lower_gram
Model level:  QuantSpec, quantize_model -> QuantResult, write_layer_table
Checkpoints:  save_quantized, load_quantized, quantized_size_bytes
"""

from laq.quant.alphabet import levels, make_rounder, rtn_codes, step_size
from laq.quant.checkpoint import load_quantized, pack_codes, quantized_size_bytes, save_quantized, unpack_codes
from laq.quant.engine import (
    auto_block,
    choose_form,
    gpfq_codes,
    gpfq_gram,
    gpfq_layer,
    gptq_gram,
    gptq_layer,
    lower_gram,
    rtn,
    symmetrize_lower,
)
from laq.quant.layers import fold_batchnorm, layer_rows
from laq.quant.model import LayerResult, QuantResult, dequantize, float32_bytes, quantize_model, write_layer_table
from laq.quant.spec import METHODS, QuantSpec

__all__ = [
    "METHODS",
    "LayerResult",
    "QuantResult",
    "QuantSpec",
    "auto_block",
    "choose_form",
    "dequantize",
    "float32_bytes",
    "fold_batchnorm",
    "gpfq_codes",
    "gpfq_gram",
    "gpfq_layer",
    "gptq_gram",
    "gptq_layer",
    "layer_rows",
    "levels",
    "load_quantized",
    "lower_gram",
    "make_rounder",
    "pack_codes",
    "quantize_model",
    "quantized_size_bytes",
    "rtn",
    "rtn_codes",
    "save_quantized",
    "step_size",
    "symmetrize_lower",
    "unpack_codes",
    "write_layer_table",
]
