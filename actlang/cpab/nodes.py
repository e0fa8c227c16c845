"""The flow at fixed points (the lookup table's nodes) with an analytic gradient w.r.t. the field.

:func:`~actlang.cpab.integrate.integrate` differentiated by autograd records some 45 small
operations per cell crossing, and on the 2,049 nodes of a table every one of them is pure
dispatch overhead: the table cost more per training step than a million-element activation pass.
:class:`NodeFlow` runs the same closed-form steps in numpy (a call costs a fraction of a torch
call at this size), without a graph, and keeps per step the partial derivatives its backward
needs, which are closed forms too (for the lanes still moving only: most stop in their first
cell, and a finished lane's later steps would be the identity: at 2,049 nodes and a prior-like
field the flow went from 2.55 ms to 1.33 ms on a 2-core x86 VM).

A point that crosses cells ``c_0, …, c_{m−1}`` (spending ``t_i`` in each) and then flows for the
time left ``τ = t − Σ t_i`` inside cell ``c_m`` from its entry point ``x_m`` ends at
``T = x_m + v_m·τ·E(a·τ)`` (``v_m = a·x_m + b`` in that cell, ``E(z) = expm1(z)/z``). The nodes
and the cell edges are constants, so

    dT/d(a_c, b_c) = ∂T/∂(a, b) [c = c_m]  −  v(T) · Σ_i ∂t_i/∂(a, b) [c = c_i]

with ``v(T) = v_m·e^{a·τ}`` and, for the final flow,
``∂T/∂b = τ·E(aτ)``, ``∂T/∂a = x_m·τ·E(aτ) + v_m·τ²·E′(aτ)``; for a crossing from x to the edge
e (``v``, ``v_e`` the speeds there, ``d = e − x``, ``r = a·d/v``), ``t = ∫_x^e dy/(a·y + b)`` gives
``∂t/∂b = −d/(v·v_e)`` and ``∂t/∂a = −x·d/(v·v_e) − (d/v)²·h(r)`` with
``h(r) = ∫_0^1 σ/(1 + rσ)² dσ = (log1p(r) − r/(1 + r))/r²``. The backward is one ``bincount``
per step and parameter. Tests compare values and gradients with autograd through ``integrate``
(to 1e-13 and 1e-9) and run gradcheck. TorchScript and graph capture use ``integrate`` itself.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from actlang import inductor_math


def expm1_ratio(z: Any, xp: Any = np) -> Any:
    """``E(z) = expm1(z)/z``, ``E(0) = 1`` (series below |z| = 1e-5, as in ``integrate``).
    ``xp``: the array module, numpy or torch (the flow kernel's function)."""
    small = xp.abs(z) < 1e-5
    safe = xp.where(small, 1.0, z)
    expm1 = np.expm1 if xp is np else inductor_math.expm1  # inductor's own expm1 is exp − 1
    return xp.where(small, 1.0 + z * (0.5 + z / 6.0), expm1(safe) / safe)


def log1p_ratio(r: Any, xp: Any = np) -> Any:
    """``log1p(r)/r``, 1 at ``r = 0`` (series below |r| = 1e-5, as in ``integrate``)."""
    small = xp.abs(r) < 1e-5
    safe = xp.where(small, 1.0, r)
    return xp.where(small, 1.0 - r * (0.5 - r / 3.0), xp.log1p(safe) / safe)


def expm1_ratio_slope(z: Any, xp: Any = np) -> Any:
    """``E′(z) = ((z − 1)·e^z + 1)/z²`` with ``E′(0) = 1/2``: a series below |z| = 0.01, where the
    closed form cancels (the series' next term is below 3e-16 there)."""
    small = xp.abs(z) < 1e-2
    safe = xp.where(small, 1.0, z)
    series = 0.5 + z * (1.0 / 3.0 + z * (1.0 / 8.0 + z * (1.0 / 30.0 + z * (1.0 / 144.0 + z / 840.0))))
    return xp.where(small, series, ((safe - 1.0) * xp.exp(safe) + 1.0) / (safe * safe))


def crossing_weight(r: Any, xp: Any = np) -> Any:
    """``h(r) = (log1p(r) − r/(1 + r))/r²`` for r > −1, ``h(0) = 1/2`` (series below 1e-3)."""
    small = xp.abs(r) < 1e-3
    safe = xp.where(small, 1.0, r)
    series = 0.5 - r * (2.0 / 3.0 - r * (0.75 - r * 0.8))
    return xp.where(small, series, (xp.log1p(safe) - safe / (1.0 + safe)) / (safe * safe))


def flow_with_partials(u: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray, t: float, bounded: bool):
    """``(ψ, v(ψ), steps)``: the flow from ``u`` ``[K, P]`` for time t, the speed where it ends,
    and per step ``(lanes, flat cell index, ∂/∂a, ∂/∂b of the final flow, ∂t/∂a, ∂t/∂b of the
    crossing)`` for the lanes (flat indices into ``[K, P]``) still moving at that step: each has
    one or neither per step. Same steps, values and clamps as ``integrate``; a lane whose time is
    spent leaves the arrays (in ``integrate`` its later steps are the identity with zero
    partials), so a step costs in proportion to the lanes still crossing cells."""
    nc = slopes.shape[-1]
    field_a, field_b = slopes.reshape(-1), intercepts.reshape(-1)
    found = np.array(u, dtype=np.float64).reshape(-1)  # ψ, written back lane by lane
    end_speed = np.zeros(found.shape)
    lanes = np.arange(found.size)
    base = (lanes // u.shape[-1]) * nc  # where each lane's row of cells starts
    x = found.copy()
    c = np.clip(np.floor(x * nc), 0, nc - 1).astype(np.int64)
    left = np.full(found.shape, float(t))
    steps = []
    with np.errstate(all="ignore"):
        for _ in range(nc):
            moving = left > 0
            if not moving.all():
                if not moving.any():
                    break
                lanes, base, x, c, left = lanes[moving], base[moving], x[moving], c[moving], left[moving]
            cell = base + c
            moved = step(x, c, left, field_a[cell], field_b[cell], nc, bounded)
            stops = ~moved.cross
            end_speed[lanes[stops]] = moved.speed[stops]
            steps.append((lanes, cell, *moved.partials))
            x = np.where(moved.cross, moved.edge, moved.psi)
            found[lanes] = x
            left = np.where(moved.cross, left - moved.hit_time, 0.0)
            c = np.where(moved.cross, c + np.where(moved.rightward, 1, -1), c)
    return found.reshape(u.shape), end_speed.reshape(u.shape), steps


class Step(NamedTuple):
    """One step of every lane: where it ends (``psi``, or ``edge`` if it ``cross``es, taking
    ``hit_time``), its direction, the speed at ψ, and the partials ``(∂ψ/∂a, ∂ψ/∂b, ∂t/∂a, ∂t/∂b)``."""

    psi: np.ndarray
    cross: np.ndarray
    edge: np.ndarray
    hit_time: np.ndarray
    rightward: np.ndarray
    speed: np.ndarray
    partials: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def step(x: Any, c: Any, left: Any, a: Any, b: Any, nc: int, bounded: bool, xp: Any = np) -> Step:
    """From x in cell c (field ``a·x + b``) with time ``left > 0``: to the edge in the direction of
    motion if it is reached in time, else the flow for the whole time left, clamped to the cell.
    ``xp``: numpy (``c`` int64), or torch (``c`` float64 with integer values: the flow kernel's
    function, :mod:`actlang.cpab.flow_kernel`)."""
    h = 1.0 / nc
    v = a * x + b
    rightward = v > 0
    low = c * h
    high = low + h
    edge = xp.where(rightward, high, low)
    at_end = xp.where(rightward, c == nc - 1, c == 0)
    v_edge = a * edge + b
    moving = v != 0
    v_safe = xp.where(moving, v, 1.0)
    reachable = moving & ~at_end & (v_edge * xp.sign(v) > 0)
    distance = edge - x
    r = xp.where(reachable, a * distance / v_safe, 0.0)
    hit_time = distance / v_safe * log1p_ratio(r, xp)
    cross = reachable & (hit_time < left)
    tau = xp.where(cross, 0.0, left)  # the lanes that stop in this cell now
    growth = expm1_ratio(a * tau, xp)
    psi = x + v * tau * growth
    if not bounded:
        low = xp.where(c == 0, -math.inf, low)
        high = xp.where(c == nc - 1, math.inf, high)
    psi = xp.minimum(xp.maximum(psi, xp.minimum(low, x)), xp.maximum(high, x))
    flow_b = xp.where(cross, 0.0, tau * growth)
    flow_a = xp.where(cross, 0.0, x * flow_b + v * tau * tau * expm1_ratio_slope(a * tau, xp))
    cross_b = xp.where(cross, -distance / (v_safe * xp.where(cross, v_edge, 1.0)), 0.0)
    cross_a = xp.where(cross, x * cross_b - (distance / v_safe) ** 2 * crossing_weight(r, xp), 0.0)
    return Step(psi, cross, edge, hit_time, rightward, v * xp.exp(a * tau), (flow_a, flow_b, cross_a, cross_b))


def field_gradient(
    steps: list, end_speed: np.ndarray, weight: np.ndarray, shape: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """``Σ weight·dψ/da_c`` and ``Σ weight·dψ/db_c`` (each ``shape`` = ``[K, nc]``) from the
    partials :func:`flow_with_partials` (or the flow kernel's loop) kept: one ``bincount`` per step
    and parameter; a step's ``lanes`` None stands for all of them."""
    size = shape[0] * shape[1]
    grad_a, grad_b = np.zeros(size), np.zeros(size)
    # A field of float64's size (a prior scale near its max) overflows here: the gradient is then
    # inf/NaN, as the math gives, without numpy's warning escaping a backward pass.
    with np.errstate(over="ignore", invalid="ignore"):
        weight = weight.reshape(-1)
        carry = weight * end_speed.reshape(-1)  # dT/dτ = v(T) carries every crossing time's derivative
        for lanes, cell, flow_a, flow_b, cross_a, cross_b in steps:
            at, carried = (weight, carry) if lanes is None else (weight[lanes], carry[lanes])  # None: every lane
            grad_a += np.bincount(cell, at * flow_a - carried * cross_a, size)
            grad_b += np.bincount(cell, at * flow_b - carried * cross_b, size)
    return grad_a.reshape(shape), grad_b.reshape(shape)


class NodeFlow(torch.autograd.Function):
    """``ψ(u, t)`` at constant points ``u`` ``[K, P]``, differentiable in the field only.

    ``slopes``/``intercepts``: ``[K, nc]`` float64 on any device. The steps run in numpy on the
    host (a table is a few thousand points, and numpy's per-call cost is a fraction of torch's);
    the result and the gradients come back on the field's device.
    """

    @staticmethod
    def forward(ctx, slopes: Tensor, intercepts: Tensor, u: Tensor, t: float, bounded: bool) -> Tensor:  # type: ignore[override]
        field, offsets, points = (p.detach().to("cpu", torch.float64).numpy() for p in (slopes, intercepts, u))
        psi, end_speed, steps = flow_with_partials(points, field, offsets, t, bounded)
        ctx.end_speed, ctx.steps, ctx.shape = end_speed, steps, tuple(slopes.shape)
        ctx.save_for_backward(slopes, intercepts, u)
        ctx.flow = (t, bounded)
        return torch.from_numpy(psi).to(device=slopes.device, dtype=slopes.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        if torch.is_grad_enabled():  # create_graph: autograd through the torch closed form
            return _differentiable_backward(ctx, grad)
        weight = grad.detach().to("cpu", torch.float64).numpy()
        grad_a, grad_b = field_gradient(ctx.steps, ctx.end_speed, weight, ctx.shape)
        grad_a, grad_b = (torch.from_numpy(g).to(grad.device, grad.dtype) for g in (grad_a, grad_b))
        return grad_a, grad_b, None, None, None


def _differentiable_backward(ctx, grad: Tensor) -> tuple:
    """Gradients that are themselves differentiable (double backward w.r.t. θ): the same values
    by autograd through :func:`~actlang.cpab.integrate.integrate`, graph kept."""
    from actlang.cpab.integrate import integrate

    slopes, intercepts, u = ctx.saved_tensors
    t, bounded = ctx.flow
    with torch.enable_grad():
        field = [p if p.requires_grad else p.detach().requires_grad_() for p in (slopes, intercepts)]
        psi, _ = integrate(u, field[0], field[1], t, bounded)
        grad_a, grad_b = torch.autograd.grad(psi, field, grad, create_graph=True)
    return grad_a, grad_b, None, None, None
