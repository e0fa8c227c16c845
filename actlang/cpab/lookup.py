"""The fast path: exact values of T^θ on a grid of [a, b] plus linear interpolation, fused with
each DiTAC variant's outer function.

The exact displacements ``D_i = T^θ(node_i) − node_i`` at the ``n + 1`` nodes become one affine
piece per interval, ``x̃ = c0_i + c1_i·x`` with ``c1_i = 1 + (D_{i+1} − D_i)·s`` and
``c0_i = D_i − (D_{i+1} − D_i)·s·node_i`` (``s = n/(b − a)``): the linear interpolation of T^θ
between the nodes, whose error is at most ``h²·max|T''|/8``. Written this way θ = 0 gives
exactly ``c0 = 0, c1 = 1``, the identity, bit for bit. Two more pieces cover the inputs below a
and above b: the identity (``cpab``, ``ditac``), ``leaky_relu``'s line (``l_ditac`` with
a ≤ 0 ≤ b) or the end pieces themselves (``inf_ditac``: the affine continuation). So the piece
of input x is simply ``k = clamp(⌊(x − a)·s⌋ + 1, 0, n + 1)``: no masks. Variants whose outside
is not affine (``ge_ditac``'s GELU below 0, ``l_ditac`` with 0 ∉ [a, b]) select it with one
``torch.where``.

:func:`lookup` is the forward in plain torch ops (TorchScript, export, function transforms and
double backward differentiate it); :func:`packed_lookup` is the same from the tables as
:func:`pack` makes them (one gather per input), and :func:`piece_gradient` its gradients:
``∂out/∂x`` uses the piece's slope ``c1``, and the gradient w.r.t. the tables is the per-input
weight ``w = g·∂out/∂x̃`` (and ``w·x`` for ``c1``) summed into the ``n + 2`` pieces per channel
(:func:`sum_by_piece`). :func:`kernel_function` makes the kernels' functions, which
:mod:`actlang.cpab.lookup_autograd` runs under autograd. Autograd carries the tables' gradients
back through their closed-form computation to θ, so no ``[N, dim θ]`` tensor is ever formed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from actlang.cpab.normal import normal_cdf, normal_cdf_and_density

# The kernels of :func:`kernel_function` are built with gcc's ``-ffp-contract=fast``
# (:func:`actlang.kernel_cache.build` reads this): multiplies and adds fused into FMAs made the
# forward kernel 10–14 % and the backward 7–13 % faster (benchmarks/lookup_contraction.py, 2-core VM). Values move
# by rounding only; the piece of each input does not (see :func:`piece_index`).
FLOATING_POINT_CONTRACT = "fast"
# Φ and φ live there: an edit to them must not match a kernel file built before it.
KERNEL_DEPENDENCIES = ("actlang.cpab.normal",)

# Variant codes. TorchScript cannot read module-level ints, so the functions below compare
# against the literals: 1 ditac (× Φ), 2 ge_ditac, 3 l_ditac, 4 inf_ditac (extrapolates), 0 cpab.
CPAB, DITAC, GE_DITAC, L_DITAC, INF_DITAC = 0, 1, 2, 3, 4


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


def piece_index(x: Tensor, lo: float, hi: float, n: int, closed: bool, channels: int, channel_dim: int) -> Tensor:
    """Flat int32 index ``k + (n + 2)·channel`` of each input's piece (``closed``: b reads the
    last interval, as it must when T(b) ≠ b; otherwise b reads the identity above it, same value)."""
    scale = n / (hi - lo)
    # NaN inputs read piece 0 (and stay NaN); ±inf read the outer pieces. Once clamped to
    # [0, n], the conversion's truncation is floor: no separate floor pass. A comparison sends
    # NaN to piece 0 (inductor vectorises it; its isnan, in nan_to_num, is a scalar loop).
    # (x − a)·s, and the 1 added after the conversion: no product feeds a sum, so the kernels'
    # FMA contraction (FLOATING_POINT_CONTRACT) cannot round an input on a piece boundary
    # differently from the eager functions (with x·s + (1 − a·s) it could).
    if x.dtype == torch.float16 or x.dtype == torch.bfloat16:
        x = x.float()  # (x − a)·s near 2,000 has a spacing of 8 in bfloat16 (1 in float16): pieces apart
    u = (x - lo) * scale
    # The side of a is x's comparison with a, not u's sign: (x − a)·s can underflow to −0.
    k = torch.where(x >= lo, torch.clamp_max(u, float(n)), -1.0).to(torch.int32) + 1
    if closed:
        # T(b) ≠ b: the last interval and the identity above b differ there by T(b) − b, so the
        # side of b decides, not the rounding of (x − a)·s (an x an ulp below b can round to n,
        # one above it below n).
        k = torch.where(x > hi, torch.full_like(k, n + 1), torch.clamp_max(k, n))
    if channels > 0:
        shape = [1] * x.dim()
        shape[channel_dim] = channels
        k = k + (torch.arange(channels, dtype=torch.int32, device=x.device) * (n + 2)).view(shape)
    return k


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
    return outer(x, gather(c0, k) + gather(c1, k) * x, lo, hi, mode, slope, masked)


def outer(x: Tensor, warped: Tensor, lo: float, hi: float, mode: int, slope: float, masked: bool) -> Tensor:
    """The variant's output from x and the interpolated ``warped = c0[k] + c1[k]·x``."""
    if mode == 1:
        return warped * normal_cdf(x)
    if mode == 2:
        return torch.where(x < lo, x * normal_cdf(x), warped)
    if mode == 3 and masked:
        return torch.where((x < lo) | (x > hi), torch.where(x >= 0, x, slope * x), warped)
    return warped


def piece_gradient(
    grad: Tensor, x: Tensor, base: Tensor, rise: Tensor, lo: float, hi: float, mode: int, slope: float, masked: bool
) -> tuple[Tensor, Tensor]:
    """``(∂x, w)`` for the output gradient ``grad``, given each input's piece ``base = c0[k]``,
    ``rise = c1[k]``: the input gradient and each input's weight ``w = grad·∂out/∂x̃`` in the tables'
    gradients (``∂c0 = Σ w``, ``∂c1 = Σ w·x`` per piece).

    ditac: ``out = x̃·Φ(x)``, so ``∂out/∂x = c1·Φ(x) + x̃·φ(x)`` and ``∂out/∂x̃ = Φ(x)``; where the
    outer function takes over (``ge_ditac`` below a, masked ``l_ditac`` outside [a, b]) the
    derivative is the outer one's and the tables get nothing.
    """
    if mode == 1:
        cdf, density = normal_cdf_and_density(x)
        return grad * (rise * cdf + (base + rise * x) * density), grad * cdf
    if mode == 2 or (mode == 3 and masked):
        if mode == 2:
            off = x < lo
            cdf, density = normal_cdf_and_density(x)
            outer_slope = cdf + x * density
        else:
            off = (x < lo) | (x > hi)
            outer_slope = torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, slope))
        return grad * torch.where(off, outer_slope, rise), torch.where(off, torch.zeros_like(grad), grad)
    return grad * rise, grad


def lookup_backward(
    grad: Tensor, x: Tensor, c0: Tensor, c1: Tensor, lo: float, hi: float, mode: int, slope: float,
    closed: bool, masked: bool, channel_dim: int, tables: bool,
) -> tuple[Tensor, ...]:
    """The gradients of :func:`lookup` for the output gradient ``grad``: ``(∂x,)``, and with
    ``tables`` also ``(∂c0, ∂c1)``: the form for graphs ``torch.compile`` captures (the tables
    packed as the kernels take them), where inductor fuses the weights into one loop and leaves
    :func:`sum_by_piece`'s scatter-add to ATen (the same sums as ``index_put`` with accumulate,
    which inductor makes one atomic add per input and table in the loop: 3× slower on CPU).
    """
    k, base, rise = locate(x, pack(c0, c1), lo, hi, closed, channel_dim)
    grad_x, weight = piece_gradient(grad, x, base, rise, lo, hi, mode, slope, masked)
    if not tables:
        return (grad_x,)
    index = k.reshape(-1).to(torch.int64)
    # Stacked, not packed: inductor warns that it has no code for complex operators.
    sums = sum_by_piece(torch.stack([weight, weight * x]).reshape(2, -1), index, c0.numel(), TRACED_THREADS)
    return grad_x, sums[0].view(c0.shape), sums[1].view(c1.shape)


# The thread count sum_by_piece plans for in traced graphs, which cannot ask torch for it (dynamo
# breaks the graph at torch.get_num_threads); more rows than threads cost little (a few
# thousand-entry tables more to add).
TRACED_THREADS = 8


def pack(first: Tensor, second: Tensor) -> Tensor:
    """Two tensors as the kernels take them: float32 ones as one int64 tensor whose entries hold
    both values bit for bit (``first`` in the low half); others stacked, ``[2, ...]``.

    Packed tables cost one gather per input instead of two: inductor's CPU gathers are scalar
    loads, and one 8-byte load in place of two 4-byte ones took the forward kernel from 1.6 to
    1.0 ms per million inputs (2-core x86 VM). Packed weights are one complex64 scatter-add per
    input in :func:`sum_by_piece` instead of two float32 ones.
    """
    if first.dtype != torch.float32:
        return torch.stack([first, second])
    low = first.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    return low | (second.view(torch.int32).to(torch.int64) << 32)


def pieces_at(tables: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
    """``(c0[k], c1[k])`` from tables :func:`pack` made (int64 truncates to the low half)."""
    if tables.dtype != torch.int64:
        return gather(tables[0], k), gather(tables[1], k)
    both = gather(tables, k)
    return both.to(torch.int32).view(torch.float32), (both >> 32).to(torch.int32).view(torch.float32)


def locate(x: Tensor, tables: Tensor, lo: float, hi: float, closed: bool, channel_dim: int) -> tuple[Tensor, ...]:
    """``(k, c0[k], c1[k])``: each input's piece (:func:`piece_index`) and its two values, from
    tables :func:`pack` made (``[n + 2]`` or ``[C, n + 2]``, packed or stacked)."""
    rows = tables if tables.dtype == torch.int64 else tables[0]
    channels = rows.shape[0] if rows.dim() == 2 else 0
    k = piece_index(x, lo, hi, rows.shape[-1] - 2, closed, channels, channel_dim)
    return (k, *pieces_at(tables, k))


def packed_lookup(
    x: Tensor, tables: Tensor, lo: float, hi: float, mode: int, slope: float, closed: bool, masked: bool,
    channel_dim: int,
) -> Tensor:
    """:func:`lookup` from tables :func:`pack` made (the kernels' and torch.compile's form; export
    and TorchScript keep :func:`lookup`, whose graph has no bit casts)."""
    _, base, rise = locate(x, tables, lo, hi, closed, channel_dim)
    return outer(x, base + rise * x, lo, hi, mode, slope, masked)


def sum_by_piece(weights: Tensor, index: Tensor, bins: int, threads: int | None = None) -> Tensor:
    """``[2, bins]``: ``weights`` summed by ``index`` ``[N]`` (int64, in ``[0, bins)``); ``weights``
    ``[2, N]``, or ``[N]`` float32 pairs :func:`pack` made (summed as complex64: the same sums).

    The inputs are cut into rows that ATen's scatter-add reduces in parallel, each into its own
    partial table (no atomics, no two threads writing one bin; the same sums bit for bit from run
    to run), and the partial tables are summed: four rows per thread (``threads``, default
    torch's), fewer where the partial tables would outgrow a quarter of the data.
    """
    index = index.reshape(-1)
    if weights.dtype != torch.int64:
        return _partial_sums(weights.reshape(2, -1), index, bins, threads)
    pairs = torch.view_as_real(_partial_sums(weights.reshape(-1).view(torch.complex64), index, bins, threads)).t()
    return pairs if sys.byteorder == "little" else pairs.flip(0)  # the real part is the low half


def _partial_sums(values: Tensor, index: Tensor, bins: int, threads: int | None) -> Tensor:
    """``values`` ``[..., N]`` summed by ``index`` into ``[..., bins]`` (see :func:`sum_by_piece`)."""
    total, lead = index.numel(), values.shape[:-1]
    rows = max(1, min(4 * (threads or torch.get_num_threads()), total // (4 * bins)))
    width = total // rows
    main = rows * width
    partial = values.new_zeros(*lead, rows, bins)
    shaped = index[:main].view(rows, width).expand(*lead, rows, width)
    sums = partial.scatter_add_(-1, shaped, values[..., :main].reshape(*lead, rows, width)).sum(-2)
    if main < total:  # fewer than ``rows`` inputs left over
        sums.scatter_add_(-1, index[main:].expand(*lead, total - main), values[..., main:])
    return sums


def kernel_function(
    kind: str, lo: float, hi: float, mode: int, slope: float, closed: bool, masked: bool
) -> Callable[..., Any]:
    """The pure function of one lookup kernel, channels along dim 1, tables as :func:`pack` makes
    them: what a kernel builder process compiles. ``kind``: ``forward`` (the output),
    ``backward`` (``(∂x,)``) or ``backward_weights`` (``(∂x, pack(w, w·x), k)``, k as int64: the
    per-piece sums are left to :func:`sum_by_piece`, a parallel reduction, where the same sums
    inside a loop would be one atomic add per input and table)."""

    def forward(x: Tensor, tables: Tensor) -> Tensor:
        return packed_lookup(x, tables, lo, hi, mode, slope, closed, masked, 1)

    def backward(g: Tensor, x: Tensor, tables: Tensor) -> tuple[Tensor, ...]:
        k, base, rise = locate(x, tables, lo, hi, closed, 1)
        grad_x, weight = piece_gradient(g, x, base, rise, lo, hi, mode, slope, masked)
        if kind == "backward":
            return (grad_x,)
        return grad_x, pack(weight, weight * x), k.to(torch.int64)

    return forward if kind == "forward" else backward
