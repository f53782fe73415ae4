"""Whole-model quantization: every Conv2d / Linear in forward order, float and quantized networks in lockstep.

The model is traced with torch.fx and both networks are stepped through the graph node by node on the
whole calibration set, keeping each live activation once (freed after its last user). While no
quantized layer has been passed, the two networks share the same tensors (computed once). At a layer
to quantize, its inputs in both networks give the GPFQ data (or Gram matrices), the layer is quantized,
and both networks continue. If tracing fails, a slower fallback re-runs the network prefix for each
layer with hooks (logged).
"""

from __future__ import annotations

import copy
import fnmatch
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, fx, nn
from tqdm import tqdm

from laq.io import LaqError
from laq.quant import degenerate, registry
from laq.quant.alphabet import step_size
from laq.quant.engine import as_groups, choose_form, group_steps, inputs_as_groups, lower_gram
from laq.quant.layers import (
    QUANTIZABLE,
    fold_batchnorm,
    layer_groups,
    layer_rows,
    retained_rows,
    rows_per_image,
    weight_matrix,
)
from laq.quant.result import LayerResult, QuantResult, dequantize, write_layer_table
from laq.quant.spec import QuantSpec, levels
from laq.seeding import torch_generator

__all__ = ["CalibrationSampler", "LayerContext", "LayerResult", "QuantResult", "dequantize", "float32_bytes",
           "quantize_model", "write_layer_table"]

log = logging.getLogger(__name__)

DATA_FORM_BYTES = 2 << 30  # the data form keeps both unfolded inputs; above this, accumulate Grams
CHUNK_BYTES = 256 << 20  # unfolded rows per Gram-accumulation chunk


# ---------------------------------------------------------------- one layer


@dataclass
class _LayerJob:
    """Everything `_quantize_layer` needs besides the activations."""

    name: str
    index: int
    bits: int
    spec: QuantSpec
    batch_size: int
    data_form_bytes: int


def _rows_in_chunks(layer: nn.Module, x: Tensor, job: _LayerJob, keep: Tensor | None, per_image: int):
    """Yield the layer's input rows chunk by chunk (images), restricted to the retained rows."""
    d = weight_matrix(layer).shape[1] * layer_groups(layer)
    n = x.shape[0]
    step = max(1, min(job.batch_size, CHUNK_BYTES // max(1, per_image * d * x.element_size())))
    for i0 in range(0, n, step):
        sel = None
        if keep is not None:
            lo, hi = i0 * per_image, min(n, i0 + step) * per_image
            sel = (keep[(keep >= lo) & (keep < hi)] - lo).to(x.device)
        yield layer_rows(layer, x[i0 : i0 + step], job.spec.patches, select=sel)  # only the retained rows are copied


def _all_rows(layer: nn.Module, x: Tensor, job: _LayerJob, keep: Tensor | None, per_image: int, m: int) -> Tensor:
    """All retained input rows (m x d) in one matrix, built chunk by chunk without extra copies."""
    d = weight_matrix(layer).shape[1] * layer_groups(layer)
    out = torch.empty(m, d, dtype=x.dtype, device=x.device)
    if keep is None:
        n = x.shape[0]
        step = max(1, min(job.batch_size, CHUNK_BYTES // max(1, per_image * d * x.element_size())))
        for i0 in range(0, n, step):
            i1 = min(n, i0 + step)
            layer_rows(layer, x[i0:i1], job.spec.patches, out=out[i0 * per_image : i1 * per_image])
        return out
    r = 0
    for rows in _rows_in_chunks(layer, x, job, keep, per_image):
        out[r : r + rows.shape[0]] = rows
        r += rows.shape[0]
    return out


@dataclass
class LayerContext:
    """What a method's `quantize_layer` gets for one layer (see laq.quant.registry.Method).

    W3: the weight as (groups, N, d) rows; step: a float, or per-row steps (groups, N) for
    granularity "channel"; L: the largest code magnitude; spec: the QuantSpec (method options in
    spec.options). The layer's inputs are read through the accessors, which unfold conv patches
    chunk by chunk and keep only the retained rows: `grams()` (G = Xq^T X, H = Xq^T Xq, lower
    triangles), `float_gram()` (X^T X), `all_rows()` (X, Xq as (groups, m, d); Xq None when the
    networks still agree), `prefers_data_form(block)`.
    """

    name: str
    index: int
    bits: int
    L: int
    spec: QuantSpec
    W3: Tensor
    step: float | Tensor
    shared: bool
    m: int
    job: _LayerJob
    layer: nn.Module
    x_f: Tensor
    x_q: Tensor
    keep: Tensor | None
    per_image: int

    @property
    def N(self) -> int:
        return self.W3.shape[1]

    @property
    def d(self) -> int:
        return self.W3.shape[2]

    @property
    def groups(self) -> int:
        return self.W3.shape[0]

    def generator(self, purpose: str) -> torch.Generator:
        """A generator seeded from (spec.seed, purpose, layer index): random choices never depend on order."""
        return torch_generator(self.spec.seed, purpose, self.index)

    def step_rows(self) -> float | Tensor:
        """The step broadcastable against W3: a float, or (groups, N, 1)."""
        return self.step.unsqueeze(-1) if isinstance(self.step, Tensor) else self.step

    def per_step(self, value: float) -> float | Tensor:
        """A threshold in weight units in code units (value / step; 0 where the step is 0)."""
        if isinstance(self.step, Tensor):
            return torch.where(self.step > 0, value / self.step.where(self.step > 0, torch.ones_like(self.step)), 0.0)
        return value / self.step if self.step > 0 else 0.0

    def _chunks(self, x: Tensor) -> Iterator[Tensor]:
        for rows in _rows_in_chunks(self.layer, x, self.job, self.keep, self.per_image):
            yield inputs_as_groups(rows, self.groups)

    def grams(self) -> tuple[Tensor, Tensor]:
        H = G = None
        chunks_q = self._chunks(self.x_q)
        for X3 in self._chunks(self.x_f):
            Xq3 = X3 if self.shared else next(chunks_q)
            H = lower_gram(Xq3, out=H)
            if not self.shared:
                G = lower_gram(Xq3, X3, out=G)
        return (H if self.shared else G), H

    def float_gram(self) -> Tensor:
        H = None
        for X3 in self._chunks(self.x_f):
            H = lower_gram(X3, out=H)
        return H

    def all_rows(self) -> tuple[Tensor, Tensor | None]:
        X = _all_rows(self.layer, self.x_f, self.job, self.keep, self.per_image, self.m)
        Xq = None if self.shared else _all_rows(self.layer, self.x_q, self.job, self.keep, self.per_image, self.m)
        return inputs_as_groups(X, self.groups), None if Xq is None else inputs_as_groups(Xq, self.groups)

    def prefers_data_form(self, block: int) -> bool:
        """Whether driving the recursion from the inputs is cheaper than from Grams and fits in memory."""
        if choose_form(self.N, self.d, self.m, shared=self.shared, block=block) != "data":
            return False
        return (1 if self.shared else 2) * self.m * self.d * self.groups * self.x_f.element_size() <= self.job.data_form_bytes


def _quantize_layer(job: _LayerJob, f_layer: nn.Module, q_layer: nn.Module, x_f: Tensor, x_q: Tensor) -> LayerResult:
    """Quantize q_layer's weight from the layer inputs of both networks with the spec's method."""
    t0 = time.perf_counter()
    spec, groups = job.spec, layer_groups(f_layer)
    W = weight_matrix(f_layer)
    if W.dtype not in (torch.float32, torch.float64):
        # half-precision models: the engine (and numpy) work in float32
        W, x_f, x_q = W.float(), x_f.float(), (x_f.float() if x_q is x_f else x_q.float())
    W3 = as_groups(W, groups)
    step = step_size(W, job.bits, spec.scalar, spec.percentile, alphabet=spec.alphabet, granularity=spec.granularity)
    if not bool(torch.isfinite(W).all()):
        raise LaqError(f"the float model's layer {job.name} has non-finite weights; they are broken, re-make the model.")
    if not bool(torch.isfinite(torch.as_tensor(step)).all()):
        raise _non_finite(job.name, step, spec)  # before the method: its codes would only blame it
    degenerate.check_step(job.name, W, step, spec)
    per_image = rows_per_image(f_layer, x_f, spec.patches)
    n_images = x_f.shape[0] if x_f.dim() > 1 else 1
    keep = None
    if isinstance(f_layer, nn.Conv2d):
        keep = retained_rows(n_images, per_image, spec.retain_rate, torch_generator(spec.seed, "retain", job.index))
    m = n_images * per_image if keep is None else keep.numel()
    L = levels(job.bits, spec.alphabet)
    ctx = LayerContext(
        job.name, job.index, job.bits, L, spec, W3, group_steps(step, *W3.shape[:2]), x_f is x_q, m, job, f_layer,
        x_f, x_q, keep, per_image,
    )
    codes, form = registry.get(spec.method).quantize_layer(ctx)
    if isinstance(step, Tensor):
        # a row whose step is 0 is all zeros whatever a method computes for it (often 0/0)
        codes = torch.where(ctx.step.unsqueeze(-1) > 0, codes, torch.zeros_like(codes))
    codes = codes.reshape(f_layer.weight.shape)
    degenerate.check_codes(job.name, W, codes, spec)
    # the checkpoint stores integer codes: anything else would be saved as another model than the one measured
    if not bool(torch.isfinite(codes).all()) or not torch.equal(codes, codes.round()):
        raise LaqError(f"method {spec.method} gave non-integer or non-finite codes at layer {job.name}; it must return whole numbers.")
    if codes.numel() and float(codes.abs().max()) > L:
        raise LaqError(f"method {spec.method} gave codes beyond the alphabet (|code| <= {L}) at layer {job.name}; fix the method.")
    with torch.no_grad():
        q_layer.weight.copy_(dequantize(codes, step, q_layer.weight.dtype))
    return LayerResult(
        name=job.name,
        kind="conv" if isinstance(f_layer, nn.Conv2d) else "linear",
        shape=tuple(f_layer.weight.shape),
        groups=groups,
        bits=job.bits,
        levels=L,
        step=step,
        codes=codes.to(torch.int16).cpu(),
        rel_error=math.nan,
        sparsity=float((codes == 0).float().mean()),
        rows=m,
        form=form,
        seconds=time.perf_counter() - t0,
    )


def _output_norms(layer: nn.Module, out_f: Tensor, out_q: Tensor) -> tuple[float, float]:
    """(|out_f - out_q|, |out_f - bias|): the relative error's numerator and denominator."""
    ref = out_f
    if layer.bias is not None:
        shape = (-1, 1, 1) if isinstance(layer, nn.Conv2d) else (-1,)
        ref = out_f - layer.bias.detach().reshape(shape)
    return float(torch.linalg.vector_norm(out_f - out_q)), float(torch.linalg.vector_norm(ref))


def _relative_error(num: float, den: float) -> float:
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


# ---------------------------------------------------------------- the two runners

# on_layer(name, x_f, x_q) -> (out_f, out_q): quantizes the named layer and returns both outputs
OnLayer = Callable[[str, Tensor, Tensor], tuple[Tensor, Tensor]]


def _fetch_attr(model: nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _run_lockstep(graph: fx.Graph, fmodel: nn.Module, qmodel: nn.Module, calib: Tensor, targets: set[str], on_layer: OnLayer) -> None:
    """Step both networks through `graph` together, calling on_layer at the first call of each target."""
    nodes = list(graph.nodes)
    last_use: dict[fx.Node, int] = {}
    for i, n in enumerate(nodes):
        for a in n.all_input_nodes:
            last_use[a] = i
    env_f: dict[fx.Node, Any] = {}
    env_q: dict[fx.Node, Any] = {}
    pending = set(targets)
    quantized: set[str] = set()
    first_placeholder = True

    def run(model: nn.Module, n: fx.Node, env: dict[fx.Node, Any]) -> Any:
        args = fx.node.map_arg(n.args, lambda a: env[a])
        kwargs = fx.node.map_arg(n.kwargs, lambda a: env[a])
        if n.op == "call_module":
            return model.get_submodule(n.target)(*args, **kwargs)
        if n.op == "call_method":
            return getattr(args[0], n.target)(*args[1:], **kwargs)
        return n.target(*args, **kwargs)

    for i, n in enumerate(nodes):
        if not pending:
            break  # everything after the last quantized layer is irrelevant
        if n.op == "placeholder":
            if first_placeholder:
                env_f[n] = env_q[n] = calib
                first_placeholder = False
            elif n.args:
                env_f[n] = env_q[n] = n.args[0]
            else:
                raise LaqError(f"the model's forward needs a second input ({n.target}); quantize a model taking one tensor.")
        elif n.op == "get_attr":
            owner = n.target.rpartition(".")[0]
            env_f[n] = _fetch_attr(fmodel, n.target)
            env_q[n] = _fetch_attr(qmodel, n.target) if owner in targets else env_f[n]
        elif n.op == "output":
            break
        elif n.op == "call_module" and n.target in pending:
            (x,) = n.args  # Conv2d / Linear take one tensor
            env_f[n], env_q[n] = on_layer(n.target, env_f[x], env_q[x])
            pending.discard(n.target)
            quantized.add(n.target)
        else:
            inputs = n.all_input_nodes
            same = [env_f[a] is env_q[a] for a in inputs]
            if all(same) and not (n.op == "call_module" and n.target in quantized):
                env_f[n] = env_q[n] = run(fmodel, n, env_f)
            else:
                for a, s in zip(inputs, same):
                    if s and isinstance(env_f[a], Tensor):
                        # an in-place op of the float run must not reach the quantized run's input
                        env_f[a] = env_f[a].clone()
                env_f[n] = run(fmodel, n, env_f)
                env_q[n] = run(qmodel, n, env_q)
        for a in n.all_input_nodes:
            if last_use.get(a) == i:
                del env_f[a], env_q[a]
        if not n.users and n in env_f:
            del env_f[n], env_q[n]


class _Stop(Exception):
    """Raised by a pre-hook to end a forward pass once the wanted input has been captured."""


def _capture_input(model: nn.Module, name: str, calib: Tensor, batch_size: int) -> Tensor:
    """The first-call input of module `name` over the calibration set (re-runs the network prefix)."""
    got: list[Tensor] = []

    def pre_hook(mod: nn.Module, args: tuple) -> None:
        got.append(args[0])
        raise _Stop

    handle = model.get_submodule(name).register_forward_pre_hook(pre_hook)
    n_batches = 0
    try:
        for i0 in range(0, calib.shape[0], batch_size):
            n_batches += 1
            try:
                model(calib[i0 : i0 + batch_size])
            except _Stop:
                pass
    finally:
        handle.remove()
    if len(got) != n_batches:
        raise LaqError(f"layer {name} was not called by the model's forward; add it to the spec's skip list.")
    return torch.cat(got)


def _run_by_prefix(
    fmodel: nn.Module, qmodel: nn.Module, batch_for: Callable[[int], Tensor], order: list[str], on_layer: OnLayer, batch_size: int
) -> None:
    """For each layer in order: run both networks from the input on that layer's batch up to the layer."""
    for i, name in enumerate(order):
        calib = batch_for(i)
        x_f = _capture_input(fmodel, name, calib, batch_size)
        x_q = _capture_input(qmodel, name, calib, batch_size)
        on_layer(name, x_f, x_q if not torch.equal(x_f, x_q) else x_f)


@dataclass
class CalibrationSampler:
    """Per-layer calibration: a fresh batch of `n` images for every layer, as the original GPFQ code does.

    The batch of layer i (forward order) is `n` distinct indices of range(pool_size), drawn from
    laq.seeding.rng(seed, "calibration-batch", *key, i) and sorted; `load(indices)` returns those
    images preprocessed, on the device to use (loading lazily keeps a large pool, e.g. all CIFAR-100
    training images at 224 px, out of memory). Both networks are re-run from the input on each batch.
    """

    pool_size: int
    n: int
    load: Callable[[Any], Tensor]
    seed: int
    key: tuple = ()

    def __post_init__(self) -> None:
        if not 0 < self.n <= self.pool_size:
            raise LaqError(f"per-layer calibration needs {self.n} images per batch but the pool has {self.pool_size}; lower calibration_images.")

    def indices(self, layer_index: int):
        from laq.seeding import rng

        gen = rng(self.seed, "calibration-batch", *self.key, layer_index)
        return sorted(int(i) for i in gen.choice(self.pool_size, size=self.n, replace=False))

    def batch(self, layer_index: int) -> Tensor:
        return self.load(self.indices(layer_index))


def _forward_order(model: nn.Module, example: Tensor, names: list[str]) -> list[str]:
    """Target module names in the order of their first call in a forward pass."""
    order: list[str] = []
    handles = []
    for name in names:

        def hook(mod: nn.Module, args: tuple, name: str = name) -> None:
            if name not in order:
                order.append(name)

        handles.append(model.get_submodule(name).register_forward_pre_hook(hook))
    try:
        model(example)
    finally:
        for h in handles:
            h.remove()
    return order


# ---------------------------------------------------------------- entry point


def float32_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict with every floating tensor stored as float32 (the baseline size)."""
    return sum(t.numel() * (4 if t.is_floating_point() else t.element_size()) for t in model.state_dict().values())


def quantize_model(
    model: nn.Module,
    calib: Tensor | CalibrationSampler,
    spec: QuantSpec,
    *,
    batch_size: int = 32,
    progress: bool = True,
    data_form_bytes: int = DATA_FORM_BYTES,
) -> QuantResult:
    """Quantize every Conv2d / Linear of `model` (not matching spec.skip) in forward order.

    calib: the preprocessed calibration images (one batch tensor, on the device to use), used for
    every layer; or a `CalibrationSampler`, which gives every layer its own batch (both networks are
    then re-run from the input to each layer: 2 prefix forwards of n images per layer, and each
    LayerResult records its batch's pool indices in `calibration`). A method that needs no data
    (registry: needs_calibration False) still runs the traversal, so one image suffices for it.
    The input model is not modified; the result holds a copy whose weights are the dequantized codes.
    batch_size bounds how many images are unfolded at once when Gram matrices are accumulated.
    """
    sampler = calib if isinstance(calib, CalibrationSampler) else None
    if sampler is not None:
        calib = sampler.batch(0)
    if not isinstance(calib, Tensor) or calib.dim() < 2 or calib.shape[0] == 0:
        raise LaqError("calibration data must be a non-empty batch tensor; check calibration_images.")
    float_bytes = float32_bytes(model)
    fmodel = copy.deepcopy(model).eval()
    calib = calib.detach().clone()
    with torch.no_grad():
        folded = fold_batchnorm(fmodel, calib[:4]) if spec.fold_bn else []
        qmodel = copy.deepcopy(fmodel).eval()
        names = [n for n, m in fmodel.named_modules() if isinstance(m, QUANTIZABLE) and not spec.skips(n)]
        graph, order = _trace(fmodel, names)
        traced = graph is not None
        if not traced:
            order = _forward_order(fmodel, calib[:1], names)
        if not order:
            raise LaqError("the model has no Conv2d/Linear layer to quantize (check the spec's skip patterns).")
        try:
            bits = dict(zip(order, spec.layer_bits(len(order))))
        except ValueError as e:
            raise LaqError(f"{e}; give a bits list with {len(order)} entries or a single number.") from None
        unused = [p for p in spec.skip if not any(fnmatch.fnmatchcase(n, p) for n, m in fmodel.named_modules() if isinstance(m, QUANTIZABLE))]
        if unused:
            raise LaqError(f"skip pattern {unused[0]!r} matches no Conv2d/Linear layer; fix or remove it (layers look like {order[0]!r}).")
        index = {name: i for i, name in enumerate(order)}
        records: list[LayerResult] = []
        bar = tqdm(total=len(order), desc=f"quantize {spec.method}", unit="layer", disable=not progress, mininterval=1)

        def on_layer(name: str, x_f: Tensor, x_q: Tensor) -> tuple[Tensor, Tensor]:
            f_layer, q_layer = fmodel.get_submodule(name), qmodel.get_submodule(name)
            job = _LayerJob(name, index[name], bits[name], spec, batch_size, data_form_bytes)
            rec = _quantize_layer(job, f_layer, q_layer, x_f, x_q)
            if sampler is not None:
                rec.calibration = sampler.indices(index[name])
            out_f, out_q = f_layer(x_f), q_layer(x_q)
            norms = _output_norms(f_layer, out_f, out_q)
            _check_finite(name, rec.step, out_f, out_q, spec, norms)
            rec.rel_error = _relative_error(*norms)
            records.append(rec)
            bar.set_postfix_str(f"{name} err={rec.rel_error:.3g}", refresh=False)
            bar.update()
            return out_f, out_q

        try:
            if sampler is not None:
                _run_by_prefix(fmodel, qmodel, sampler.batch, order, on_layer, batch_size)
            elif traced:
                _run_lockstep(graph, fmodel, qmodel, calib, set(order), on_layer)
            else:
                _run_by_prefix(fmodel, qmodel, lambda i: calib, order, on_layer, batch_size)
        finally:
            bar.close()
    done = {r.name for r in records}
    missing = [n for n in order if n not in done]
    if missing:
        raise LaqError(f"layers {', '.join(missing)} were never called in the forward pass; add them to skip.")
    records.sort(key=lambda r: index[r.name])
    return QuantResult(qmodel, spec, records, folded, float_bytes, traced)


def _check_finite(name: str, step: float | Tensor, out_f: Tensor, out_q: Tensor, spec: QuantSpec, norms: tuple[float, float]) -> None:
    """Stop at the first layer whose step or outputs are NaN/inf: such a model would be saved and scored.

    The relative error's two norms (`norms`) already read every output: when both are finite, so is every
    output (a NaN or inf element makes a norm NaN or inf), and the elementwise look (two more passes over
    the largest tensors of the run) is skipped.
    """
    if not bool(torch.isfinite(torch.as_tensor(step)).all()):
        raise _non_finite(name, step, spec)
    if all(math.isfinite(v) for v in norms):
        return
    if not bool(torch.isfinite(out_f).all()):
        raise LaqError(f"the float model's layer {name} gives non-finite outputs on the calibration images; its weights are broken, re-make the model.")
    if not bool(torch.isfinite(out_q).all()):
        raise _non_finite(name, step, spec)


def _non_finite(name: str, step: float | Tensor, spec: QuantSpec) -> LaqError:
    shown = step if not isinstance(step, Tensor) else "per channel"
    return LaqError(
        f"quantizing layer {name} gave a non-finite result (step {shown}); check the spec's scalar ({spec.scalar}) and percentile ({spec.percentile})."
    )


def _trace(model: nn.Module, names: list[str]) -> tuple[fx.Graph | None, list[str]]:
    """fx graph and the targets in forward order, or (None, []) if tracing fails or misses a target."""
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as e:  # noqa: BLE001 - any tracing failure means "use the fallback"
        log.warning("fx tracing failed (%s: %s); falling back to re-running the network prefix per layer (slow)", type(e).__name__, e)
        return None, []
    wanted = set(names)
    order: list[str] = []
    for n in graph.nodes:
        if n.op == "call_module" and n.target in wanted and n.target not in order:
            order.append(n.target)
    unreached = wanted - set(order)
    if unreached:
        log.warning(
            "fx graph does not call %s as modules; falling back to re-running the network prefix per layer (slow)",
            ", ".join(sorted(unreached)),
        )
        return None, []
    return graph, order
