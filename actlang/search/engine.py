"""Memoised, vectorised float32 evaluation of search spaces.

A template subtree is evaluated once for every combination of the operators in its holes, but
only on *distinct* argument vectors: each node keeps the unique output rows of its subtree and an
index from operator combinations to those rows, so ``relu(identity(x))`` and ``relu(relu(x))``
feed their parent one computation, and ``unary(unary(unary(unary(x))))`` costs about half its
531,441 strings. Rows are bit-identical float32 vectors (NaNs canonicalised to one quiet NaN, which
no TensorFlow kernel can tell apart); identical arguments give identical outputs, so merging them
is exact. Each operator is applied to a whole batch of unique argument rows at once, and the top
node is streamed in chunks that are keyed (hashed) and dropped, so memory stays bounded by the
unique rows of the inner nodes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from actlang.ast import Constant, Input, Num, Param
from actlang.search.template import Fixed, Hole, Node, Op, Template
from actlang.search.tf_kernels import F32, kernel

CHUNK_BYTES = 16 << 20  # rows computed per batch: about 16 MB of float32
KeyFn = Callable[[np.ndarray], bytes]


def aquasurf_points() -> np.ndarray:
    """AQuaSurF's 1,000 points: ``np.random.seed(0); clip(normal(size=1000), -5, 5)``, in float32."""
    return np.clip(np.random.RandomState(0).normal(size=1000), -5, 5).astype(F32)


def canonical(rows: np.ndarray) -> np.ndarray:
    """``rows`` with every NaN replaced by the one canonical quiet NaN (in place; returned)."""
    nan = np.isnan(rows)
    if nan.any():
        rows[nan] = F32(np.nan)
    return rows


def row_key(row: np.ndarray) -> bytes:
    """A 160-bit digest of the row's bytes: equal exactly when the float32 vectors are bit-identical
    (up to a SHA-1 collision)."""
    return hashlib.sha1(row.data).digest()


@dataclass
class Table:
    """A subtree's values: ``rows[index[combo]]`` is its output for an operator combination.

    ``index`` has one axis per hole of the subtree (pre-order); ``keys[i]`` is row i's key.
    ``rows`` is ``None`` for a streamed top node.
    """

    rows: np.ndarray | None
    keys: list[bytes]
    index: np.ndarray


@dataclass
class Engine:
    """Evaluates templates on ``points``; ``top_key`` keys the rows of each template's root."""

    points: np.ndarray
    top_key: KeyFn = row_key
    keep_top_rows: bool = False
    progress: Callable[[float], None] | None = None  # told the share of a root done

    def run(self, template: Template) -> Table:
        """The root table of ``template``; its index axes follow AQuaSurF's product order."""
        table = self._node(template.root, top=True, ops=template.ops)
        index = table.index.transpose(template.order) if table.index.ndim else table.index
        return Table(table.rows, table.keys, np.ascontiguousarray(index))

    def _node(self, node: Node, top: bool, ops: Sequence[tuple[Op, ...]]) -> Table:
        match node:
            case Input():
                return self._leaf(self.points, top)
            case Num(value=value) | Param(init=value):
                return self._leaf(np.full_like(self.points, value), top)
            case Constant(value=value):
                return self._leaf(np.full_like(self.points, value), top)
            case Hole(args=args, slot=slot):
                return self._apply(ops[slot], [self._node(a, False, ops) for a in args], top, hole=True)
            case Fixed(op=op, args=args):
                return self._apply((op,), [self._node(a, False, ops) for a in args], top, hole=False)
        raise TypeError(f"not a template node: {node!r}")

    def _leaf(self, row: np.ndarray, top: bool) -> Table:
        rows = canonical(np.array(row, dtype=F32)[None, :])
        key = self.top_key(rows[0]) if top else row_key(rows[0])
        if self.progress and top:
            self.progress(1.0)
        return Table(rows if (not top or self.keep_top_rows) else None, [key], np.zeros((), np.int64))

    def _apply(self, ops: Sequence[Op], children: list[Table], top: bool, hole: bool) -> Table:
        sizes = tuple(len(c.keys) for c in children)
        total = math.prod(sizes)
        keep = not top or self.keep_top_rows
        key_of = self.top_key if top else row_key
        seen: dict = {}
        kept: list[np.ndarray] = []
        uid = np.empty((len(ops), total), np.int64)
        for k, start, out, keys in self._results(ops, children, sizes, total, key_of):
            fresh = []
            for i, key in enumerate(keys):
                found = seen.get(key)
                if found is None:
                    found = seen[key] = len(seen)
                    fresh.append(i)
                uid[k, start + i] = found
            if keep and fresh:
                kept.append(out[fresh])  # a copy: the batch itself is freed
            if self.progress and top:
                self.progress(len(keys) / (len(ops) * total))
        rows = (np.concatenate(kept) if kept else np.empty((0, len(self.points)), F32)) if keep else None
        uid = uid.reshape((len(ops), *sizes))
        axes = [np.arange(len(ops))] + [c.index.ravel() for c in children]
        index = uid[np.ix_(*axes)]
        shape = (len(ops),) * hole + tuple(s for c in children for s in c.index.shape)
        return Table(rows, list(seen), index.reshape(shape))

    def _results(
        self, ops: Sequence[Op], children: list[Table], sizes: tuple[int, ...], total: int, key_of: KeyFn
    ) -> Iterator[tuple[int, int, np.ndarray, list]]:
        """(operator, first combination, output rows, their keys) for every batch, in order.

        One thread: a two-thread pool (numpy and hashlib release the GIL) measured slower on this
        shared 2-core machine, 15.8–18.4 s against 12.7–15.6 s for the large space.
        """
        width = len(self.points)
        step = max(1, CHUNK_BYTES // (4 * width * max(1, len(children))))
        tasks = ((k, start, min(total, start + step)) for k in range(len(ops)) for start in range(0, total, step))
        fns = [kernel(op.name, op.hyper) for op in ops]

        def work(task: tuple[int, int, int]) -> tuple[int, int, np.ndarray, list]:
            k, start, stop = task
            out = self._batch(fns[k], children, sizes, start, stop, width)
            return k, start, out, [key_of(row) for row in out]

        yield from map(work, tasks)

    @staticmethod
    def _batch(
        fn: Callable[..., np.ndarray], children: list[Table], sizes: tuple[int, ...], start: int, stop: int, width: int
    ) -> np.ndarray:
        """The operator applied to combinations ``start:stop`` of its children's unique rows."""
        picks = np.unravel_index(np.arange(start, stop), sizes) if len(children) > 1 else (None,)
        args = []
        for child, pick in zip(children, picks, strict=False):
            assert child.rows is not None
            if len(child.keys) == 1:
                args.append(child.rows[0])  # broadcast a single row (x, constants)
            elif pick is None:
                args.append(child.rows[start:stop])
            else:
                args.append(child.rows[pick])
        out = np.broadcast_to(np.asarray(fn(*args), dtype=F32), (stop - start, width))
        return canonical(np.array(out, dtype=F32, order="C"))
