"""One module per quantization method; each registers itself with `laq.quant.registry.register`.

Adding a method = adding a module here (discovered at first use of the registry). Modules must not
import torch at top level: config validation and plots read the registry in light jobs.
"""
