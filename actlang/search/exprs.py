"""Float32 evaluation of arbitrary expressions (any strings, not only template expansions).

Every distinct subterm across all the expressions is computed once; subterms are processed
depth by depth, and at each depth the calls of one primitive are applied to all their argument
rows in one vectorised batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from actlang.ast import Call, Constant, Expr, Input, Num, Param, walk
from actlang.search.engine import canonical
from actlang.search.tf_kernels import F32, kernel


def evaluate_many(exprs: Sequence[Expr], points: np.ndarray) -> np.ndarray:
    """``[len(exprs), len(points)]`` float32 outputs (NaNs canonical), AQuaSurF's numerics."""
    ids: dict[Expr, int] = {}
    by_depth: dict[int, list[Expr]] = defaultdict(list)
    for expr in exprs:
        for node in walk(expr):
            if node not in ids:
                ids[node] = len(ids)
                by_depth[node.depth].append(node)
    rows = np.empty((len(ids), len(points)), F32)
    with np.errstate(all="ignore"):
        for depth in sorted(by_depth):
            groups: dict[tuple, list[Expr]] = defaultdict(list)
            for node in by_depth[depth]:
                if isinstance(node, Call):
                    groups[(node.name, node.hyper, len(node.args))].append(node)
                else:
                    rows[ids[node]] = _leaf(node, points)
            for (name, hyper, nargs), calls in groups.items():
                args = [rows[[ids[c.args[j]] for c in calls]] for j in range(nargs)]
                out = np.broadcast_to(np.asarray(kernel(name, hyper)(*args), F32), (len(calls), len(points)))
                rows[[ids[c] for c in calls]] = out
    canonical(rows)
    return rows[[ids[e] for e in exprs]]


def _leaf(node: Expr, points: np.ndarray) -> np.ndarray:
    match node:
        case Input():
            return points
        case Num(value=value) | Param(init=value) | Constant(value=value):
            return np.full_like(points, value)
    raise TypeError(f"not a leaf: {node!r}")
