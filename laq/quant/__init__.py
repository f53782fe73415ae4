"""Weight-only post-training quantization: GPFQ (+ stochastic / sparse variants), GPTQ, RTN, and any
method registered in `laq.quant.registry`.

Layer level:  gpfq_layer, gpfq_gram, gptq_layer, gptq_gram, rtn, step_size, lower_gram
Model level:  QuantSpec, quantize_model -> QuantResult, write_layer_table
Checkpoints:  save_quantized, load_quantized, quantized_size_bytes

Names are imported on first use, so that `laq.quant.registry` and `laq.quant.spec` (torch-free) can
be read by light jobs without importing torch.
"""

from importlib import import_module
from typing import Any

_HOME = {
    "levels": "spec", "QuantSpec": "spec",
    "make_rounder": "alphabet", "rtn_codes": "alphabet", "step_size": "alphabet",
    "load_quantized": "checkpoint", "pack_codes": "checkpoint", "quantized_size_bytes": "checkpoint",
    "save_quantized": "checkpoint", "unpack_codes": "checkpoint", "size_report": "checkpoint",
    "auto_block": "engine", "choose_form": "engine", "gpfq_codes": "engine", "gpfq_gram": "engine",
    "gpfq_layer": "engine", "gptq_gram": "engine", "gptq_layer": "engine", "lower_gram": "engine",
    "rtn": "engine", "symmetrize_lower": "engine",
    "fold_batchnorm": "layers", "layer_rows": "layers",
    "LayerContext": "model", "LayerResult": "model", "QuantResult": "model", "dequantize": "model",
    "float32_bytes": "model", "quantize_model": "model", "write_layer_table": "model",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"laq.quant.{_HOME[name]}"), name)
    raise AttributeError(f"module 'laq.quant' has no attribute {name!r}")
