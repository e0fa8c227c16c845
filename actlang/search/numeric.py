"""Tolerance-based grouping (the ``"numeric"`` rule): robust to ulp differences between kernels.

Two rows are *close* when they have NaN at the same points, the same infinities at the same
points, and at every finite point ``|a − b| ≤ atol + rtol·max(|a|, |b|)``. Classes are the
connected components of closeness (its transitive closure).

Finding close pairs without comparing all pairs: for close a, b and every point,
``|asinh a − asinh b| ≤ δ = atol + rtol·(1 + atol)/(1 − rtol − atol)`` (asinh is 1-Lipschitz and
grows like log for large values), so the means of asinh over the finite points differ by at most
δ too. Rows are sorted by (non-finite pattern, that mean), and only rows within δ of each other
in one pattern are compared — exactly, so no close pair is missed and no far pair is merged.
"""

from __future__ import annotations

import numpy as np

SLACK = 1e-9  # float64 rounding in the asinh means


def close_components(rows: np.ndarray, rtol: float, atol: float, extra: np.ndarray | None = None) -> np.ndarray:
    """Component label of every row of ``rows`` under closeness.

    ``extra`` (optional, ``[k, n, width]``) holds transformed copies of the rows (−f, f(−x), ...):
    row i is also joined with any row close to one of its copies.
    """
    n = len(rows)
    items = rows if extra is None else np.concatenate([rows[None], extra]).reshape(-1, rows.shape[1])
    owner = np.tile(np.arange(n), len(items) // n)
    parent = np.arange(n)
    delta = atol + rtol * (1 + atol) / (1 - rtol - atol) + SLACK
    pattern, mean = _sort_keys(items)
    order = np.lexsort((mean, pattern))
    pattern, mean = pattern[order], mean[order]
    ends = _window_ends(pattern, mean, delta)
    for pos in np.flatnonzero(ends > np.arange(len(order)) + 1):
        i = order[pos]
        js = order[pos + 1 : ends[pos]]
        hits = js[_close(items[i], items[js], rtol, atol)]
        for j in hits:
            _union(parent, owner[i], owner[j])
    return np.array([_find(parent, i) for i in range(n)])


def _sort_keys(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A label of each row's non-finite pattern, and the mean of asinh over its finite values."""
    finite = np.isfinite(items)
    code = np.where(finite, 0, np.where(np.isnan(items), 1, np.where(items > 0, 2, 3))).astype(np.uint8)
    _, pattern = np.unique(code, axis=0, return_inverse=True)
    wide = np.where(finite, items, 0).astype(np.float64)
    count = np.maximum(finite.sum(axis=1), 1)
    return pattern.ravel(), np.arcsinh(wide).sum(axis=1) / count


def _window_ends(pattern: np.ndarray, mean: np.ndarray, delta: float) -> np.ndarray:
    """For each sorted position, one past the last position in its pattern within ``delta``."""
    # Offsetting each pattern's block by a gap larger than any mean difference keeps windows
    # inside their block, so one searchsorted serves all patterns.
    span = float(np.ptp(mean)) + 4 * delta + 1 if len(mean) else 1.0
    line = pattern * span + mean
    return np.searchsorted(line, line + delta, side="right")


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Which rows of ``b`` are close to row ``a`` (same non-finite pattern assumed for candidates)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    fa, fb, na, nb = np.isfinite(a64), np.isfinite(b64), np.isnan(a64), np.isnan(b64)
    same_nonfinite = ((fa == fb) & (na == nb) & (fa | na | (a64 == b64))).all(axis=1)
    with np.errstate(invalid="ignore"):
        ok = np.abs(a64 - b64) <= atol + rtol * np.maximum(np.abs(a64), np.abs(b64))
    ok |= ~(np.isfinite(a64) & np.isfinite(b64))
    return same_nonfinite & ok.all(axis=1)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _union(parent: np.ndarray, i: int, j: int) -> None:
    ri, rj = _find(parent, i), _find(parent, j)
    if ri != rj:
        parent[max(ri, rj)] = min(ri, rj)
