"""Grouping equivalent activation functions (docs/search.md).

- ``by="outputs"``: AQuaSurF's rule — bit-identical float32 outputs on its 1,000 points (NaNs
  count as equal; +0 and −0 differ, as they did in AQuaSurF's string-keyed database).
- ``by="numeric"``: outputs equal within ``rtol``/``atol`` with NaN and infinities at the same
  points (see :mod:`actlang.search.closeness`), so ulp-level differences between kernels do not split
  a class.
- ``by="symbolic"``: the ``"outputs"`` classes, joined where ``actlang.equivalent`` proves two of
  them equal (candidates are the numeric near-duplicates; a merely numeric verdict does not join).

``symmetry="negation"`` also folds f with −f; ``"sign"`` folds f(x), −f(x), f(−x), −f(−x).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from actlang.errors import ActlangError, UnknownNameError
from actlang.search.engine import Engine, aquasurf_points
from actlang.search.keys import TRANSFORMS, Symmetry, check_symmetry, key_function, points_for
from actlang.search.progress import Progress
from actlang.search.rows import Rows
from actlang.search.space import Space, expand

By = Literal["outputs", "numeric", "symbolic"]
BYS: tuple[By, ...] = ("outputs", "numeric", "symbolic")
RTOL, ATOL = 1e-5, 1e-6


@dataclass(frozen=True)
class EquivalenceClass:
    """One class: its members (input order), a representative, and each member's relation to the
    representative (``"f(x)"`` — the same function —, ``"-f(x)"``, ``"f(-x)"``, ``"-f(-x)"``, or
    ``"~"`` when it joined only through other members)."""

    representative: str
    members: tuple[str, ...]
    transforms: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.members)


class Deduplication:
    """Classes of the inputs, numbered in order of first appearance.

    ``labels[i]`` is the class of input i; ``classes`` (built on first use, cheap to skip for a
    count) lists each class's members in input order, its representative — the largest name, as
    AQuaSurF's ``MAX(fn_name)`` picks — and how each member relates to the representative.
    """

    def __init__(self, names: list[str], labels: np.ndarray, which: np.ndarray, by: By, symmetry: Symmetry):
        self.names, self.by, self.symmetry = names, by, symmetry
        _, first, dense = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(len(first), np.int64)
        rank[np.argsort(first)] = np.arange(len(first))
        self.labels: np.ndarray = rank[dense.ravel()]
        self.which = which
        self.total = len(names)
        self._count = len(first)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[EquivalenceClass]:
        return iter(self.classes)

    def __repr__(self) -> str:
        return f"Deduplication({self.total} strings, {self._count} classes, by={self.by!r}, symmetry={self.symmetry!r})"

    @functools.cached_property
    def representative_index(self) -> np.ndarray:
        """Index (into the inputs) of each class's representative."""
        if not self.total:
            return np.empty(0, np.int64)
        by_name = np.lexsort((np.array(self.names), self.labels))  # within a class, by name
        last = np.flatnonzero(np.diff(self.labels[by_name], append=self._count))
        return by_name[last]

    @property
    def representatives(self) -> list[str]:
        return [self.names[i] for i in self.representative_index.tolist()]

    @functools.cached_property
    def classes(self) -> list[EquivalenceClass]:
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(self._count + 1)).tolist()
        rep = self.representative_index
        rep_which = self.which[rep][self.labels]
        unknown = (self.which < 0) | (rep_which < 0)
        relation = np.where(unknown, len(TRANSFORMS), self.which ^ rep_which)
        words = np.array([*TRANSFORMS, "~"], dtype=object)[relation[order]]
        members = np.array(self.names, dtype=object)[order]
        reps = self.representatives
        return [
            EquivalenceClass(reps[c], tuple(members[lo:hi]), tuple(words[lo:hi]))
            for c, (lo, hi) in enumerate(itertools.pairwise(bounds))
        ]


@dataclass
class _Outputs:
    """Per input: name, exact class id, transform bit; per exact class: a row (when kept)."""

    names: list[str]
    ids: np.ndarray
    which: np.ndarray
    rows: Rows | None


def deduplicate(
    names: Iterable[str] | Space,
    by: By = "outputs",
    symmetry: Symmetry = "none",
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    progress: bool | None = None,
) -> Deduplication:
    """Group ``names`` (strings, or a :func:`~actlang.search.space` for the fast template path)."""
    if by not in BYS:
        raise UnknownNameError(f"unknown dedup mode {by!r}; expected one of {', '.join(BYS)}")
    symmetry = check_symmetry(symmetry)
    if not (0 <= rtol < 0.5 and 0 <= atol < 0.5):
        raise ActlangError("rtol and atol must lie in [0, 0.5)")
    exact_symmetry = symmetry if by == "outputs" else "none"
    width = len(aquasurf_points())
    keep = by != "outputs"
    wide = symmetry == "sign" and keep
    out = _outputs(names, exact_symmetry, keep, wide, progress)
    if by == "outputs":
        return _finish(out, out.ids, out.which, by, symmetry)
    from actlang.search.merge import merge_numeric, merge_symbolic

    assert out.rows is not None
    labels, which = merge_numeric(out.rows, width, symmetry, rtol, atol)
    if by == "symbolic":
        labels, which = merge_symbolic(out.names, out.ids, labels, symmetry)
    return _finish(out, labels[out.ids], which[out.ids], by, symmetry)


def _outputs(
    names: Iterable[str] | Space, symmetry: Symmetry, keep: bool, wide: bool, progress: bool | None
) -> _Outputs:
    base = aquasurf_points()
    points = points_for(base, "sign" if (symmetry == "sign" or wide) else "none")
    key = key_function(len(base), symmetry)
    if isinstance(names, Space):
        return _space_outputs(names, points, key, keep, progress)
    return _names_outputs(list(names), points, key, keep)


def _space_outputs(space: Space, points: np.ndarray, key: Callable, keep: bool, progress: bool | None) -> _Outputs:
    bar = Progress(len(space), "deduplicating", progress)
    share = [1]
    engine = Engine(points, top_key=key, keep_top_rows=keep, progress=lambda f: bar(f * share[0]))
    registry: dict[bytes, int] = {}
    names: list[str] = []
    ids, which, rows = [], [], []
    count = 0  # exact classes with a kept row so far
    for template in space.templates:
        share[0] = template.count
        table = engine.run(template)
        digests = [k[0] for k in table.keys]
        gid = np.array([registry.setdefault(d, len(registry)) for d in digests], np.int64)
        new = gid >= count
        index = table.index.ravel()
        names.extend(expand(template))
        ids.append(gid[index])
        which.append(np.array([k[1] for k in table.keys], np.int8)[index])
        if keep and table.rows is not None:
            fresh = np.flatnonzero(new)
            in_order = len(fresh) == len(gid) and bool((np.diff(gid) == 1).all())
            rows.append(table.rows if in_order else table.rows[fresh[np.argsort(gid[fresh])]])
            count += len(fresh)
    bar.close()
    # The blocks are not concatenated: for the large space that would hold two copies of ~1.7 GB.
    return _Outputs(names, np.concatenate(ids), np.concatenate(which), Rows(rows) if keep else None)


def _names_outputs(names: list[str], points: np.ndarray, key: Callable, keep: bool) -> _Outputs:
    from actlang.search.exprs import evaluate_many
    from actlang.search.space import parse_names

    exprs = parse_names(names)
    registry: dict[bytes, int] = {}
    ids = np.empty(len(names), np.int64)
    which = np.empty(len(names), np.int8)
    rows = []
    step = 8192
    for start in range(0, len(exprs), step):
        block = evaluate_many(exprs[start : start + step], points)
        for i, row in enumerate(block):
            digest, bit = key(row)
            found = registry.setdefault(digest, len(registry))
            if keep and found == len(rows):
                rows.append(row)
            ids[start + i], which[start + i] = found, bit
    return _Outputs(names, ids, which, Rows([np.stack(rows)]) if keep and rows else None)


def _finish(out: _Outputs, labels: np.ndarray, which: np.ndarray, by: By, symmetry: Symmetry) -> Deduplication:
    return Deduplication(out.names, labels, which, by, symmetry)

