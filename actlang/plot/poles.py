"""Poles on a plotting grid: where a curve leaves every bound between grid points.

A grid cannot tell a pole (1/x) from a tall, narrow spike (sigmoid(100x)′, 25 high) by its values
alone, so each candidate — a grid point whose |f| is a local maximum, or that borders a
non-finite value — is looked at more closely with the function itself:

- it is a pole when |f| on a finer grid between its neighbours exceeds :data:`GROWTH` times its
  own value (the curve keeps rising as x approaches the pole), or when its value exceeds
  :data:`GROWTH` times both neighbours' (a pole closer to it than the finer grid resolves);
- a spike resolved by the grid does neither: its peak is near a grid point and falls off smoothly.

The plot leaves the region within :data:`RADIUS` of a pole out of the y-range and does not join
the two sides of a pole with a line.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

GROWTH = 4.0  # how much larger |f| must get near a candidate to call it a pole
SUBPOINTS = 64  # points of the finer grid between a candidate's two neighbours
RADIUS = 0.02  # the neighbourhood of a pole left out of the y-range, as a share of the x-range


def find_poles(fn: Callable[[np.ndarray], np.ndarray], xs: np.ndarray, ys: np.ndarray) -> tuple[float, ...]:
    """x positions of the poles of ``fn`` on the grid ``xs`` (``ys = fn(xs)``), in order."""
    if len(xs) < 3:
        return ()
    size = np.where(np.isfinite(ys), np.abs(ys), np.nan)
    left, right = np.concatenate([[np.nan], size[:-1]]), np.concatenate([size[1:], [np.nan]])
    # A candidate: finite, nonzero, not smaller than a finite neighbour, or next to a non-finite value.
    borders = np.concatenate([[False], ~np.isfinite(ys[:-1])]) | np.concatenate([~np.isfinite(ys[1:]), [False]])
    peak = (np.nan_to_num(left, nan=-1.0) <= size) & (np.nan_to_num(right, nan=-1.0) <= size)
    candidates = np.flatnonzero(np.isfinite(size) & (size > 0) & (peak | borders))
    if not candidates.size:
        return ()
    lo, hi = xs[np.maximum(candidates - 1, 0)], xs[np.minimum(candidates + 1, len(xs) - 1)]
    fractions = np.linspace(0.0, 1.0, SUBPOINTS + 2)[1:-1]
    fine = lo[:, None] + (hi - lo)[:, None] * fractions[None, :]
    with np.errstate(all="ignore"):
        near = np.abs(np.asarray(fn(fine.ravel()), dtype=float).reshape(fine.shape))
    near = np.where(np.isnan(near), 0.0, near)  # undefined is not large; ±inf is
    grows = near.max(axis=1) > GROWTH * size[candidates]
    neighbours = np.fmax(left[candidates], right[candidates])
    isolated = size[candidates] > GROWTH * np.nan_to_num(neighbours, nan=np.inf)
    # (position, |f| there): the finer grid's largest value, or the isolated grid point's own.
    found = sorted((float(fine[i, np.argmax(near[i])]), near[i].max()) if grows[i] else (float(xs[c]), size[c])
                   for i, c in enumerate(candidates) if grows[i] or isolated[i])
    return _merged(found, 2.0 * float(xs[1] - xs[0]))


def _merged(found: list[tuple[float, float]], step: float) -> tuple[float, ...]:
    """One position per pole: the candidates on both sides of a pole (within ``step`` of each
    other) report it twice; the one where |f| is largest is the closest to it."""
    groups: list[list[tuple[float, float]]] = []
    for position, value in found:
        if groups and position - groups[-1][-1][0] <= step:
            groups[-1].append((position, value))
        else:
            groups.append([(position, value)])
    return tuple(max(group, key=lambda item: item[1])[0] for group in groups)


def near_poles(xs: np.ndarray, poles: tuple[float, ...], share: float = RADIUS) -> np.ndarray:
    """The grid points within ``share`` of the x-range from a pole."""
    mask = np.zeros(len(xs), dtype=bool)
    radius = share * float(xs[-1] - xs[0])
    for pole in poles:
        mask |= np.abs(xs - pole) <= radius
    return mask


def broken_at(xs: np.ndarray, ys: np.ndarray, poles: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``xs, ys`` with a NaN between the two grid points around each pole, so a line stops there."""
    at = np.unique(np.searchsorted(xs, poles))
    at = at[(at > 0) & (at < len(xs))]
    return np.insert(xs, at, xs[at]), np.insert(np.asarray(ys, dtype=float), at, np.nan)
