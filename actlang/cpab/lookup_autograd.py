"""DiTAC's lookup under autograd: :class:`LookupFunction` runs the math of
:mod:`actlang.cpab.lookup` as TorchInductor kernels (:class:`actlang.kernels.Kernel`), one pass over
x forward and one over (g, x) backward; :class:`CapturedLookup` hands the same functions to an outer
``torch.compile``.

The backward kernel writes the input gradient and each input's weights in the tables' gradients;
:func:`actlang.cpab.lookup.sum_by_piece` sums those per piece with per-row partial tables, in
parallel and without atomic adds (one atomic add per input and table took 2–4× longer than the
whole kernel on CPU).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor

from actlang import kernels
from actlang.cpab import lookup

# The lookup's kernels serve every input size (one per variant, domain, table and dtype), and once
# built one kernel call beats the eager functions' twenty small ops at every size (8 inputs: 33
# against 63 µs; 1,000: 35 against 70 µs; 2-core x86 VM), so ``auto`` uses a built kernel for any
# input. Only inputs of kernels.MIN_NUMEL values and more ask for a build, though: small inputs
# alone (unit tests, toy models) never start a compiler.


def fuses(x: Tensor, fusion: str, tables: Tensor, spec: tuple) -> bool:
    """Whether :class:`LookupFunction` runs its inductor kernels for ``x`` (``tables``:
    ``lookup.pack(c0, c1)``; ``spec = (lo, hi, mode, slope, closed, masked, channel_dim)``) with the
    ``fuse`` mode ``fusion``: never for ``"off"``; always for ``"on"`` (an error without a
    compiler); for ``"auto"``, where a compiler exists (else one
    :class:`actlang.kernels.FusionWarning`), from :data:`actlang.kernels.MIN_NUMEL` inputs on, and
    for smaller inputs where the forward kernel is built already."""
    if fusion == "off":
        return False
    if fusion == "auto" and x.numel() < kernels.MIN_NUMEL:  # a built kernel only: no build, no warning
        flat = _flat(x, tables, spec[6], kernels.memory_order(x))
        return kernels.backend_available(x.device) and compiled(spec[:6])[0].built((flat, tables))
    return kernels.available(x.device, fusion)


def run_forward(x: Tensor, tables: Tensor, spec: tuple, fused: str) -> Tensor:
    """:func:`lookup.lookup` of ``x`` (``tables``: ``lookup.pack(c0, c1)``; ``spec = (lo, hi, mode,
    slope, closed, masked, channel_dim)``) through the forward kernel (``fused`` ``"on"``/``"auto"``)
    or its function in eager torch (``"off"``); without autograd: :class:`LookupFunction` and
    inference both call it."""
    run = _runner(compiled(spec[:6])[0], fused)
    order = kernels.memory_order(x)  # the result laid out as x (channels-last stays so)
    return kernels.unflat(run(_flat(x, tables, spec[6], order), tables), x.shape, order)


def forward_key(x: Tensor, tables: Tensor, spec: tuple) -> tuple | None:
    """The key under which the forward kernel for ``x`` is loaded (for :func:`run_loaded_forward`),
    or None where it is not loaded in this process (not built yet, or running as its function)."""
    kernel = compiled(spec[:6])[0]
    args = (_flat(x, tables, spec[6], kernels.memory_order(x)), tables)
    return kernel.key(args) if kernel.loaded(args) is not None else None


def run_loaded_forward(x: Tensor, tables: Tensor, spec: tuple, key: tuple) -> Tensor:
    """:func:`run_forward` through the forward kernel loaded under ``key`` (:func:`forward_key`),
    without the checks that found it: a module's repeated inference calls, where those checks
    cost more than the kernel on small inputs (a MobileNet at batch 1)."""
    kernel, order = compiled(spec[:6])[0], kernels.memory_order(x)
    y = kernel.run_loaded(kernel.runners[key], _flat(x, tables, spec[6], order), tables)
    return kernels.unflat(y, x.shape, order)


def kernel_calls(x: Tensor, tables: Tensor, spec: tuple, backward: bool, weights: bool) -> list[tuple]:
    """The kernels a call on ``x`` runs, each with arguments of the shapes it is keyed by (to build
    them together): the forward, and with ``backward`` the backward kernel, with the tables'
    weights where ``weights``."""
    flat = _flat(x, tables, spec[6], kernels.memory_order(x))
    forward, plain, with_weights = compiled(spec[:6])
    calls: list[tuple] = [(forward, (flat, tables))]
    if backward:
        calls.append((with_weights if weights else plain, (flat, flat, tables)))
    return calls


def _runner(kernel: kernels.Kernel, fused: str) -> Any:
    """How to call ``kernel`` in the mode ``fused``: compiled, waiting for a build (``"on"``) or
    not (``"auto"``), or its function in eager torch (``"off"``)."""
    return functools.partial(kernel, wait=fused == "on") if fused != "off" else kernel.function


def _flat(x: Tensor, tables: Tensor, channel_dim: int, order: tuple[int, ...] | None) -> Tensor:
    """x as the kernels take it: channels along ``channel_dim`` where the tables (``c0``, or
    :func:`lookup.pack`'s) have one row per channel, dimensions in ``order``
    (:func:`actlang.kernels.flat`)."""
    per_channel = tables.dim() == (2 if tables.dtype == torch.int64 else 3)  # packed, or stacked [2, ...]
    return kernels.flat(x, channel_dim if per_channel else None, order)


_KERNELS: dict[tuple, tuple[kernels.Kernel, kernels.Kernel, kernels.Kernel]] = {}
_KINDS = ("forward", "backward", "backward_weights")


def compiled(spec: tuple) -> tuple[kernels.Kernel, kernels.Kernel, kernels.Kernel]:
    """The forward kernel and the backward kernels (without and with the tables' weights) of
    ``spec = (lo, hi, mode, slope, closed, masked)``; they take x as :func:`kernels.flat` gives it
    (1-D, or ``(outer, C, inner)``: the channels along dim 1)."""
    found = _KERNELS.get(spec)
    if found is None:
        lo, hi, mode = spec[:3]
        label = f"the {('cpab', 'ditac', 'ge_ditac', 'l_ditac', 'inf_ditac')[mode]}[a={lo:g}, b={hi:g}] lookup"
        words = {"forward": "forward", "backward": "input-gradient", "backward_weights": "backward"}
        recipes = {kind: ("actlang.cpab.lookup:kernel_function", (kind, *spec)) for kind in _KINDS}
        found = tuple(  # type: ignore[assignment]
            kernels.Kernel(recipes[kind], f"lookup_{kind}", f"{label} {words[kind]} kernel",
                           like=1 if kind == "forward" else 2, single=kind == "forward")
            for kind in _KINDS
        )
        _KERNELS[spec] = found
    return found


class LookupFunction(torch.autograd.Function):
    """:func:`lookup` whose backward is the backward kernel of :func:`lookup.kernel_function` and
    :func:`lookup.sum_by_piece`; ``fused``: through the inductor kernels of :func:`compiled` (else the
    same functions in eager torch). ``tables``: ``lookup.pack(c0, c1)``, what the kernels take.

    Saves only x and the small tables; backward finds the pieces again (a saved index would be one
    more full-size tensor). A backward that must itself be differentiable (double backward) runs
    autograd through :func:`lookup`.
    """

    @staticmethod
    def forward(ctx, x, c0, c1, tables, lo, hi, mode, slope, closed, masked, channel_dim, fused="off"):  # type: ignore[override]
        ctx.spec = (lo, hi, mode, slope, closed, masked, channel_dim)
        ctx.fused = fused
        ctx.order = kernels.memory_order(x)  # g is read, and ∂x written, in x's layout
        ctx.save_for_backward(x, c0, c1, tables)  # x as given: double backward differentiates through it
        return run_forward(x, tables, ctx.spec, fused)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, c0, c1, tables = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: differentiate the plain ops, graph kept
            return (*_differentiable_backward(ctx, x, c0, c1, grad)[:3], *[None] * 9)
        sums_wanted = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        run = _runner(compiled(ctx.spec[:6])[2 if sums_wanted else 1], ctx.fused)
        flat_grad, flat_x = (_flat(t, tables, ctx.spec[6], ctx.order) for t in (grad, x))
        if not sums_wanted:
            grad_x = run(flat_grad, flat_x, tables)[0] if ctx.needs_input_grad[0] else None
            return (None if grad_x is None else kernels.unflat(grad_x, x.shape, ctx.order)), *[None] * 11
        found, sums = _blocked_backward(run, flat_grad, flat_x, tables, c0.numel())
        grad_x = kernels.unflat(found, x.shape, ctx.order) if ctx.needs_input_grad[0] else None
        grad_c0 = sums[0].reshape(c0.shape) if ctx.needs_input_grad[1] else None
        grad_c1 = sums[1].reshape(c1.shape) if ctx.needs_input_grad[2] else None
        return grad_x, grad_c0, grad_c1, *[None] * 9


# On the CPU the backward's temporaries (each input's packed weights and int64 piece: 16 bytes a
# value) are made and summed a block of inputs at a time, so that they stay in the caches instead
# of going out to memory and back: at 16M float32 inputs the backward kernel and the sums took
# 164–178 ms in one piece and 69–79 ms in blocks of 1M values (2-core x86 VM); blocks of 256K cost
# more than they saved at 1M. Inputs of one block or less run as one piece, as on a GPU.
BLOCK = 1 << 20


def _blocked_backward(run: Any, grad: Tensor, x: Tensor, tables: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    """``(∂x, [∂c0, ∂c1] flat)`` from the backward kernel ``run`` (``grad``, ``x`` as :func:`_flat`
    gives them), in blocks of about :data:`BLOCK` values along dim 0 on the CPU."""
    step = max(1, BLOCK // max(1, math.prod(x.shape[1:])))  # whole rows of (channels, inner)
    if x.device.type != "cpu" or x.numel() <= BLOCK or step >= x.shape[0]:
        found = run(grad, x, tables)
        return found[0], lookup.sum_by_piece(found[1], found[2], bins)
    grad_x, sums = torch.empty_like(x), None
    for start in range(0, x.shape[0], step):
        block = slice(start, start + step)
        found = run(grad[block], x[block], tables)
        grad_x[block].copy_(found[0])
        part = lookup.sum_by_piece(found[1], found[2], bins)
        sums = part if sums is None else sums.add_(part)
    return grad_x, sums


class CapturedLookup(torch.autograd.Function):
    """:func:`lookup` (as :func:`lookup.packed_lookup`, one gather per input) with
    :func:`lookup.lookup_backward` as its backward, for graphs torch.compile captures: dynamo
    traces both into the graph, and inductor fuses each into one loop (autograd's
    own backward of the gathers would be ATen's serial scatter, outside any loop)."""

    @staticmethod
    def forward(ctx, x, c0, c1, lo, hi, mode, slope, closed, masked, channel_dim):  # type: ignore[override]
        ctx.spec = (lo, hi, mode, slope, closed, masked, channel_dim)
        ctx.save_for_backward(x, c0, c1)
        return lookup.packed_lookup(x, lookup.pack(c0, c1), lo, hi, mode, slope, closed, masked, channel_dim)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, c0, c1 = ctx.saved_tensors
        tables = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        found = lookup.lookup_backward(grad, x, c0, c1, *ctx.spec, tables)
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
        out = lookup.lookup(inputs[0], inputs[1], inputs[2], lo, hi, mode, slope, closed, masked, channel_dim)
        wanted = [t for t, need in zip(inputs, needs, strict=True) if need]
        found = iter(torch.autograd.grad(out, wanted, grad, create_graph=True, allow_unused=True))
    grads = [next(found) if need else None for need in needs]
    grads = [torch.zeros_like(t) if n and g is None else g for t, g, n in zip(inputs, grads, needs, strict=True)]
    return (*grads, None, None, None, None, None, None, None, None)
