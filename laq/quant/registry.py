"""Quantization methods as plug-ins: one `Method` record per method, torch-free.

A method is a module in `laq/quant/methods/` that calls `register(Method(...))` at import. Its record
says what the rest of laq needs to know without importing torch (name, label for figures, whether it
reads calibration data, its options as JSON-schema fragments) and names the per-layer function that
the traversal (`laq.quant.model`) calls with a `laq.quant.model.LayerContext`. The traversal has no
method-specific branches; config validation, tables and plots read the records here.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# Common spec keys (laq.quant.spec.QuantSpec); every other key of a spec is an option of its method.
ALPHABETS: tuple[str, ...] = ("gpfq", "signed")
GRANULARITIES: tuple[str, ...] = ("tensor", "channel")
PATCHES: tuple[str, ...] = ("conv", "kernel")
SCHEDULES: dict[str, tuple[int, int]] = {"asc": (3, 5), "desc": (5, 3)}  # bits of (first half, second half)
MIN_BITS, MAX_BITS = 2, 8


@dataclass(frozen=True)
class Method:
    """One quantization method.

    quantize_layer(ctx) -> (codes, form): integer-valued codes (ctx.W3's shape, |code| <= ctx.L) and a
    short label of how they were computed (for the layer table). It may import torch inside its body;
    the module defining it must not at import time, so light jobs can read the registry.
    options: option name -> JSON-schema fragment with a "default" (and a "description").
    """

    name: str
    label: str
    needs_calibration: bool
    quantize_layer: Callable[[Any], tuple[Any, str]]
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.options.items()}


_METHODS: dict[str, Method] = {}
_discovered = False


def register(method: Method, *, replace: bool = False) -> Method:
    """Add a method (at import of its module, or at run time, e.g. in a test). Returns it."""
    if not method.name.isidentifier():
        raise ValueError(f"method name {method.name!r} must be an identifier")
    if method.name in _METHODS and not replace:
        raise ValueError(f"a method named {method.name!r} is already registered")
    for opt, frag in method.options.items():
        if "default" not in frag:
            raise ValueError(f"option {opt!r} of method {method.name!r} needs a default")
    _METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    _METHODS.pop(name, None)


def _discover() -> None:
    """Import every module of laq.quant.methods once (each registers its methods)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import laq.quant.methods as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


def methods() -> dict[str, Method]:
    """Every registered method by name, in registration order."""
    _discover()
    return dict(_METHODS)


def get(name: str) -> Method:
    ms = methods()
    if name not in ms:
        raise KeyError(f"unknown quantization method {name!r}; registered: {', '.join(ms)}")
    return ms[name]


def label(name: str) -> str:
    """The method's label for figures and findings (its name when it is not registered)."""
    ms = methods()
    return ms[name].label if name in ms else name


def option_names() -> set[str]:
    return {k for m in methods().values() for k in m.options}


def spec_errors(spec: Mapping[str, Any], where: str = "spec") -> list[str]:
    """One-line problems of a spec's method and method options (common keys are checked elsewhere)."""
    import jsonschema

    ms = methods()
    name = spec.get("method")
    if name not in ms:
        return [f"{where}.method: {name!r} is not a registered method; use one of {', '.join(ms)}."]
    m = ms[name]
    out = []
    for key, value in spec.items():
        owners = [o for o, meth in ms.items() if key in meth.options]
        if not owners:
            continue
        if key not in m.options:
            out.append(f"{where}.{key}: is an option of {', '.join(owners)}, not of method {name}; remove it.")
            continue
        try:
            jsonschema.validate(value, {k: v for k, v in m.options[key].items() if k != "default"})
        except jsonschema.ValidationError as e:
            out.append(f"{where}.{key}: {value!r} is not allowed for {name} ({e.message}).")
    return out
