"""θ → the lookup path's affine pieces ``(c0, c1)`` in one step, numpy inside (training's table).

The same values as the torch path — ``pieces(table(θ))``: the field ``B·θ``, T^θ at the
``grid + 1`` nodes (:func:`~actlang.cpab.nodes.flow_with_partials`), the displacements, the
pieces — without some thirty small autograd-recorded torch operations per step. The backward
is their vector-Jacobian product in closed form: the pieces' (linear) transpose, the flow's
field gradient (:func:`~actlang.cpab.nodes.field_gradient`), then ``Bᵀ``. A backward that must
itself be differentiable (double backward w.r.t. θ) runs autograd through the torch path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from actlang.cpab.flow_kernel import flow_with_kernel
from actlang.cpab.nodes import field_gradient, flow_with_partials


def pieces_numpy(displacement: np.ndarray, lo: float, hi: float, mode: int, slope: float):
    """``(c0, c1)`` ``[K, n + 2]`` from the displacements ``[K, n + 1]``, as ``lookup.pieces``."""
    n = displacement.shape[-1] - 1
    scale = n / (hi - lo)
    nodes = np.linspace(lo, hi, n + 1)[:-1]
    rise = (displacement[:, 1:] - displacement[:, :-1]) * scale
    c1 = 1.0 + rise
    c0 = displacement[:, :-1] - rise * nodes
    if mode == 4:  # inf_ditac: continue the end pieces
        return np.concatenate([c0[:, :1], c0, c0[:, -1:]], -1), np.concatenate([c1[:, :1], c1, c1[:, -1:]], -1)
    left = slope if mode == 3 and lo <= 0.0 else 1.0
    column = np.ones((c0.shape[0], 1))
    return np.concatenate([0 * column, c0, 0 * column], -1), np.concatenate([left * column, c1, column], -1)


def pieces_transpose(grad_c0: np.ndarray, grad_c1: np.ndarray, lo: float, hi: float, mode: int) -> np.ndarray:
    """The gradient w.r.t. the displacements, given the pieces' gradients (the linear map's
    transpose)."""
    inner0, inner1 = grad_c0[:, 1:-1].copy(), grad_c1[:, 1:-1].copy()
    if mode == 4:  # the end pieces are copies of the first and last inner ones
        inner0[:, 0] += grad_c0[:, 0]
        inner0[:, -1] += grad_c0[:, -1]
        inner1[:, 0] += grad_c1[:, 0]
        inner1[:, -1] += grad_c1[:, -1]
    n = inner0.shape[-1]
    scale = n / (hi - lo)
    nodes = np.linspace(lo, hi, n + 1)[:-1]
    grad_rise = (inner1 - inner0 * nodes) * scale
    grad = np.zeros((inner0.shape[0], n + 1))
    grad[:, :-1] += inner0 - grad_rise
    grad[:, 1:] += grad_rise
    return grad


def table_forward(theta: np.ndarray, spec: tuple, flow: str = "off"):
    """``(c0, c1, steps, end_speed, shape)`` of θ rows ``[K, dim θ]`` (numpy): the pieces and what
    their backward needs (the flow's per-step partials). ``flow``: whether the flow runs as the
    step kernel (:mod:`actlang.cpab.flow_kernel`'s modes) or in numpy."""
    basis, lo, hi, grid, mode, slope, bounded = spec
    rows = theta.reshape(-1, basis.shape[1])
    pairs = (rows @ basis.T).reshape(rows.shape[0], -1, 2)
    nodes = np.broadcast_to(np.linspace(0.0, 1.0, grid + 1), (rows.shape[0], grid + 1))
    slopes, intercepts = np.ascontiguousarray(pairs[..., 0]), np.ascontiguousarray(pairs[..., 1])
    found = flow_with_kernel(nodes, slopes, intercepts, 1.0, bounded, flow)
    psi, end_speed, steps = found or flow_with_partials(nodes, slopes, intercepts, 1.0, bounded)
    # A field of float64's size (θ near its max) sends ψ to ±inf: the pieces are then inf/NaN, as
    # the math gives, without numpy's warning escaping a forward pass.
    with np.errstate(over="ignore", invalid="ignore"):
        c0, c1 = pieces_numpy((hi - lo) * (psi - nodes), lo, hi, mode, slope)
    return c0, c1, steps, end_speed, pairs.shape[:2]


def table_backward(grad_c0: np.ndarray, grad_c1: np.ndarray, spec: tuple, steps, end_speed, shape) -> np.ndarray:
    """The gradient w.r.t. θ rows ``[K, dim θ]`` of the pieces' gradients (the transpose of each
    stage: the pieces, the flow at the nodes, the basis)."""
    basis, lo, hi, _, mode, _, _ = spec
    g0, g1 = grad_c0.reshape(shape[0], -1), grad_c1.reshape(shape[0], -1)
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN pieces' gradients, as in the forward
        weight = (hi - lo) * pieces_transpose(g0, g1, lo, hi, mode)  # ∂/∂ψ at the nodes
    grad_a, grad_b = field_gradient(steps, end_speed, weight, shape)
    return np.stack([grad_a, grad_b], -1).reshape(shape[0], -1) @ basis


class TablePieces(torch.autograd.Function):
    """``(c0, c1)`` in ``dtype`` from θ (``[dim θ]`` or ``[C, dim θ]``).

    ``spec``: ``(basis [2·nc, dim θ] float64, lo, hi, grid, mode, slope, zero_boundary)``;
    ``torch_path(θ) -> (c0, c1)``: the same in differentiable torch ops, for double backward;
    ``flow``: the flow kernel's mode (:mod:`actlang.cpab.flow_kernel`).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, theta: Tensor, spec: tuple, dtype: torch.dtype, torch_path: Callable, flow: str = "off"
    ) -> tuple[Tensor, Tensor]:
        c0, c1, steps, end_speed, shape = table_forward(theta.detach().to("cpu", torch.float64).numpy(), spec, flow)
        ctx.save_for_backward(theta)
        ctx.kept = (spec, steps, end_speed, shape, torch_path)
        return tuple(torch.from_numpy(c).to(theta.device, dtype) for c in (c0, c1))

    @staticmethod
    def backward(ctx, grad_c0: Tensor, grad_c1: Tensor):  # type: ignore[override]
        (theta,) = ctx.saved_tensors
        spec, steps, end_speed, shape, torch_path = ctx.kept
        if torch.is_grad_enabled():  # create_graph: autograd through the torch path, graph kept
            with torch.enable_grad():
                leaf = theta if theta.requires_grad else theta.detach().requires_grad_()
                (grad,) = torch.autograd.grad(torch_path(leaf), leaf, (grad_c0, grad_c1), create_graph=True)
            return grad, None, None, None, None
        g0, g1 = (g.detach().to("cpu", torch.float64).numpy() for g in (grad_c0, grad_c1))
        grad_rows = table_backward(g0, g1, spec, steps, end_speed, shape)
        return torch.from_numpy(grad_rows.reshape(theta.shape)).to(theta.device, theta.dtype), None, None, None, None


# --- one opaque op for torch.compile ----------------------------------------------------------
# Traced by dynamo, the torch path (the closed-form flow: a fixed loop over the cells at every
# node) becomes a graph of thousands of small ops: 47 s to compile a model with DiTAC, and no
# faster. As a custom op with a fake (shape-only) implementation and a closed-form backward, the
# whole θ → (c0, c1) step is one node that dynamo and AOTAutograd do not look into; inductor
# compiles only the pointwise lookup around it.


def _spec(basis: Tensor, lo: float, hi: float, grid: int, mode: int, slope: float, bounded: bool) -> tuple:
    return (basis.detach().to("cpu", torch.float64).numpy(), lo, hi, grid, mode, slope, bounded)


# The flow's per-step partials (numpy, not tensors) from a forward that will be differentiated,
# under the handle its backward receives; at most KEPT of them (a forward whose backward never
# runs must not hold memory for ever: an evicted one is recomputed by its backward).
KEPT = 32
_partials: dict[int, tuple] = {}
_handles = itertools.count(1)


def _keep(found: tuple) -> int:
    handle = next(_handles)
    _partials[handle] = found
    while len(_partials) > KEPT:
        del _partials[next(iter(_partials))]
    return handle


@torch.library.custom_op("actlang::cpab_pieces", mutates_args=())
def compiled_pieces(
    theta: Tensor, basis: Tensor, lo: float, hi: float, grid: int, mode: int, slope: float, bounded: bool,
    dtype: torch.dtype, keep: bool, flow: str = "off",
) -> tuple[Tensor, Tensor, Tensor]:
    """``(c0, c1, handle)``: the pieces, each ``[K, grid + 2]`` in ``dtype``, of θ rows (``[dim θ]``
    or ``[K, dim θ]``), and (``keep``: a gradient will be wanted) the int64 handle under which the
    backward finds the flow's partials (0: none kept); ``flow``: the flow kernel's mode."""
    spec = _spec(basis, lo, hi, grid, mode, slope, bounded)
    c0, c1, steps, end_speed, shape = table_forward(theta.detach().to("cpu", torch.float64).numpy(), spec, flow)
    handle = _keep((steps, end_speed, shape)) if keep else 0
    c0, c1 = (torch.from_numpy(c).to(theta.device, dtype) for c in (c0, c1))
    return c0, c1, torch.tensor(handle, dtype=torch.int64)


@compiled_pieces.register_fake
def _(theta, basis, lo, hi, grid, mode, slope, bounded, dtype, keep, flow="off"):
    rows = theta.shape[0] if theta.dim() == 2 else 1
    pieces = [theta.new_empty((rows, grid + 2), dtype=dtype) for _ in range(2)]
    return pieces[0], pieces[1], torch.empty((), dtype=torch.int64)


@torch.library.custom_op("actlang::cpab_pieces_backward", mutates_args=())
def compiled_pieces_backward(
    grad_c0: Tensor, grad_c1: Tensor, handle: Tensor, theta: Tensor, basis: Tensor, lo: float, hi: float,
    grid: int, mode: int, slope: float, bounded: bool,
) -> Tensor:
    """θ's gradient given the pieces': with the forward's partials when it kept them under
    ``handle``, else recomputed."""
    spec = _spec(basis, lo, hi, grid, mode, slope, bounded)
    found = _partials.pop(int(handle), None)
    if found is None:
        _, _, *found = table_forward(theta.detach().to("cpu", torch.float64).numpy(), spec)
    g0, g1 = (g.detach().to("cpu", torch.float64).numpy() for g in (grad_c0, grad_c1))
    grad_rows = table_backward(g0, g1, spec, *found)
    return torch.from_numpy(grad_rows.reshape(theta.shape)).to(theta.device, theta.dtype)


@compiled_pieces_backward.register_fake
def _(grad_c0, grad_c1, handle, theta, basis, lo, hi, grid, mode, slope, bounded):
    return torch.empty_like(theta)


def _setup(ctx, inputs, output) -> None:
    ctx.save_for_backward(inputs[0], inputs[1], output[2])
    ctx.spec = inputs[2:8]


def _backward(ctx, grad_c0: Tensor, grad_c1: Tensor, _: Tensor) -> tuple:
    theta, basis, handle = ctx.saved_tensors
    grad = compiled_pieces_backward(grad_c0, grad_c1, handle, theta, basis, *ctx.spec)
    return grad, None, None, None, None, None, None, None, None, None, None


compiled_pieces.register_autograd(_backward, setup_context=_setup)
