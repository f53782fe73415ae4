"""Layer engines: GPFQ (and its stochastic / sparse variants), GPTQ and RTN on one weight matrix.

Notation: W is N x d (rows = neurons), X and Xq are m x d (inputs of the float and of the partially
quantized network). Grouped layers use a leading group axis: W (g, N/g, d_g), X (g, m, d_g).

GPFQ as a recursion on Gram matrices. The seed's loop keeps an N x m residual
    u_t = sum_{s<=t} w_s X_s^T - sum_{s<t} q_s Xq_s^T       (X_s = column s of X)
and sets q_t = Q(<u_t, Xq_t> / |Xq_t|^2). Expanding the inner product,
    <u_t, Xq_t> = sum_{s<=t} w_s G[t,s] - sum_{s<t} q_s H[t,s],   G = Xq^T X,  H = Xq^T Xq,
so only the lower triangles of G and H are needed. We keep P^T (d x N, row t = the projection of
column t for all neurons), start from P^T = tril(G) W^T, and process columns in blocks of B: inside a
block each row is finalised, rounded and subtracted from the later rows of the block (rank-1);
after the block, one matrix product subtracts the block's codes from all later rows (lazy batch
update, as in GPTQ). Cost: m d^2 to build the Grams (any number of batches) + ~1.5 N d^2.

The same recursion can be driven from the data when X fits in memory ("data form"): keep the
residual u (m x N) only at block boundaries, so per block P_b^T = Xq_b^T u + tril(Xq_b^T X_b) W_b^T and
u += X_b W_b^T - Xq_b Q_b^T. Cost ~3 N m d + 2 m d B, much less than the Gram form when N, B << d.
Both forms round exactly the same numbers (up to float rounding); `gpfq_layer` picks the cheaper.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from laq.quant.alphabet import Rounder, Rounding, make_rounder, rtn_codes, step_size
from laq.quant.spec import levels

Form = Literal["auto", "gram", "data"]
DEFAULT_BLOCK = 128


# ---------------------------------------------------------------- shapes and Gram matrices


def as_groups(W: Tensor, groups: int) -> Tensor:
    """N x d_g (rows of consecutive groups) -> (g, N/g, d_g)."""
    W2 = W.reshape(W.shape[0], -1)
    if W2.shape[0] % groups:
        raise ValueError(f"{W2.shape[0]} rows cannot be split into {groups} groups")
    return W2.reshape(groups, W2.shape[0] // groups, W2.shape[1])


def inputs_as_groups(X: Tensor, groups: int) -> Tensor:
    """m x (g d_g) (group blocks of columns, as F.unfold lays out conv patches) -> (g, m, d_g) view."""
    if X.shape[1] % groups:
        raise ValueError(f"{X.shape[1]} input columns cannot be split into {groups} groups")
    return X.reshape(X.shape[0], groups, X.shape[1] // groups).transpose(0, 1)


def lower_gram(A: Tensor, B: Tensor | None = None, *, block: int = 512, out: Tensor | None = None) -> Tensor:
    """A^T B (or A^T A) for batched A, B of shape (g, m, d), added into `out`; callers read only the
    lower triangle (incl. the diagonal), which is all the GPFQ / GPTQ recursions need.

    For A^T A with d > block only the blocks on or below the diagonal are multiplied, halving the
    work; blocks above it are left as they were (zero for a fresh `out`).
    """
    g, _, d = A.shape
    if out is None:
        out = torch.zeros(g, d, d, dtype=A.dtype, device=A.device)
    if B is not None or d <= block:
        # G = Xq^T X has no symmetry to exploit; small H is cheaper as one product.
        out.baddbmm_(A.transpose(1, 2), A if B is None else B)
        return out
    for i0 in range(0, d, block):
        i1 = min(i0 + block, d)
        out[:, i0:i1, :i1].baddbmm_(A[:, :, i0:i1].transpose(1, 2), A[:, :, :i1])
    return out


def symmetrize_lower(H: Tensor) -> Tensor:
    """Full symmetric matrix from its lower triangle (batched)."""
    return torch.tril(H) + torch.tril(H, -1).transpose(-1, -2)


# ---------------------------------------------------------------- the shared sequential kernel


SUB_BLOCK = 16


def _round_block(Pb: Tensor, Hb: Tensor, rinv: Tensor, rounder: Rounder, Cb: Tensor, step: float | Tensor) -> Tensor | None:
    """Round the rows of one block in order, feeding each row's codes into the later rows.

    Pb (g, B, N): projections <u_t, Xq_t> of the block's columns (consumed);
    Hb (g, B, B): H restricted to the block (only the part below the diagonal is read);
    rinv (g, B): 1 / (H[t,t] step) for one step, 1 / H[t,t] for per-row steps; 0 for dead inputs
    (so their argument, and code, is 0); step: a float or per-row steps (g, N);
    Cb (g, B, N): receives the codes. Returns the block's dequantized values (g, B, N) for per-row
    steps (None for one step: the caller scales the codes).
    Runs in numpy on the CPU (short vectors: per-call overhead dominates); the rank-1 updates stay
    inside sub-blocks of SUB_BLOCK rows and each finished sub-block updates the rest with one product.
    """
    per_row = isinstance(step, Tensor)
    P = Pb.detach().cpu().numpy()  # on the CPU a view: the block's rows are scratch from here on
    Hs = (Hb if per_row else Hb * step).cpu().numpy()
    r = rinv.cpu().numpy()
    C = np.empty(P.shape, dtype=P.dtype)
    if per_row:
        S = step.to(Pb.dtype).cpu().numpy()
        Sinv = np.divide(1.0, S, out=np.zeros_like(S), where=S > 0)
        Q = np.empty_like(C)
    else:
        Q = C  # with one step, Hs already carries it
    B = P.shape[1]
    for s0 in range(0, B, SUB_BLOCK):
        s1 = min(s0 + SUB_BLOCK, B)
        for j in range(s0, s1):
            a = P[:, j] * r[:, j, None]
            if per_row:
                a *= Sinv
            c = rounder(a)
            C[:, j] = c
            if per_row:
                Q[:, j] = c * S
            if j + 1 < s1:
                # later rows t' lose q_t H[t', t] = c step H[t', t]
                P[:, j + 1 : s1] -= Hs[:, j + 1 : s1, j, None] * Q[:, j, None, :]
        if s1 < B:
            # via torch (zero-copy views) so that one thread pool serves all products
            torch.from_numpy(P[:, s1:]).baddbmm_(torch.from_numpy(Hs[:, s1:, s0:s1]), torch.from_numpy(Q[:, s0:s1]), alpha=-1.0)
    Cb.copy_(torch.from_numpy(C))
    return torch.from_numpy(Q).to(Cb.device) if per_row else None


def _inv_diag(Hdiag: Tensor, step: float | Tensor) -> Tensor:
    """1 / (H[t,t] step) for one step (1 / H[t,t] for per-row steps, which _round_block applies); 0 where H[t,t] = 0."""
    s = 1.0 if isinstance(step, Tensor) else step
    live = Hdiag > 0
    return torch.where(live, 1.0 / (Hdiag * s).where(live, torch.ones_like(Hdiag)), torch.zeros_like(Hdiag))


def _no_step(step: float | Tensor) -> bool:
    return bool((step <= 0).all()) if isinstance(step, Tensor) else step <= 0


def gpfq_gram_codes(W3: Tensor, G: Tensor, H: Tensor, step: float | Tensor, rounder: Rounder, block: int = DEFAULT_BLOCK) -> Tensor:
    """GPFQ codes (g, N, d) from W3 (g, N, d) and the lower triangles of G, H (g, d, d).

    step: one float, or per-row steps (g, N) (per output channel)."""
    g, N, d = W3.shape
    C = torch.zeros(g, d, N, dtype=W3.dtype, device=W3.device)
    if _no_step(step):
        return C.transpose(1, 2)
    Pt = torch.bmm(torch.tril(G), W3.transpose(1, 2))  # (g, d, N): sum_{s<=t} G[t,s] w_s
    rinv = _inv_diag(H.diagonal(dim1=1, dim2=2), step)
    for i0 in range(0, d, block):
        i1 = min(i0 + block, d)
        Qb = _round_block(Pt[:, i0:i1], H[:, i0:i1, i0:i1], rinv[:, i0:i1], rounder, C[:, i0:i1], step)
        if i1 < d:
            if Qb is None:
                Pt[:, i1:].baddbmm_(H[:, i1:, i0:i1], C[:, i0:i1], alpha=-step)
            else:
                Pt[:, i1:].baddbmm_(H[:, i1:, i0:i1], Qb, alpha=-1.0)
    return C.transpose(1, 2)


def gpfq_data_codes(
    W3: Tensor, X3: Tensor, Xq3: Tensor | None, step: float | Tensor, rounder: Rounder, block: int = DEFAULT_BLOCK
) -> Tensor:
    """GPFQ codes (g, N, d) driven by the inputs X3, Xq3 (g, m, d); Xq3 None means Xq = X.

    step: one float, or per-row steps (g, N)."""
    g, N, d = W3.shape
    shared = Xq3 is None or Xq3 is X3
    Xq3 = X3 if Xq3 is None else Xq3
    C = torch.zeros(g, d, N, dtype=W3.dtype, device=W3.device)
    if _no_step(step):
        return C.transpose(1, 2)
    u = None  # (g, m, N): the residual at the current block boundary
    for i0 in range(0, d, block):
        i1 = min(i0 + block, d)
        Xb, Xqb, Wb_t = X3[:, :, i0:i1], Xq3[:, :, i0:i1], W3[:, :, i0:i1].transpose(1, 2)
        Hb = torch.bmm(Xqb.transpose(1, 2), Xqb)
        Gb = Hb if shared else torch.bmm(Xqb.transpose(1, 2), Xb)
        Pb = torch.bmm(torch.tril(Gb), Wb_t)
        if u is not None:
            Pb.baddbmm_(Xqb.transpose(1, 2), u)
        rinv = _inv_diag(Hb.diagonal(dim1=1, dim2=2), step)
        Qb = _round_block(Pb, Hb, rinv, rounder, C[:, i0:i1], step)
        if i1 < d:
            if u is None:
                u = torch.bmm(Xb, Wb_t)
            else:
                u.baddbmm_(Xb, Wb_t)
            if Qb is None:
                u.baddbmm_(Xqb, C[:, i0:i1], alpha=-step)
            else:
                u.baddbmm_(Xqb, Qb, alpha=-1.0)
    return C.transpose(1, 2)


def auto_block(N: int) -> int:
    """Block size of the lazy updates: small for few neurons (the block Grams dominate), else 128."""
    return min(DEFAULT_BLOCK, max(32, N // 2))


def choose_form(N: int, d: int, m: int, *, shared: bool, block: int = DEFAULT_BLOCK) -> Literal["gram", "data"]:
    """The cheaper of the two exact forms, by multiply-add count (per group)."""
    b = min(block, d)
    gram = m * d * d * (0.6 if shared else 1.6) + 1.5 * N * d * d
    data = 3 * N * m * d + (1 if shared else 2) * m * d * b
    return "data" if data < gram else "gram"


# ---------------------------------------------------------------- public layer API


def _rounder(rounding: Rounding, L: int, lam: float, step: float | Tensor, generator: torch.Generator | None) -> Rounder:
    if isinstance(step, Tensor):
        s = step.cpu().numpy()
        lam_codes = np.divide(lam, s, out=np.zeros_like(s), where=s > 0)
    else:
        lam_codes = lam / step if step > 0 else 0.0
    return make_rounder(rounding, L, lam_codes=lam_codes, generator=generator)


def group_steps(step: float | Tensor, g: int, N: int) -> float | Tensor:
    """One step as it is; per-row steps (g*N,) as (g, N), matching as_groups' rows."""
    return step.reshape(g, N) if isinstance(step, Tensor) else step


def _scaled(codes: Tensor, step: float | Tensor) -> Tensor:
    """codes * step for a weight-shaped code tensor; per-row steps scale each output row."""
    if isinstance(step, Tensor):
        return codes * step.reshape(-1, *([1] * (codes.dim() - 1)))
    return codes * step


def gpfq_gram(
    W: Tensor,
    G: Tensor,
    H: Tensor,
    *,
    step: float | Tensor,
    bits: int,
    alphabet: str = "gpfq",
    rounding: Rounding = "nearest",
    lam: float = 0.0,
    generator: torch.Generator | None = None,
    block_size: int | None = None,
) -> Tensor:
    """GPFQ from accumulated Gram matrices; returns the quantized W (same shape, values k * step).

    G = Xq^T X and H = Xq^T Xq, each d x d (or (g, d_g, d_g) for a grouped layer whose rows are split
    into g consecutive groups); only their lower triangles are read (see `lower_gram`). step: a float,
    or one per row of W.
    """
    G3, H3 = (G, H) if G.dim() == 3 else (G.unsqueeze(0), H.unsqueeze(0))
    W3 = as_groups(W, G3.shape[0])
    s = group_steps(step, *W3.shape[:2])
    block = block_size or auto_block(W3.shape[1])
    codes = gpfq_gram_codes(W3, G3, H3, s, _rounder(rounding, levels(bits, alphabet), lam, s, generator), block)
    return _scaled(codes.reshape(W.shape), step)


def gpfq_codes(
    W: Tensor,
    X: Tensor,
    Xq: Tensor | None = None,
    *,
    step: float | Tensor,
    bits: int,
    alphabet: str = "gpfq",
    rounding: Rounding = "nearest",
    lam: float = 0.0,
    generator: torch.Generator | None = None,
    groups: int = 1,
    form: Form = "auto",
    block_size: int | None = None,
) -> Tensor:
    """Integer-valued GPFQ codes (same shape as W) from inputs X, Xq (m x d; Xq None = X).

    step: a float, or one per row of W (per output channel)."""
    W3 = as_groups(W, groups)
    X3 = inputs_as_groups(X, groups)
    shared = Xq is None or Xq is X
    Xq3 = None if shared else inputs_as_groups(Xq, groups)
    g, N, d = W3.shape
    s = group_steps(step, g, N)
    block_size = block_size or auto_block(N)
    if form == "auto":
        form = choose_form(N, d, X.shape[0], shared=shared, block=block_size)
    rounder = _rounder(rounding, levels(bits, alphabet), lam, s, generator)
    if form == "data":
        codes = gpfq_data_codes(W3, X3, Xq3, s, rounder, block_size)
    elif form == "gram":
        H = lower_gram(X3 if shared else Xq3)
        G = H if shared else lower_gram(Xq3, X3)
        codes = gpfq_gram_codes(W3, G, H, s, rounder, block_size)
    else:
        raise ValueError(f"form must be 'auto', 'gram' or 'data', got {form!r}")
    return codes.reshape(W.shape)


def gpfq_layer(
    W: Tensor,
    X: Tensor,
    Xq: Tensor | None = None,
    *,
    bits: int,
    scalar: float = 1.16,
    percentile: float = 1.0,
    alphabet: str = "gpfq",
    granularity: str = "tensor",
    rounding: Rounding = "nearest",
    lam: float = 0.0,
    generator: torch.Generator | None = None,
    groups: int = 1,
    step: float | Tensor | None = None,
    form: Form = "auto",
    block_size: int | None = None,
) -> Tensor:
    """GPFQ-quantize one layer: W (N x d, or a conv weight), X, Xq (m x d); returns k * step, W's shape.

    rounding "stochastic" is SGPFQ, "l1"/"l0" the sparse variants with threshold `lam` (weight units);
    `groups` > 1 treats rows and input columns as that many independent consecutive groups.
    """
    if step is None:
        step = step_size(W, bits, scalar, percentile, alphabet=alphabet, granularity=granularity)
    codes = gpfq_codes(
        W, X, Xq, step=step, bits=bits, alphabet=alphabet, rounding=rounding, lam=lam, generator=generator,
        groups=groups, form=form, block_size=block_size,
    )
    return _scaled(codes, step)


def gptq_gram_codes(W3: Tensor, H: Tensor, step: float | Tensor, L: int, *, damp: float = 0.01, block: int = DEFAULT_BLOCK) -> Tensor:
    """GPTQ codes (g, N, d) with |code| <= L; H = X^T X (g, d, d), full or lower triangle; step a
    float or per-row steps (g, N).

    Dead inputs (H[t,t] = 0) get code 0; `damp` * mean(diag H) is added to the diagonal (raised
    tenfold until the Cholesky factorisation succeeds). Rows with step 0 get code 0.
    """
    g, N, d = W3.shape
    dtype = W3.dtype
    Hs = symmetrize_lower(H).to(torch.float64)
    diag = Hs.diagonal(dim1=1, dim2=2)
    dead = diag == 0
    W = W3.clone()
    W.masked_fill_(dead.unsqueeze(1), 0.0)
    Hs.diagonal(dim1=1, dim2=2).masked_fill_(dead, 1.0)
    U = _inverse_cholesky_upper(Hs, damp).to(dtype)  # upper factor of H^-1
    C = torch.zeros_like(W)
    if _no_step(step):
        return C
    live = None
    if isinstance(step, Tensor):
        live = (step > 0).to(dtype)
        step = torch.where(step > 0, step, torch.ones_like(step)).to(dtype)
    for i0 in range(0, d, block):
        i1 = min(i0 + block, d)
        Wb = W[:, :, i0:i1].clone()
        Eb = torch.empty_like(Wb)
        for j in range(i1 - i0):
            t = i0 + j
            c = torch.floor(Wb[:, :, j] / step + 0.5).clamp_(-L, L)
            if live is not None:
                c *= live
            C[:, :, t] = c
            e = (Wb[:, :, j] - c * step) / U[:, t, t].unsqueeze(1)
            Eb[:, :, j] = e
            Wb[:, :, j:].sub_(e.unsqueeze(2) * U[:, t, t:i1].unsqueeze(1))
        if i1 < d:
            W[:, :, i1:].baddbmm_(Eb, U[:, i0:i1, i1:], alpha=-1.0)
    return C


def _inverse_cholesky_upper(H: Tensor, damp: float) -> Tensor:
    mean_diag = H.diagonal(dim1=1, dim2=2).mean(dim=1)
    lam = damp
    for _ in range(8):
        Hd = H.clone()
        Hd.diagonal(dim1=1, dim2=2).add_((lam * mean_diag).unsqueeze(1))
        Lc, info = torch.linalg.cholesky_ex(Hd)
        if int(info.abs().sum()) == 0:
            Hinv = torch.cholesky_inverse(Lc)
            return torch.linalg.cholesky(Hinv, upper=True)
        lam = lam * 10 if lam > 0 else 1e-6
    raise RuntimeError("GPTQ: H stays singular after damping; the calibration inputs are degenerate")


def gptq_gram(
    W: Tensor, H: Tensor, *, step: float | Tensor, bits: int, alphabet: str = "gpfq", damp: float = 0.01, block_size: int = DEFAULT_BLOCK
) -> Tensor:
    """GPTQ from H = X^T X (d x d or (g, d_g, d_g)); returns the quantized W (values k * step)."""
    H3 = H if H.dim() == 3 else H.unsqueeze(0)
    W3 = as_groups(W, H3.shape[0])
    codes = gptq_gram_codes(W3, H3, group_steps(step, *W3.shape[:2]), levels(bits, alphabet), damp=damp, block=block_size)
    return _scaled(codes.reshape(W.shape), step)


def gptq_layer(
    W: Tensor,
    X: Tensor,
    *,
    bits: int,
    scalar: float = 1.16,
    percentile: float = 1.0,
    alphabet: str = "gpfq",
    granularity: str = "tensor",
    damp: float = 0.01,
    groups: int = 1,
    step: float | Tensor | None = None,
    block_size: int = DEFAULT_BLOCK,
) -> Tensor:
    """GPTQ-quantize one layer from its (float-network) input X (m x d) on the shared alphabet."""
    if step is None:
        step = step_size(W, bits, scalar, percentile, alphabet=alphabet, granularity=granularity)
    H = lower_gram(inputs_as_groups(X, groups))
    W3 = as_groups(W, groups)
    codes = gptq_gram_codes(W3, H, group_steps(step, *W3.shape[:2]), levels(bits, alphabet), damp=damp, block=block_size)
    return _scaled(codes.reshape(W.shape), step)


def rtn(
    W: Tensor, *, bits: int, scalar: float = 1.16, percentile: float = 1.0, alphabet: str = "gpfq",
    granularity: str = "tensor", step: float | Tensor | None = None,
) -> Tensor:
    """Round-to-nearest on the shared alphabet (no data)."""
    if step is None:
        step = step_size(W, bits, scalar, percentile, alphabet=alphabet, granularity=granularity)
    s = step.reshape(-1, *([1] * (W.dim() - 1))) if isinstance(step, Tensor) else step
    return _scaled(rtn_codes(W, s, levels(bits, alphabet)), step)
