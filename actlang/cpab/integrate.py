"""Closed-form integration of a 1-D CPA velocity field on [0, 1] (torch, TorchScript-able).

Inside cell ``c`` the flow of ``dx/dt = a·x + b`` for time ``t`` is
``ψ(x, t) = x + v(x)·t·E(a·t)`` with ``E(z) = expm1(z)/z`` (``E(0) = 1``), the form that stays
exact as ``a → 0``. The trajectory reaches the cell's edge ``x_e`` in the direction of motion
after ``t_hit = (x_e − x)/v(x) · log1p(r)/r`` with ``r = a·(x_e − x)/v(x)`` — finite only when
``v(x_e)`` has the sign of ``v(x)`` (otherwise a fixed point lies between, and the point stays in
the cell). If ``t_hit`` is below the time left, the point moves to the edge, spends ``t_hit`` and
continues in the neighbouring cell. 1-D motion is monotone, so at most ``nc − 1`` crossings
happen: a fixed loop of ``nc`` steps with ``torch.where`` is exact and differentiable in ``x``
and in the field. The ends of [0, 1] are never crossed: with zero boundary the field vanishes
there; without it the end cells' fields extend affinely to ±∞.

Shapes: ``u`` is ``[..., P]`` and ``slopes``/``intercepts`` are ``[..., nc]`` with the same
number of dimensions and matching leading sizes (one field per leading index).
"""

from __future__ import annotations

import torch
from torch import Tensor

from actlang.cpab.capture import valueless


def expm1_ratio(z: Tensor) -> Tensor:
    """``E(z) = (e^z − 1)/z`` with ``E(0) = 1``; finite gradients everywhere (no 0/0)."""
    small = z.abs() < 1e-5  # Taylor series below (error < 1e-15 relative)
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1.0 + z * (0.5 + z / 6.0), torch.expm1(safe) / safe)


def log1p_ratio(r: Tensor) -> Tensor:
    """``log1p(r)/r`` with value 1 at ``r = 0``; callers keep ``r > −1``."""
    small = r.abs() < 1e-5
    safe = torch.where(small, torch.ones_like(r), r)
    return torch.where(small, 1.0 - r * (0.5 - r / 3.0), torch.log1p(safe) / safe)


def cell_index(u: Tensor, nc: int) -> Tensor:
    """Cell of each point: ``clamp(floor(u·nc), 0, nc − 1)`` (int64)."""
    return torch.clamp(torch.floor(u * nc), 0, nc - 1).to(torch.int64)


def velocity(u: Tensor, slopes: Tensor, intercepts: Tensor) -> Tensor:
    """``v(u) = a_c·u + b_c`` in the cell of ``u`` (the end cells extend beyond [0, 1])."""
    nc = slopes.shape[-1]
    c = cell_index(u, nc)
    return torch.gather(slopes, -1, c) * u + torch.gather(intercepts, -1, c)


def integrate(
    u: Tensor, slopes: Tensor, intercepts: Tensor, t: float = 1.0, bounded: bool = True, early_exit: bool = True
) -> tuple[Tensor, Tensor]:
    """``(ψ(u, t), cell of ψ)``: the flow of the field for time ``t ≥ 0`` from ``u``.

    ``bounded`` (zero boundary) keeps results in [0, 1] against rounding; otherwise the end
    cells are open towards ±∞. ``early_exit`` stops once every point has spent its time (the
    remaining steps would be the identity); pass False for graph capture (torch.compile).
    """
    nc = slopes.shape[-1]
    h = 1.0 / nc
    early_exit = early_exit and not valueless(u)  # a meta or fake tensor's times cannot be read
    c = cell_index(u, nc)
    x = u
    left_time = torch.full_like(u, t)
    for _ in range(nc):
        if early_exit and not bool((left_time > 0).any()):
            break
        a = torch.gather(slopes, -1, c)
        b = torch.gather(intercepts, -1, c)
        v = a * x + b
        rightward = v > 0
        low = c.to(u.dtype) * h
        high = low + h
        edge = torch.where(rightward, high, low)
        at_end = torch.where(rightward, c == nc - 1, c == 0)
        v_edge = a * edge + b
        moving = v != 0
        v_safe = torch.where(moving, v, torch.ones_like(v))
        reachable = moving & ~at_end & (v_edge * torch.sign(v) > 0)
        r = torch.where(reachable, a * (edge - x) / v_safe, torch.zeros_like(v))
        hit_time = (edge - x) / v_safe * log1p_ratio(r)
        cross = reachable & (hit_time < left_time)
        psi = x + v * left_time * expm1_ratio(a * left_time)
        # Without a crossing the exact flow stays in the cell; the clamp removes rounding only, so
        # it corrects the value and leaves the gradient of ψ alone. Unbounded, the outer ends of
        # the end cells are open (±∞): extended fields are not clipped.
        if not bounded:
            low = torch.where(c == 0, torch.full_like(low, -float("inf")), low)
            high = torch.where(c == nc - 1, torch.full_like(high, float("inf")), high)
        # (x itself may sit a rounding error outside its cell; it stays a valid bound.)
        low, high = torch.minimum(low, x), torch.maximum(high, x)
        psi = psi + (torch.minimum(torch.maximum(psi, low), high) - psi).detach()
        x = torch.where(cross, edge, psi)
        left_time = torch.where(cross, left_time - hit_time, torch.zeros_like(left_time))
        c = torch.where(cross, c + torch.where(rightward, 1, -1), c)
    return x, c


def derivative(u: Tensor, psi: Tensor, psi_cell: Tensor, slopes: Tensor, intercepts: Tensor, t: float = 1.0) -> Tensor:
    """``dψ/du``: ``e^{a_c·t}`` when ψ stays in the cell of u (fixed points included, and well
    conditioned near them), otherwise ``v(ψ)/v(u)`` (then v(u) is bounded away from 0)."""
    nc = slopes.shape[-1]
    c = cell_index(u, nc)
    a = torch.gather(slopes, -1, c)
    v = a * u + torch.gather(intercepts, -1, c)
    v_end = torch.gather(slopes, -1, psi_cell) * psi + torch.gather(intercepts, -1, psi_cell)
    stayed = (psi_cell == c) | (v == 0)
    ratio = v_end / torch.where(stayed, torch.ones_like(v), v)
    return torch.where(stayed, torch.exp(a * t), ratio)
