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

:func:`lookup` is the forward and :func:`lookup_backward` its gradients, both in plain torch ops:
``∂out/∂x`` uses the piece's slope ``c1``, and the gradient w.r.t. the tables is the per-input
weight ``w = g·∂out/∂x̃`` (and ``w·x`` for ``c1``) summed into the ``n + 2`` pieces per channel.
:class:`LookupFunction` runs them as two TorchInductor kernels (:class:`actlang.kernels.Kernel`):
one pass over x forward (index, two gathers, the interpolation and the outer function), one pass
over (g, x) backward (the input gradient, with the table sums as atomic adds into the small
tables). It saves only x and the tables. Autograd carries the tables' gradients back through
their closed-form computation to θ, so no ``[N, dim θ]`` tensor is ever formed. Below
``MIN_NUMEL`` inputs, or without a compiler, the same two functions run in eager torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from actlang import kernels

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


def piece_index(x: Tensor, lo: float, hi: float, n: int, closed: bool, channels: int, channel_dim: int) -> Tensor:
    """Flat int32 index ``k + (n + 2)·channel`` of each input's piece (``closed``: b reads the
    last interval, as it must when T(b) ≠ b; otherwise b reads the identity above it, same value)."""
    scale = n / (hi - lo)
    # NaN inputs read piece 0 (and stay NaN); ±inf read the outer pieces. Once clamped to
    # [0, n + 1], the conversion's truncation is floor: no separate floor pass.
    u = torch.clamp(x * scale + (1.0 - lo * scale), 0.0, float(n + 1)).nan_to_num(0.0)
    k = u.to(torch.int32)
    if closed:
        k = k - (x == hi).to(torch.int32)
    if channels > 0:
        shape = [1] * x.dim()
        shape[channel_dim] = channels
        k = k + (torch.arange(channels, dtype=torch.int32, device=x.device) * (n + 2)).view(shape)
    return k


def normal_cdf(x: Tensor) -> Tensor:
    """Φ(x) = erfc(−x/√2)/2: no cancellation in the lower tail, where (1 + erf(x/√2))/2 is
    1 − 1 = 0 below x ≈ −8.5 (float64) while Φ(−10) = 7.6e−24.

    In code that TorchInductor compiles (the lookup's kernels, a ``torch.compile``d model) and
    below float64, erfc(|z|) comes from :func:`erfc_float32` instead (an exponential and a
    polynomial, which inductor vectorises; its own erfc is a scalar loop, 3.5× slower per value),
    with erfc(z) = 2 − erfc(|z|) for z < 0. Eager code keeps ATen's erfc: one vectorised kernel,
    where the polynomial would be a dozen passes over the data.
    """
    if torch.jit.is_scripting() or x.dtype == torch.float64:
        return torch.special.erfc(x * -0.7071067811865476).mul_(0.5)  # 1/√2 (a literal for TorchScript)
    return _compiled_normal_cdf(x)


@torch.jit.unused
def _compiled_normal_cdf(x: Tensor) -> Tensor:
    z = x.float() * -0.7071067811865476  # float16/bfloat16: computed in float32 (their z loses the tail)
    if not torch.compiler.is_compiling():
        return torch.special.erfc(z).mul_(0.5).to(x.dtype)
    half = erfc_float32(torch.abs(z)) * 0.5
    return torch.where(z >= 0, half, 1.0 - half).to(x.dtype)


def erfc_float32(z: Tensor) -> Tensor:
    """erfc(z) for z ≥ 0 within a relative 1.2e-7 (about one float32 ulp): with t = 1/(1 + z/2),
    erfc(z) ≈ t·exp(−z² + P(t)), P the degree-9 polynomial of Numerical Recipes' ``erfcc``
    (Chebyshev fit). Underflows to 0 past z ≈ 9.2, as float32's erfc does."""
    t = 1.0 / (1.0 + 0.5 * z)
    poly = torch.full_like(z, 0.17087277)
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368,
              -1.26551223):  # fmt: skip
        poly = poly * t + c
    return t * torch.exp(poly - z * z)


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


def lookup_backward(
    grad: Tensor, x: Tensor, c0: Tensor, c1: Tensor, lo: float, hi: float, mode: int, slope: float,
    closed: bool, masked: bool, channel_dim: int, tables: bool,
) -> tuple[Tensor, ...]:
    """The gradients of :func:`lookup` for the output gradient ``grad``: ``(∂x,)``, and with
    ``tables`` also ``(∂c0, ∂c1)`` (the sums of ``w = grad·∂out/∂x̃`` and of ``w·x`` per piece).

    ditac: ``out = x̃·Φ(x)``, so ``∂out/∂x = c1·Φ(x) + x̃·φ(x)`` and ``∂out/∂x̃ = Φ(x)``; where the
    outer function takes over (``ge_ditac`` below a, masked ``l_ditac`` outside [a, b]) the
    derivative is the outer one's and the tables get nothing.
    """
    n = c0.shape[-1] - 2
    channels = c0.shape[0] if c0.dim() == 2 else 0
    k = piece_index(x, lo, hi, n, closed, channels, channel_dim)
    rise = gather(c1, k)
    if mode == 1:
        cdf = normal_cdf(x)
        density = torch.exp(x * x * -0.5) * _INV_SQRT_2PI
        grad_x = grad * (rise * cdf + (gather(c0, k) + rise * x) * density)
        weight = grad * cdf
    elif mode == 2 or (mode == 3 and masked):
        if mode == 2:
            off = x < lo
            outer = normal_cdf(x) + x * torch.exp(x * x * -0.5) * _INV_SQRT_2PI
        else:
            off = (x < lo) | (x > hi)
            outer = torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, slope))
        grad_x = grad * torch.where(off, outer, rise)
        weight = torch.where(off, torch.zeros_like(grad), grad)
    else:
        grad_x = grad * rise
        weight = grad
    if not tables:
        return (grad_x,)
    index = k.reshape(-1).to(torch.int64)
    sums = [weight.reshape(-1), (weight * x).reshape(-1)]
    zeros = [torch.zeros_like(c0).reshape(-1), torch.zeros_like(c1).reshape(-1)]
    if torch.compiler.is_compiling():
        # TorchInductor lowers index_put with accumulate to atomic adds inside the same loop
        # (scatter_add would leave the loop for ATen's serial scatter_reduce).
        found = [z.index_put_((index,), v, accumulate=True) for z, v in zip(zeros, sums, strict=True)]
    else:  # eager: ATen's scatter_add, several times faster than index_put with accumulate
        found = [z.scatter_add_(0, index, v) for z, v in zip(zeros, sums, strict=True)]
    return grad_x, found[0].view(c0.shape), found[1].view(c1.shape)


def fuses(x: Tensor, fusion: str) -> bool:
    """Whether :class:`LookupFunction` runs its inductor kernels for ``x`` with the ``fuse`` mode
    ``fusion``: never for ``"off"``; always for ``"on"`` (an error without a compiler); for
    ``"auto"`` from :data:`actlang.kernels.MIN_NUMEL` inputs on, where a compiler exists (else
    one :class:`actlang.kernels.FusionWarning`)."""
    if fusion == "off" or (fusion == "auto" and x.numel() < kernels.MIN_NUMEL):
        return False
    return kernels.available(x.device, fusion)


_KERNELS: dict[tuple, tuple[kernels.Kernel, kernels.Kernel, kernels.Kernel]] = {}
_KINDS = ("forward", "backward", "backward_tables")


def compiled(spec: tuple) -> tuple[kernels.Kernel, kernels.Kernel, kernels.Kernel]:
    """The forward kernel and the backward kernels (without and with the tables' gradients) of
    ``spec = (lo, hi, mode, slope, closed, masked)``; they take x as :func:`kernels.flat` gives it
    (1-D, or ``(outer, C, inner)``: the channels along dim 1)."""
    found = _KERNELS.get(spec)
    if found is None:
        lo, hi, mode = spec[:3]
        label = f"the {('cpab', 'ditac', 'ge_ditac', 'l_ditac', 'inf_ditac')[mode]}[a={lo:g}, b={hi:g}] lookup"
        words = {"forward": "forward", "backward": "input-gradient", "backward_tables": "backward"}
        recipes = {kind: ("actlang.cpab.lookup:kernel_function", (kind, *spec)) for kind in _KINDS}
        found = tuple(  # type: ignore[assignment]
            kernels.Kernel(recipes[kind], f"lookup_{kind}", f"{label} {words[kind]} kernel",
                           like=1 if kind == "forward" else 2, single=kind == "forward")
            for kind in _KINDS
        )
        _KERNELS[spec] = found
    return found


def kernel_function(
    kind: str, lo: float, hi: float, mode: int, slope: float, closed: bool, masked: bool
) -> Callable[..., Any]:
    """The pure function of one lookup kernel (``kind``: ``forward``, ``backward`` or
    ``backward_tables``), channels along dim 1: what a kernel builder process compiles."""
    if kind == "forward":

        def forward(x: Tensor, c0: Tensor, c1: Tensor) -> Tensor:
            return lookup(x, c0, c1, lo, hi, mode, slope, closed, masked, 1)

        return forward
    tables = kind == "backward_tables"

    def backward(g: Tensor, x: Tensor, c0: Tensor, c1: Tensor) -> tuple[Tensor, ...]:
        return lookup_backward(g, x, c0, c1, lo, hi, mode, slope, closed, masked, 1, tables)

    return backward


class LookupFunction(torch.autograd.Function):
    """:func:`lookup` with :func:`lookup_backward` as its backward; ``fused``: through the inductor
    kernels of :func:`compiled` (else the same functions in eager torch).

    Saves only x and the small tables; backward finds the pieces again (a saved index would be one
    more full-size tensor). A backward that must itself be differentiable (double backward) runs
    autograd through :func:`lookup`.
    """

    @staticmethod
    def forward(ctx, x, c0, c1, lo, hi, mode, slope, closed, masked, channel_dim, fused="off"):  # type: ignore[override]
        ctx.spec = (lo, hi, mode, slope, closed, masked, channel_dim)
        ctx.fused = fused
        ctx.save_for_backward(x, c0, c1)  # x as given: double backward differentiates through it
        kernel = compiled(ctx.spec[:6])[0]
        run = functools.partial(kernel, wait=fused == "on") if fused != "off" else kernel.function
        return run(kernels.flat(x, channel_dim if c0.dim() == 2 else None), c0, c1).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, c0, c1 = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: differentiate the plain ops, graph kept
            return _differentiable_backward(ctx, x, c0, c1, grad)
        channel_dim = ctx.spec[6] if c0.dim() == 2 else None
        tables = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        kernel = compiled(ctx.spec[:6])[2 if tables else 1]
        run = functools.partial(kernel, wait=ctx.fused == "on") if ctx.fused != "off" else kernel.function
        found = run(kernels.flat(grad, channel_dim), kernels.flat(x, channel_dim), c0, c1)
        grad_x = found[0].reshape(x.shape) if ctx.needs_input_grad[0] else None
        grad_c0 = found[1] if tables and ctx.needs_input_grad[1] else None
        grad_c1 = found[2] if tables and ctx.needs_input_grad[2] else None
        return grad_x, grad_c0, grad_c1, None, None, None, None, None, None, None, None


class CapturedLookup(torch.autograd.Function):
    """:func:`lookup` with :func:`lookup_backward` as its backward, for graphs torch.compile
    captures: dynamo traces both into the graph, and inductor fuses each into one loop (autograd's
    own backward of the gathers would be ATen's serial scatter, outside any loop)."""

    @staticmethod
    def forward(ctx, x, c0, c1, lo, hi, mode, slope, closed, masked, channel_dim):  # type: ignore[override]
        ctx.spec = (lo, hi, mode, slope, closed, masked, channel_dim)
        ctx.save_for_backward(x, c0, c1)
        return lookup(x, c0, c1, lo, hi, mode, slope, closed, masked, channel_dim)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, c0, c1 = ctx.saved_tensors
        tables = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        found = lookup_backward(grad, x, c0, c1, *ctx.spec, tables)
        grad_c0, grad_c1 = found[1:] if tables else (None, None)
        return found[0], grad_c0, grad_c1, None, None, None, None, None, None, None


def _differentiable_backward(ctx: Any, x: Tensor, c0: Tensor, c1: Tensor, grad: Tensor) -> tuple:
    """The gradients as differentiable functions of x, the tables and ``grad`` (for double
    backward): autograd through :func:`lookup`, whose values equal the kernels'."""
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
    return (*grads, None, None, None, None, None, None, None, None)
