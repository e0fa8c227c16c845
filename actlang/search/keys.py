"""Class keys for the ``"outputs"`` rule and its symmetries.

A row holds f on AQuaSurF's points (and, for ``symmetry="sign"``, f on the negated points after
them). The key of a row under a symmetry is the smallest digest over its transforms — ``f``,
``−f``, ``f(−x)``, ``−f(−x)`` — which is the same for every member of an orbit; the transform
that attained it comes along, so a class can say how each member relates to its representative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from actlang.errors import UnknownNameError
from actlang.search.engine import canonical, row_key

Symmetry = Literal["none", "negation", "sign"]
SYMMETRIES: tuple[Symmetry, ...] = ("none", "negation", "sign")
NEGATE, REFLECT = 1, 2  # transform bits: 0 f(x), 1 −f(x), 2 f(−x), 3 −f(−x)
TRANSFORMS = ("f(x)", "-f(x)", "f(-x)", "-f(-x)")
Key = tuple[bytes, int]


def check_symmetry(symmetry: str) -> Symmetry:
    if symmetry not in SYMMETRIES:
        raise UnknownNameError(f"unknown symmetry {symmetry!r}; expected one of {', '.join(SYMMETRIES)}")
    return symmetry  # type: ignore[return-value]


def points_for(points: np.ndarray, symmetry: Symmetry) -> np.ndarray:
    """The evaluation points: AQuaSurF's, then their negations when reflections are folded."""
    return np.concatenate([points, -points]) if symmetry == "sign" else points


def key_function(width: int, symmetry: Symmetry) -> Callable[[np.ndarray], Key]:
    """The key of a row whose first ``width`` values are f on AQuaSurF's points."""

    def plain(row: np.ndarray) -> Key:
        return row_key(np.ascontiguousarray(row[:width])), 0

    def negation(row: np.ndarray) -> Key:
        f = np.ascontiguousarray(row[:width])
        return min((row_key(f), 0), (row_key(canonical(-f)), NEGATE))

    def sign(row: np.ndarray) -> Key:
        f, g = row[:width], row[width:]
        return min(
            (row_key(np.ascontiguousarray(f)), 0),
            (row_key(canonical(-f)), NEGATE),
            (row_key(np.ascontiguousarray(g)), REFLECT),
            (row_key(canonical(-g)), NEGATE | REFLECT),
        )

    return {"none": plain, "negation": negation, "sign": sign}[symmetry]


def transform(rows: np.ndarray, width: int, which: int) -> np.ndarray:
    """Transform ``which`` of the functions in ``rows`` (``[..., 2·width]`` when it reflects),
    on AQuaSurF's points: the last axis keeps ``width`` values."""
    part = rows[..., width:] if which & REFLECT else rows[..., :width]
    return canonical(-part) if which & NEGATE else np.ascontiguousarray(part)
