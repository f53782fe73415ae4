"""Quantizations that lose a layer, and input models that are already broken: refused where they appear.

A layer whose step underflows (0 or subnormal in the weight's dtype) or whose codes are all zero
becomes a layer of zeros: the model then predicts a constant and its accuracy would be tabled beside
real ones. The quantize job, the quantized-checkpoint reader and the table refuse such models unless
the spec says `allow_degenerate: true` (a pruning study, say). A float model whose weights or
activations are non-finite is named as the broken input it is, with the setting that made it.

Torch-free at import (the table step uses `all_zero_refused`).
"""

from __future__ import annotations

from typing import Any, Mapping

from laq.io import LaqError

ALLOW = "allow_degenerate"  # the spec option that permits all-zero layers


class DegenerateLayer(LaqError):
    """A layer quantized to all zeros; `named(spec)` adds the spec's name (the traversal knows no names)."""

    def __init__(self, layer: str, what: str, settings: str, spec_name: str | None = None) -> None:
        self.layer, self.what, self.settings, self.spec_name = layer, what, settings, spec_name
        spec = f"spec {spec_name}" if spec_name else "the spec"
        super().__init__(
            f"{spec}: quantizing layer {layer} {what}, so the layer would be all zeros; change {spec}'s {settings}, "
            f"or set {ALLOW}: true in it if zeroed layers are intended."
        )

    def named(self, spec_name: str) -> "DegenerateLayer":
        return DegenerateLayer(self.layer, self.what, self.settings, spec_name)


def _settings(spec: Any) -> str:
    """The spec's settings that decide the step and the codes, with their values."""
    parts = [f"scalar (now {spec.scalar:g})", f"percentile (now {spec.percentile:g})"]
    parts += [f"{k} (now {v})" for k, v in sorted(spec.options.items())]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def check_step(name: str, W: Any, step: Any, spec: Any) -> None:
    """Refuse a step that underflows to 0 or a subnormal in W's dtype while the weights it scales are not 0."""
    import torch

    if getattr(spec, ALLOW, False):
        return
    tiny = torch.finfo(W.dtype).tiny
    live = W.detach().reshape(W.shape[0], -1).abs().amax(dim=1) > 0  # rows with a nonzero weight
    s = torch.as_tensor(step, dtype=torch.float64).reshape(-1).expand(live.shape[0]).to(live.device)
    under = live & (s.abs() < tiny)
    if bool(under.any()):
        shown = f"{float(s[under][0]):g}" if s.numel() == 1 or int(under.sum()) == live.shape[0] else f"0 for {int(under.sum())} of {live.shape[0]} rows"
        raise DegenerateLayer(name, f"gives a step of {shown}, which underflows in {str(W.dtype).removeprefix('torch.')}", _settings(spec))


def check_codes(name: str, W: Any, codes: Any, spec: Any) -> None:
    """Refuse all-zero codes for a layer whose float weights are not all zero."""
    if getattr(spec, ALLOW, False) or bool(codes.any()) or not bool(W.any()):
        return
    raise DegenerateLayer(name, f"with method {spec.method} gives all-zero codes", _settings(spec))


def all_zero_refused(spec: Mapping[str, Any]) -> bool:
    """Whether a model of this spec (a config/sidecar spec dict) may not have all-zero quantized layers."""
    return not spec.get(ALLOW, False)


def check_loaded(path: str, model: Any, spec: Mapping[str, Any]) -> None:
    """The quantized-checkpoint reader's check: no Conv2d/Linear of `model` is all zeros unless its spec
    (the sidecar's, where the flag is recorded) allows it."""
    from torch import nn

    if not all_zero_refused(spec):
        return
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not bool(m.weight.any()):
            raise LaqError(
                f"quantized checkpoint {path} has all-zero weights in layer {name}, and its spec {spec.get('name', '')} "
                f"does not set {ALLOW}: true; change the spec's scalar or percentile, then re-run its quantize jobs "
                "(`snakemake --cores all --forcerun quantize`)."
            )


def check_float_model(model: Any, images: Any, path: str, kind: str, setting: str | None) -> None:
    """Refuse a float model (a quantize job's input) with non-finite weights, or non-finite activations on
    `images` (preprocessed), naming the checkpoint, the first layer that breaks and the setting that made it.

    kind: "base" or "fine-tuned"; setting: the config key to lower when the model was trained here
    (e.g. "finetune.lr"), None for a model taken as it is.
    """
    import torch

    fix = f"re-make it with a lower {setting}" if setting else "the model is broken; use another model.source"
    for key, t in model.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise LaqError(f"the {kind} checkpoint {path} has non-finite weights ({key}); {fix}.")
    bad: list[str] = []

    def hook(mod: Any, args: Any, out: Any, name: str = "") -> None:
        if not bad and isinstance(out, torch.Tensor) and not bool(torch.isfinite(out).all()):
            bad.append(name)

    handles = [m.register_forward_hook(lambda mod, a, o, n=n: hook(mod, a, o, n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            was = model.training
            model.eval()
            out = model(images)
            model.train(was)
    finally:
        for h in handles:
            h.remove()
    if bad or not bool(torch.isfinite(out).all()):
        where = bad[0] if bad else "the output"
        raise LaqError(f"the {kind} checkpoint {path} gives non-finite activations at layer {where}; {fix}.")
