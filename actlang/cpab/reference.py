"""Float64 numpy reference for CPAB and the DiTAC family — no torch, written independently of
:mod:`actlang.cpab.integrate`.

Instead of stepping cell by cell, it uses crossing times: a point moving right spends
``τ(x0 → x1) = (x1 − x0)·log(v1/v0)/(v1 − v0)`` (the logarithmic mean; ``(x1 − x0)/v0`` when
``v0 = v1``) to cross a stretch where the velocity goes linearly from ``v0`` to ``v1`` (both > 0;
otherwise never). Prefix sums of the whole-cell crossing times and one ``searchsorted`` give the
cell where the unit of time runs out; the flow inside that cell finishes the step. Leftward
motion is rightward motion of the mirrored field ``v'(u) = −v(1 − u)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from actlang.cpab.tessellation import cell_parameters


def _crossing_time(x0, x1, v0, v1):
    """Time to go from x0 to x1 > x0 where v rises linearly from v0 > 0 to v1 > 0."""
    with np.errstate(all="ignore"):
        log_mean = np.where(np.isclose(v0, v1, rtol=1e-12, atol=0.0), 1.0 / v0, np.log(v1 / v0) / (v1 - v0))
    return (x1 - x0) * log_mean


def _flow_in_cell(x0, v0, slope, time):
    """x(time) for dx/dt = v, v linear with ``slope`` and ``v(x0) = v0``, inside one cell."""
    z = slope * time
    with np.errstate(all="ignore"):
        ratio = np.where(np.abs(z) < 1e-8, 1.0 + z / 2, np.expm1(z) / np.where(z == 0, 1.0, z))
    return x0 + v0 * time * ratio


def _rightward(u: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray, t: float) -> np.ndarray:
    """Flow for time t of points with v(u) > 0 under one field (slopes/intercepts: [nc])."""
    nc = slopes.size
    edges = np.arange(nc + 1) / nc
    v_left = slopes * edges[:-1] + intercepts
    v_right = slopes * edges[1:] + intercepts
    passable = (v_left > 0) & (v_right > 0)
    passable[-1] = False  # the right end of the domain is never crossed
    # Prefix sums of the crossing times of passable cells (impassable ones count 0 here and are
    # handled as barriers: a point never goes past the first impassable cell ahead of it).
    whole = np.zeros(nc)
    whole[passable] = _crossing_time(edges[:-1], edges[1:], v_left, v_right)[passable]
    prefix = np.concatenate([[0.0], np.cumsum(whole)])
    barrier = np.minimum.accumulate(np.where(passable, nc - 1, np.arange(nc))[::-1])[::-1]
    cell = np.clip(np.floor(u * nc), 0, nc - 1).astype(int)
    v_u = slopes[cell] * u + intercepts[cell]
    exits = (v_right[cell] > 0) & (cell < nc - 1)
    own = np.full(u.shape, np.inf)
    own[exits] = _crossing_time(u[exits], edges[cell + 1][exits], v_u[exits], v_right[cell][exits])
    stays = own >= t
    result = _flow_in_cell(u, v_u, slopes[cell], np.full(u.shape, t))
    # Points that leave their cell: find the cell k where the time runs out.
    rest = t - own[~stays]
    start = cell[~stays] + 1
    k = np.searchsorted(prefix, rest + prefix[start], side="right") - 1
    k = np.clip(k, start, barrier[np.minimum(start, nc - 1)])
    remaining = rest - (prefix[k] - prefix[start])
    result[~stays] = _flow_in_cell(edges[k], v_left[k], slopes[k], remaining)
    return result


def transform01(theta: np.ndarray, u: np.ndarray, cells: int, zero_boundary: bool = True, t: float = 1.0):
    """T^θ on [0, 1] for one θ (``[dim θ]``) at points ``u`` (any shape), float64."""
    slopes, intercepts = cell_parameters(theta, cells, zero_boundary)
    u = np.asarray(u, dtype=np.float64)
    flat = u.reshape(-1).copy()
    nc = cells
    cell = np.clip(np.floor(flat * nc), 0, nc - 1).astype(int)
    v = slopes[cell] * flat + intercepts[cell]
    out = flat.copy()
    right, left = v > 0, v < 0
    if right.any():
        out[right] = _rightward(flat[right], slopes, intercepts, t)
    if left.any():
        # Mirror u -> 1 − u: cell c becomes nc − 1 − c with v'(u') = a·u' − (a + b).
        mirrored = _rightward(1.0 - flat[left], slopes[::-1].copy(), -(slopes + intercepts)[::-1].copy(), t)
        out[left] = 1.0 - mirrored
    if zero_boundary:
        out = np.clip(out, 0.0, 1.0)
    return out.reshape(u.shape)


def slope01(theta: np.ndarray, u: np.ndarray, cells: int, zero_boundary: bool = True) -> np.ndarray:
    """dT/du = v(T(u))/v(u); e^{a_c} when the path stays in its cell c (fixed points included)."""
    slopes, intercepts = cell_parameters(theta, cells, zero_boundary)
    u = np.asarray(u, dtype=np.float64)
    moved = transform01(theta, u, cells, zero_boundary)

    def field(p):
        c = np.clip(np.floor(p * cells), 0, cells - 1).astype(int)
        return slopes[c] * p + intercepts[c], slopes[c], c

    v_u, a_u, c_u = field(u)
    v_t, _, c_t = field(moved)
    # In one cell the two forms agree exactly; the ratio is only needed when the path crosses
    # cells. (At a zero boundary v(0) is a rounding error, not 0, and the ratio would give 1.)
    stays = (c_u == c_t) | (v_u == 0)
    with np.errstate(all="ignore"):
        return np.where(stays, np.exp(a_u), v_t / np.where(stays, 1.0, v_u))


def _per_channel(function, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Apply ``function(x_part, theta_row)`` with one θ row per channel along axis 1 of x."""
    theta = np.asarray(theta, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if theta.ndim == 1:
        return function(x, theta)
    out = np.empty(x.shape, dtype=np.float64)
    for c in range(theta.shape[0]):
        out[:, c] = function(x[:, c], theta[c])
    return out


def warp(x, theta, a: float, b: float, cells: int, zero_boundary: bool = True) -> np.ndarray:
    """T^θ mapped onto [a, b] (``a + (b − a)·T((x − a)/(b − a))``) inside, x outside.

    Written as x plus the displacement, ``x + (b − a)·(T(u) − u)``: the same value, but where
    the warp leaves a point in place it returns x itself — ``a + (b − a)·u`` would round x = 1e−12
    on [−3, 3] to 1.0000889e−12 (the sum cancels).
    """

    def one(part: np.ndarray, row: np.ndarray) -> np.ndarray:
        inside = (part >= a) & (part <= b)
        u = np.where(inside, (part - a) / (b - a), 0.5)
        moved = part + (b - a) * (transform01(row, u, cells, zero_boundary) - u)
        return np.where(inside, moved, part)

    return _per_channel(one, x, theta)


def cpab(x, theta, a, b, cells, zero_boundary=True, **_: Any) -> np.ndarray:
    """``cpab``: T^θ on [a, b], identity outside."""
    return warp(np.asarray(x, dtype=np.float64), theta, a, b, cells, zero_boundary)


def ditac(x, theta, a=-3.0, b=3.0, cells=10, zero_boundary=True, **_: Any) -> np.ndarray:
    """``ditac``: x̃·Φ(x), x̃ = T^θ(x) on [a, b] and x outside."""
    x = np.asarray(x, dtype=np.float64)
    return warp(x, theta, a, b, cells, zero_boundary) * special.ndtr(x)


def ge_ditac(x, theta, b=3.0, cells=10, zero_boundary=True, **_: Any) -> np.ndarray:
    """``ge_ditac``: x·Φ(x) below 0, T^θ on [0, b], x above b."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, x * special.ndtr(x), warp(x, theta, 0.0, b, cells, zero_boundary))


def l_ditac(x, theta, a=0.0, b=3.0, cells=10, zero_boundary=True, slope=0.01, **_: Any) -> np.ndarray:
    """``l_ditac``: T^θ on [a, b], leaky_relu(x, slope) outside."""
    x = np.asarray(x, dtype=np.float64)
    inside = (x >= a) & (x <= b)
    return np.where(inside, warp(x, theta, a, b, cells, zero_boundary), np.where(x >= 0, x, slope * x))


def inf_ditac(x, theta, a=-3.0, b=3.0, cells=10, zero_boundary=True, **_: Any) -> np.ndarray:
    """``inf_ditac``: T^θ on [a, b]; outside, T(end) + T'(end)·(x − end) (exact end slopes)."""
    x = np.asarray(x, dtype=np.float64)

    def one(part: np.ndarray, row: np.ndarray) -> np.ndarray:
        ends = np.array([0.0, 1.0])
        t_end = a + (b - a) * transform01(row, ends, cells, zero_boundary)
        s_end = slope01(row, ends, cells, zero_boundary)
        inner = warp(part, row, a, b, cells, zero_boundary)
        below = t_end[0] + s_end[0] * (part - a)
        above = t_end[1] + s_end[1] * (part - b)
        return np.where(part < a, below, np.where(part > b, above, inner))

    return _per_channel(one, x, theta)
