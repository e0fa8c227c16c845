"""The fast path: exact values of T^θ on a grid of [a, b] plus linear interpolation, fused with
each DiTAC variant's outer function.

The exact displacements ``D_i = T^θ(node_i) − node_i`` at the ``n + 1`` nodes become one affine
piece per interval, ``x̃ = c0_i + c1_i·x`` with ``c1_i = 1 + (D_{i+1} − D_i)·s`` and
``c0_i = D_i − (D_{i+1} − D_i)·s·node_i`` (``s = n/(b − a)``): the linear interpolation of T^θ
between the nodes, whose error is at most ``h²·max|T''|/8``. Written this way θ = 0 gives
exactly ``c0 = 0, c1 = 1``, the identity, bit for bit. Two more pieces cover the inputs below a
and above b: the identity (``cpab``, ``ditac``), ``leaky_relu``'s line (``l_ditac`` with
a ≤ 0 ≤ b) or the end pieces themselves (``inf_ditac``: the affine continuation). So the piece
of input x is simply ``k = clamp(⌊(x − a)·s⌋ + 1, 0, n + 1)``: no masks, a few passes over the
data. Variants whose outside is not affine (``ge_ditac``'s GELU below 0, ``l_ditac`` with
0 ∉ [a, b]) select it with one ``torch.where``.

:class:`LookupFunction` has a hand-written backward that saves only ``x`` (and the small
tables): ``∂out/∂x`` uses the piece's slope ``c1``, and the gradient w.r.t. the tables is the
per-input weight ``g·∂out/∂x̃`` (times ``x`` for ``c1``) accumulated with ``scatter_add_`` into the
``n + 2`` pieces per channel. Autograd carries those small vectors back through the tables'
closed-form computation to θ, so no ``[N, dim θ]`` tensor is ever formed. :func:`lookup` is
the same forward in plain differentiable torch ops, for TorchScript.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import Tensor

from actlang.cpab import scratch as workspace
from actlang.cpab.scratch import clear_workspace as clear_workspace  # documented here

# Variant codes. TorchScript cannot read module-level ints, so the functions below compare
# against the literals: 1 ditac (× Φ), 2 ge_ditac, 3 l_ditac, 4 inf_ditac (extrapolates), 0 cpab.
CPAB, DITAC, GE_DITAC, L_DITAC, INF_DITAC = 0, 1, 2, 3, 4
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def pieces(displacement: Tensor, lo: float, hi: float, mode: int, slope: float) -> tuple[Tensor, Tensor]:
    """Affine pieces ``(c0, c1)``, each ``[..., n + 2]``: below a, the n intervals, above b."""
    n = displacement.shape[-1] - 1
    scale = n / (hi - lo)
    nodes = torch.linspace(lo, hi, n + 1, dtype=displacement.dtype, device=displacement.device)[:-1]
    rise = (displacement[..., 1:] - displacement[..., :-1]) * scale
    c1 = 1.0 + rise
    c0 = displacement[..., :-1] - rise * nodes
    if mode == 4:  # inf_ditac: continue the end pieces
        c0 = torch.cat([c0[..., :1], c0, c0[..., -1:]], dim=-1)
        c1 = torch.cat([c1[..., :1], c1, c1[..., -1:]], dim=-1)
        return c0, c1
    left = slope if mode == 3 and lo <= 0.0 else 1.0  # l_ditac: x < a ≤ 0 lies on slope·x
    zero = torch.zeros_like(c0[..., :1])
    c0 = torch.cat([zero, c0, zero], dim=-1)
    c1 = torch.cat([torch.full_like(zero, left), c1, torch.ones_like(zero)], dim=-1)
    return c0, c1


def piece_index(
    x: Tensor, lo: float, hi: float, n: int, closed: bool, channels: int, channel_dim: int,
    scratch: Tensor | None = None, index_out: Tensor | None = None,
) -> Tensor:
    """Flat int32 index ``k + (n + 2)·channel`` of each input's piece (``closed``: b reads the
    last interval, as it must when T(b) ≠ b; otherwise b reads the identity above it, same value).

    ``scratch`` (float, shaped like x) holds the intermediate and ``index_out`` (int32) the
    result instead of fresh buffers.
    """
    scale = n / (hi - lo)
    # NaN inputs read piece 0 (and stay NaN); ±inf read the outer pieces. Once clamped to
    # [0, n + 1], the conversion's truncation is floor: no separate floor pass.
    if scratch is not None:
        u = torch.mul(x, scale, out=scratch).add_(1.0 - lo * scale).clamp_(0.0, float(n + 1)).nan_to_num_(0.0)
    else:  # out of place: the plain path runs under vmap, which has no batching rule for clamp_
        u = torch.clamp(x * scale + (1.0 - lo * scale), 0.0, float(n + 1)).nan_to_num(0.0)
    if index_out is not None:
        k = index_out.copy_(u)
    else:
        k = u.to(torch.int32)
    if closed:
        k = k.sub_((x == hi).to(torch.int32))
    if channels > 0:
        shape = [1] * x.dim()
        shape[channel_dim] = channels
        k = k.add_((torch.arange(channels, dtype=torch.int32, device=x.device) * (n + 2)).view(shape))
    return k


def normal_cdf(x: Tensor) -> Tensor:
    """Φ(x) = erfc(−x/√2)/2: no cancellation in the lower tail, where (1 + erf(x/√2))/2 is
    1 − 1 = 0 below x ≈ −8.5 (float64) while Φ(−10) = 7.6e−24."""
    return torch.special.erfc(x * -0.7071067811865476).mul_(0.5)  # 1/√2 (a literal for TorchScript)


def gather(table: Tensor, k: Tensor) -> Tensor:
    """``table.flatten()[k]`` shaped like ``k`` (index_select: about twice as fast as take)."""
    return torch.index_select(table.reshape(-1), 0, k.reshape(-1)).reshape(k.shape)


def lookup(
    x: Tensor, c0: Tensor, c1: Tensor, lo: float, hi: float, mode: int, slope: float,
    closed: bool, masked: bool, channel_dim: int,
) -> Tensor:
    """Forward of the fast path in plain torch ops (autograd-differentiable, TorchScript-able).

    ``c0``/``c1``: pieces from :func:`pieces`, ``[n + 2]`` or ``[C, n + 2]`` (one row per channel
    along ``channel_dim``). ``masked``: l_ditac whose outside is not one line per side.
    """
    n = c0.shape[-1] - 2
    channels = c0.shape[0] if c0.dim() == 2 else 0
    k = piece_index(x, lo, hi, n, closed, channels, channel_dim)
    warped = gather(c0, k) + gather(c1, k) * x
    if mode == 1:
        return warped * normal_cdf(x)
    if mode == 2:
        return torch.where(x < lo, x * normal_cdf(x), warped)
    if mode == 3 and masked:
        return torch.where((x < lo) | (x > hi), torch.where(x >= 0, x, slope * x), warped)
    return warped


class LookupFunction(torch.autograd.Function):
    """:func:`lookup` with a hand-written backward.

    Saves only x (and the small tables); backward finds the pieces again (a saved index would
    be a fresh full-size buffer, whose page faults cost more than the five passes that recompute
    it) and accumulates the tables' gradients with ``scatter_add_`` (about twice as fast as
    ``index_add_`` on CPU). The passes are few and fused where torch allows (``addcmul``, table
    entries pre-scaled by the constants of Φ and φ), and they reuse a few full-size buffers in
    place: at a million inputs every pass streams megabytes, and fresh large allocations cost
    page faults that can exceed the arithmetic.
    """

    @staticmethod
    def forward(ctx, x, c0, c1, lo, hi, mode, slope, closed, masked, channel_dim):  # type: ignore[override]
        ctx.spec = (lo, hi, mode, slope, closed, masked, channel_dim)
        ctx.save_for_backward(x, c0, c1)  # x as given: double backward differentiates through it
        x = x.contiguous()
        out = torch.empty_like(x)  # first the scratch of the index, then the result
        flat, ctx.index_token = _pieces_of(x, c0, ctx.spec, out)
        spare = workspace.scratch("a", x)
        if mode == 1:  # x̃·Φ(x) = x̃/2·erfc(−x/√2): tables halved, Φ's 1/2 folded; erfc keeps
            c0, c1 = c0 * 0.5, c1 * 0.5  # the lower tail (1 + erf cancels to 0 below −8.5)
        _warp(c0, c1, flat, x, out, spare)  # x̃ = c0 + c1·x (halved for ditac)
        if mode == 1:
            return out.mul_(torch.mul(x, -0.7071067811865476, out=spare).erfc_())
        if mode == 2:
            return torch.where(x < lo, x * normal_cdf(x), out)
        if mode == 3 and masked:
            return torch.where((x < lo) | (x > hi), torch.where(x >= 0, x, slope * x), out)
        return out

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, c0, c1 = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: differentiate the plain ops, graph kept
            return _differentiable_backward(ctx, x, c0, c1, grad)
        with torch.no_grad():
            return _backward(ctx, x.contiguous(), c0, c1, grad.contiguous())


def _differentiable_backward(ctx: Any, x: Tensor, c0: Tensor, c1: Tensor, grad: Tensor) -> tuple:
    """The gradients as differentiable functions of x, the tables and ``grad`` (for double
    backward): autograd through :func:`lookup`, whose values equal the fused forward's."""
    lo, hi, mode, slope, closed, masked, channel_dim = ctx.spec
    needs = ctx.needs_input_grad[:3]
    with torch.enable_grad():
        given = zip((x, c0, c1), needs, strict=True)
        inputs = [t if t.requires_grad else t.detach().requires_grad_(need) for t, need in given]
        out = lookup(inputs[0], inputs[1], inputs[2], lo, hi, mode, slope, closed, masked, channel_dim)
        wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
        found = iter(torch.autograd.grad(out, wanted, grad, create_graph=True, allow_unused=True))
    grads = [next(found) if need else None for need in needs]
    grads = [torch.zeros_like(t) if n and g is None else g for t, g, n in zip(inputs, grads, needs, strict=True)]
    return (*grads, None, None, None, None, None, None, None)


def _backward(ctx: Any, x: Tensor, c0: Tensor, c1: Tensor, grad: Tensor) -> tuple:
    """First-order gradients, in place in scratch buffers (no graph)."""
    lo, hi, mode, slope, _, masked, _ = ctx.spec
    grad_x = torch.empty_like(x)  # first the scratch of the index, then the result
    tables = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
    # int64 when the tables need gradients: scatter_add_ takes no other index type.
    flat, _ = _pieces_of(x, c0, ctx.spec, grad_x, torch.int64 if tables else torch.int32, ctx.index_token)
    slope_in = workspace.scratch("a", x)
    spare = workspace.scratch("c", x)
    table_scale = 1.0  # weight = table_scale·∂out/∂x̃·g
    if mode == 1:
        # out = x̃·Φ(x): ∂/∂x = c1·Φ + x̃·φ, ∂/∂x̃ = Φ. With s = −x/√2, E = exp(−x²/2) = exp(−s²):
        # 2g·Φ = g·erfc(s) (accurate in the lower tail), and g·x̃·φ = g·E·(c0·K + 2K·(c1/2)·x),
        # K = 1/√(2π).
        scaled = torch.mul(x, -0.7071067811865476, out=workspace.scratch("b", x))
        torch.mul(scaled, scaled, out=grad_x).neg_().exp_().mul_(grad)  # g·E
        weight = scaled.erfc_().mul_(grad)  # 2g·Φ
        workspace.select(c1, flat, slope_in).mul_(0.5)  # c1/2
        workspace.select(c0 * _INV_SQRT_2PI, flat, spare)
        grad_x.mul_(spare.addcmul_(slope_in, x, value=2.0 * _INV_SQRT_2PI)).addcmul_(weight, slope_in)
        table_scale = 0.5
    else:
        workspace.select(c1, flat, slope_in)  # dx̃/dx
        if mode == 2 or (mode == 3 and masked):
            off = (x < lo) if mode == 2 else (x < lo) | (x > hi)
            if mode == 2:
                outer = normal_cdf(x) + x * torch.exp(x * x * -0.5) * _INV_SQRT_2PI
            else:
                outer = torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, slope))
            weight = torch.where(off, torch.zeros_like(grad), grad)
            torch.mul(grad, torch.where(off, outer, slope_in), out=grad_x)
        else:
            weight = grad
            torch.mul(slope_in, grad, out=grad_x)
    grad_c0 = grad_c1 = None
    if tables:
        weight = weight.reshape(-1)
        grad_c0 = workspace.accumulate(c0, flat, weight)
        grad_c1 = workspace.accumulate(c1, flat, torch.mul(weight, x.reshape(-1), out=spare.view(-1)))
        if table_scale != 1.0:
            grad_c0, grad_c1 = grad_c0.mul_(table_scale), grad_c1.mul_(table_scale)
    grad_x = grad_x if ctx.needs_input_grad[0] else None
    return grad_x, grad_c0, grad_c1, None, None, None, None, None, None, None


def _pieces_of(
    x: Tensor, c0: Tensor, spec: tuple, scratch: Tensor, dtype: torch.dtype = torch.int32, reuse: int | None = None
) -> tuple[Tensor, int | None]:
    """The flat piece index of every input (int32 or int64) in this thread's index workspace, and
    the token it is kept under (int32 only).

    A forward's int32 index stays in the workspace under a fresh token, which its backward
    (``reuse``) presents: while no other lookup on this thread has overwritten it, backward
    converts it to int64 instead of recomputing it in five passes. A token is never reused, so
    a stale index cannot match (unlike a tensor's data pointer, which a later tensor may share).
    """
    lo, hi, _, _, closed, _, channel_dim = spec
    channels = c0.shape[0] if c0.dim() == 2 else 0
    if reuse is not None:
        found = workspace.kept("index", x, torch.int32, reuse)
        if found is not None and dtype == torch.int64:
            return workspace.scratch("wide", x, torch.int64).view(-1).copy_(found.view(-1)), None
        if found is not None:
            return found.view(-1), None
    index = workspace.scratch("index", x, dtype)
    flat = piece_index(x, lo, hi, c0.shape[-1] - 2, closed, channels, channel_dim, scratch, index).view(-1)
    token = next(_TOKENS) if dtype == torch.int32 and not workspace.tracing(x) else None
    if token is not None:
        workspace.keep("index", x, torch.int32, token)
    return flat, token


_TOKENS = itertools.count()


def _warp(c0: Tensor, c1: Tensor, flat: Tensor, x: Tensor, out: Tensor, spare: Tensor) -> Tensor:
    """``out = c0[k] + c1[k]·x`` in three passes (two gathers, one addcmul)."""
    workspace.select(c0, flat, out)
    workspace.select(c1, flat, spare)
    return out.addcmul_(spare, x)
