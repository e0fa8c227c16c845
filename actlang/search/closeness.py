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

import hashlib
from collections.abc import Sequence

import numpy as np

from actlang.search.keys import transform
from actlang.search.rows import Rows

SLACK = 1e-9  # float64 rounding in the asinh means


def close_components(
    rows: Rows, width: int, rtol: float, atol: float, transforms: Sequence[int] = ()
) -> np.ndarray:
    """Component label of every row under closeness of the functions on the first ``width`` points.

    ``transforms`` (bits as in :mod:`actlang.search.keys`: −f, f(−x), −f(−x)) add transformed
    copies of every row as candidates: row i is also joined with any row close to a copy of it.
    Copies are computed on demand, never stored.
    """
    n = len(rows)
    bits = (0, *transforms)
    parent = np.arange(n)
    delta = atol + rtol * (1 + atol) / (1 - rtol - atol) + SLACK
    patterns: dict[bytes, int] = {}
    keyed = [_sort_keys(rows, width, b, patterns) for b in bits]
    pattern = np.concatenate([k[0] for k in keyed])
    mean = np.concatenate([k[1] for k in keyed])
    order = np.lexsort((mean, pattern))
    ends = _window_ends(pattern[order], mean[order], delta)
    for pos in np.flatnonzero(ends > np.arange(len(order)) + 1):
        i, js = order[pos], order[pos + 1 : ends[pos]]
        hits = js[_close(_items(rows, width, bits, np.array([i]))[0], _items(rows, width, bits, js), rtol, atol)]
        for j in hits:
            _union(parent, int(i % n), int(j % n))
    return np.array([_find(parent, i) for i in range(n)])


def _items(rows: Rows, width: int, bits: Sequence[int], ids: np.ndarray) -> np.ndarray:
    """The vectors of candidate items ``ids`` (item = transform index · n + row)."""
    n = len(rows)
    out = np.empty((len(ids), width), np.float32)
    which = ids // n
    for t in np.unique(which):
        sel = which == t
        out[sel] = transform(rows[ids[sel] % n], width, bits[t])
    return out


def _sort_keys(
    rows: Rows, width: int, bit: int, patterns: dict[bytes, int], chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (transformed by ``bit``): a label of its non-finite pattern, and the mean of asinh
    over its finite values; computed in chunks so memory stays small."""
    labels, means = [], []
    for start in range(0, len(rows), chunk):
        items = transform(rows[start : start + chunk], width, bit)
        finite = np.isfinite(items)
        code = np.where(finite, 0, np.where(np.isnan(items), 1, np.where(items > 0, 2, 3))).astype(np.uint8)
        labels += [patterns.setdefault(hashlib.sha1(c.data).digest(), len(patterns)) for c in code]
        wide = np.where(finite, items, 0).astype(np.float64)
        means.append(np.arcsinh(wide).sum(axis=1) / np.maximum(finite.sum(axis=1), 1))
    return np.array(labels, np.int64), np.concatenate(means) if means else np.empty(0)


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
