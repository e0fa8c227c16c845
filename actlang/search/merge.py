"""Joining exact-output classes: numerically (tolerances) and symbolically (sympy proofs)."""

from __future__ import annotations

import numpy as np

from actlang.errors import UnsupportedError
from actlang.search.closeness import _close, close_components
from actlang.search.keys import NEGATE, REFLECT, TRANSFORMS, Symmetry, transform
from actlang.search.rows import Rows

UNKNOWN = -1  # a member joined only through others: no single transform relates it


COPIES = {"none": (), "negation": (NEGATE,), "sign": (NEGATE, REFLECT, NEGATE | REFLECT)}


def groups(labels: np.ndarray) -> list[np.ndarray]:
    """Indices of each label that occurs more than once."""
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return [g for g in np.split(order, cuts) if len(g) > 1]


def merge_numeric(
    rows: Rows, width: int, symmetry: Symmetry, rtol: float, atol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Component label of each exact class, and its transform relative to its component's first
    class (``UNKNOWN`` where no single transform of that row is close to it)."""
    bits = COPIES[symmetry]
    labels = close_components(rows, width, rtol, atol, bits)
    which = np.zeros(len(rows), np.int8)
    for members in groups(labels):
        head = transform(rows[members[:1]], width, 0)[0]
        which[members] = UNKNOWN
        for b in (0, *bits):
            cand = transform(rows[members], width, b)
            hit = _close(head, cand, rtol, atol) & (which[members] == UNKNOWN)
            which[members[hit]] = b
    return labels, which


def merge_symbolic(
    names: list[str], ids: np.ndarray, labels: np.ndarray, symmetry: Symmetry
) -> tuple[np.ndarray, np.ndarray]:
    """Exact classes joined where sympy proves their representatives equivalent; the candidates
    are the numeric components (a proof is tried only between numerically close functions)."""
    try:
        from actlang.symbolic import equivalent
    except ImportError:  # pragma: no cover - depends on the symbolic layer being installed
        raise UnsupportedError("the symbolic mode needs actlang.equivalent (the symbolic layer)") from None
    first_name: dict[int, str] = {}
    for i, c in enumerate(ids.tolist()):
        first_name.setdefault(c, names[i])
    result = np.arange(len(labels))
    bits = np.zeros(len(labels), np.int8)
    for members in groups(labels):
        heads: list[int] = []
        for m in members.tolist():
            for h in heads:
                verdict = _proof(equivalent, first_name[h], first_name[m], symmetry)
                if getattr(verdict, "verdict", None) == "proved":
                    result[m] = result[h]
                    found = getattr(verdict, "transform", None)
                    # equivalent(head, m) proved head = T(m), so m = T(head): T is its own inverse.
                    bits[m] = bits[h] ^ TRANSFORMS.index(found) if found in TRANSFORMS else UNKNOWN
                    break
            else:
                heads.append(m)
    return result, bits


def _proof(equivalent, a: str, b: str, symmetry: Symmetry) -> object:
    """``equivalent(a, b)``, or ``None`` when the symbolic layer fails on the pair: a failed
    attempt is not a proof, so the two classes simply stay apart."""
    try:
        return equivalent(a, b, symmetry=symmetry)
    except Exception:  # any failure inside sympy means "not proved"
        return None
