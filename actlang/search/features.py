"""``features(names)``: the float32 output vectors AQuaSurF compares (and feeds its surrogate)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from actlang.search.engine import Engine, aquasurf_points
from actlang.search.space import Space
from actlang.search.tf_kernels import F32


def features(names: Iterable[str] | Space, points: np.ndarray | None = None) -> np.ndarray:
    """``[n, len(points)]`` float32 outputs of each activation on ``points`` (default AQuaSurF's
    1,000), with AQuaSurF's numerics; NaNs are canonical quiet NaNs.

    A :class:`~actlang.search.Space` is evaluated template-wise (each distinct subterm once);
    other names are parsed and evaluated with every distinct subterm computed once.
    """
    pts = aquasurf_points() if points is None else np.asarray(points, dtype=F32).ravel()
    if isinstance(names, Space):
        engine = Engine(pts, keep_top_rows=True)
        blocks = []
        for template in names.templates:
            table = engine.run(template)
            assert table.rows is not None
            blocks.append(table.rows[table.index.ravel()])
        return np.concatenate(blocks) if blocks else np.empty((0, len(pts)), F32)
    from actlang.search.exprs import evaluate_many
    from actlang.search.space import parse_names

    return evaluate_many(parse_names(list(names)), pts)
