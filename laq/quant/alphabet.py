"""The uniform alphabet every method shares, and the scalar quantizers that map an argument to a code.

Alphabet of a layer with `bits` b: {k * step : k integer, |k| <= L}, where L = laq.quant.spec.levels(b,
alphabet): 2^(b-1) for the original GPFQ alphabet (2^b + 1 levels, the seed's, stored in b + 1 bits)
or 2^(b-1) - 1 for "signed" (2^b - 1 levels, fits b bits). step = scalar * rad / L, where rad is the
`percentile` quantile of |w| in a row (percentile 1.0 = the row's max |w|): averaged over rows for a
per-tensor step, or each row's own for per-channel steps.

All quantizers here work in *code units*: they take a = arg / step and return integer-valued codes k
(as floating tensors) with |k| <= L; the quantized weight is k * step.
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import torch
from torch import Tensor

from laq.quant.spec import levels

Rounding = Literal["nearest", "stochastic", "l0", "l1"]
ROUNDINGS: tuple[str, ...] = ("nearest", "stochastic", "l0", "l1")

Rounder = Callable[[np.ndarray], np.ndarray]

__all__ = ["ROUNDINGS", "Rounder", "Rounding", "levels", "make_rounder", "rtn_codes", "step_size"]


def step_size(
    W: Tensor, bits: int, scalar: float = 1.16, percentile: float = 1.0, *, alphabet: str = "gpfq", granularity: str = "tensor"
) -> float | Tensor:
    """step = scalar * quantile_percentile(|w_row|) / L; W is N x d (rows = neurons).

    granularity "tensor": the quantile averaged over rows, one float; "channel": one step per row, a
    1-D tensor of N. Computed in W's dtype, and a float step is exactly representable in that dtype,
    so that `code * step` gives the same bits wherever it is evaluated (engine, model, checkpoint).
    """
    if not 0.0 < percentile <= 1.0:
        raise ValueError(f"percentile must be in (0, 1], got {percentile}")
    a = W.detach().reshape(W.shape[0], -1).abs()
    q = a.amax(dim=1) if percentile == 1.0 else torch.quantile(a, percentile, dim=1)
    L = levels(bits, alphabet)
    if granularity == "channel":
        return q * scalar / L
    if granularity != "tensor":
        raise ValueError(f"granularity must be 'tensor' or 'channel', got {granularity!r}")
    step = q.mean() * scalar / L
    return float(step.to(W.dtype)) if W.dtype.is_floating_point else float(step)


def rtn_codes(W: Tensor, step: float | Tensor, L: int) -> Tensor:
    """Round to nearest (ties up), clipped to the alphabet: clamp(floor(w/step + 1/2), -L, L).

    step: a float, or per-row steps broadcastable against W (rows with step 0 get code 0)."""
    if not isinstance(step, Tensor):
        if step <= 0:
            return torch.zeros_like(W)
        return torch.floor(W / step + 0.5).clamp_(-L, L)
    live = step > 0
    codes = torch.floor(W / torch.where(live, step, torch.ones_like(step)) + 0.5).clamp_(-L, L)
    return codes * live


def make_rounder(
    rounding: Rounding, L: int, *, lam_codes: float | np.ndarray | Tensor = 0.0, generator: torch.Generator | None = None
) -> Rounder:
    """The scalar quantizer a -> code (a = arg/step, lam_codes = lambda/step) on a numpy array.

    nearest:    k = clamp(floor(a + 1/2), -L, L)  (= the formula sign(a) min(|floor(a+1/2)|, L)).
    stochastic: k = clamp(floor(a) + [r < a - floor(a)], -L, L), r ~ U[0,1) drawn with torch.rand from
                `generator` (one draw per entry per call, in call order), so a seeded generator
                gives reproducible codes and E[k] = a inside the range.
    l1:         soft threshold, then round: k = nearest(sign(a) max(|a| - lam, 0)).
    l0:         hard threshold, then round: k = 0 if |a| <= lam else nearest(a).
    L is the largest code magnitude (laq.quant.spec.levels). lam_codes may be one value per output
    row (per-channel steps), broadcast against a's last axis.
    The thresholds are in weight units (lambda) before dividing by the step, as in the seed's code;
    unlike the seed's L0 quantizer, nonzero levels stay on the shared grid so codes pack the same way.
    The sequential GPFQ kernel runs on the CPU in numpy because its per-call overhead is ~3x lower
    than torch's for these short vectors.
    """
    L = float(L)
    if isinstance(lam_codes, Tensor):
        lam_codes = lam_codes.detach().cpu().numpy()
    lam = lam_codes if isinstance(lam_codes, np.ndarray) else float(lam_codes)

    def nearest(a: np.ndarray) -> np.ndarray:
        c = a + 0.5
        np.floor(c, out=c)
        np.minimum(c, L, out=c)  # ufuncs with out=: np.clip's Python wrapper costs more than the work
        return np.maximum(c, -L, out=c)

    if rounding == "nearest":
        return nearest
    if rounding == "stochastic":

        def stochastic(a: np.ndarray) -> np.ndarray:
            lo = np.floor(a)
            r = torch.rand(a.shape, generator=generator, dtype=_TORCH_DTYPE[a.dtype.type]).numpy()
            return np.clip(lo + (r < a - lo), -L, L)

        return stochastic
    if rounding == "l1":
        return lambda a: nearest(np.sign(a) * np.maximum(np.abs(a) - lam, 0.0))
    if rounding == "l0":
        return lambda a: np.where(np.abs(a) <= lam, 0.0, nearest(a)).astype(a.dtype, copy=False)
    raise ValueError(f"unknown rounding {rounding!r}; use one of {', '.join(ROUNDINGS)}")


_TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
