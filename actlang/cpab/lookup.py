"""The fast path: a table of exact values of T^θ on a grid of [a, b] plus linear interpolation,
fused with each DiTAC variant's outer function.

The table holds the displacement ``D = T^θ(node) − node`` at the ``n + 1`` nodes (so θ = 0 gives
exactly the identity, and float32 tables lose less). With ``u = (x − a)·n/(b − a)``,
``i = ⌊u⌋`` and ``f = u − i``: ``x̃ = x + D[i] + f·(D[i+1] − D[i])``, which is the linear
interpolation of T^θ between the nodes; its error is at most ``h²·max|T''|/8``.

:class:`LookupFunction` has a hand-written backward that saves only ``x`` and the small table:
``∂out/∂x`` uses the interval's slope, and the gradient w.r.t. the table is the per-input weight
``g·∂out/∂x̃`` split ``(1 − f, f)`` onto the two nodes an input reads, accumulated with two
``index_add_`` into ``n + 1`` nodes per channel. Autograd then carries that small vector back
through the table's closed-form computation to θ, so no ``[N, dim θ]`` tensor is ever formed.
:func:`lookup` is the same forward in plain differentiable torch ops, for TorchScript.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Variant codes. TorchScript cannot read module-level ints, so the functions below compare
# against the literals: 1 ditac (× Φ), 2 ge_ditac, 3 l_ditac, 4 inf_ditac (extrapolates), 0 cpab.
CPAB, DITAC, GE_DITAC, L_DITAC, INF_DITAC = 0, 1, 2, 3, 4
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def locate(x: Tensor, lo: float, hi: float, n: int, mode: int, channels: int, channel_dim: int):
    """``(flat index into the table, fraction f, interval scale n/(b − a))`` of every input.

    Inputs outside [a, b] read the end intervals: clamped (f ∈ [0, 1]) for every mode but
    ``inf_ditac``, which extrapolates the end intervals linearly.
    """
    scale = n / (hi - lo)
    u = (x - lo) * scale
    if mode != 4:
        u = torch.clamp(u, 0.0, float(n))
    index = torch.clamp(torch.floor(u), 0.0, float(n - 1))
    frac = u - index
    flat = index.to(torch.int64)
    if channels > 0:
        shape = [1] * x.dim()
        shape[channel_dim] = channels
        flat = flat + (torch.arange(channels, device=x.device) * (n + 1)).view(shape)
    return flat, frac, scale


def _outside(x: Tensor, lo: float, mode: int, slope: float) -> Tensor:
    """The variant's value outside [a, b] (before DiTAC's Φ factor)."""
    if mode == 2:
        return torch.where(x < lo, x * torch.special.ndtr(x), x)
    if mode == 3:
        return torch.where(x >= 0, x, slope * x)
    return x


def combine(x: Tensor, warped: Tensor, lo: float, hi: float, mode: int, slope: float) -> Tensor:
    """The variant's output from x and x̃ = T(x) (valid on [a, b]; inf_ditac: everywhere)."""
    if mode == 4:
        return warped
    inside = (x >= lo) & (x <= hi)
    out = torch.where(inside, warped, _outside(x, lo, mode, slope))
    if mode == 1:
        out = out * torch.special.ndtr(x)
    return out


def lookup(
    x: Tensor, table: Tensor, lo: float, hi: float, mode: int, slope: float, channel_dim: int
) -> Tensor:
    """Forward of the fast path in plain torch ops (autograd-differentiable, TorchScript-able).

    ``table`` holds displacements, ``[n + 1]`` (one θ) or ``[C, n + 1]`` (one row per channel along ``channel_dim``).
    """
    n = table.shape[-1] - 1
    channels = table.shape[0] if table.dim() == 2 else 0
    flat, frac, _ = locate(x, lo, hi, n, mode, channels, channel_dim)
    values = table.reshape(-1)
    start = values[flat]
    warped = x + start + frac * (values[flat + 1] - start)
    return combine(x, warped, lo, hi, mode, slope)


class LookupFunction(torch.autograd.Function):
    """:func:`lookup` with a hand-written backward that saves only x (and the small table)."""

    @staticmethod
    def forward(ctx, x, table, lo, hi, mode, slope, channel_dim):  # type: ignore[override]
        ctx.save_for_backward(x, table)
        ctx.spec = (lo, hi, mode, slope, channel_dim)
        return lookup(x, table, lo, hi, mode, slope, channel_dim)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, table = ctx.saved_tensors
        lo, hi, mode, slope, channel_dim = ctx.spec
        n = table.shape[-1] - 1
        channels = table.shape[0] if table.dim() == 2 else 0
        flat, frac, scale = locate(x, lo, hi, n, mode, channels, channel_dim)
        values = table.reshape(-1)
        start = values[flat]
        step = values[flat + 1] - start
        slope_in = 1.0 + step * scale  # dx̃/dx inside
        grad = grad.to(x.dtype)
        if mode == 4:
            grad_x, grad_warped = grad * slope_in, grad
        else:
            inside = (x >= lo) & (x <= hi)
            if mode == 1:
                cdf = torch.special.ndtr(x)
                density = torch.exp(-0.5 * x * x) * _INV_SQRT_2PI
                warped = torch.where(inside, x + torch.addcmul(start, frac, step), x)
                local = torch.where(inside, slope_in, torch.ones_like(x)) * cdf + warped * density
                grad_warped = torch.where(inside, grad * cdf, torch.zeros_like(x))
            else:
                if mode == 2:
                    cdf = torch.special.ndtr(x)
                    outer = torch.where(x < lo, cdf + x * torch.exp(-0.5 * x * x) * _INV_SQRT_2PI, torch.ones_like(x))
                elif mode == 3:
                    outer = torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, slope))
                else:
                    outer = torch.ones_like(x)
                local = torch.where(inside, slope_in, outer)
                grad_warped = torch.where(inside, grad, torch.zeros_like(x))
            grad_x = grad * local
        grad_table = None
        if ctx.needs_input_grad[1]:
            flat = flat.reshape(-1)
            upper = (grad_warped * frac).reshape(-1)
            to_start = torch.zeros_like(values).index_add_(0, flat, grad_warped.reshape(-1))
            to_end = torch.zeros_like(values).index_add_(0, flat, upper)
            # node i gets (1 − f)·g from intervals starting at i and f·g from those ending at i.
            grad_values = to_start - to_end
            grad_values[1:] += to_end[:-1]
            grad_table = grad_values.view_as(table)
        return grad_x if ctx.needs_input_grad[0] else None, grad_table, None, None, None, None, None
