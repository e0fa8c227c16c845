"""A time budget for the symbolic work of one fused-function build.

Building the fused training function asks sympy for derivatives (:mod:`actlang.compiler.fused`'s
symbolic candidates, :mod:`actlang.compiler.chain`'s local forms), which can run for minutes on
inputs such as ``celu[alpha=1e-320](x)``. Every such call in one build shares one deadline; a call
that would pass it gives up, and only the candidates that needed it are dropped (the checkpoint
and plain strategies need no sympy), so the first training call stays within the budget.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

BUDGET = 2.5  # seconds of symbolic work per build
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("fused_deadline", default=None)


class OutOfTime(Exception):
    """The build's symbolic budget ran out before this derivative was found."""


@contextlib.contextmanager
def budget(seconds: float = BUDGET) -> Iterator[None]:
    """Run a build with ``seconds`` of symbolic work in all (nested builds share the outer one)."""
    import time

    if _deadline.get() is not None:
        yield
        return
    token = _deadline.set(time.perf_counter() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def limited(work: Callable[[], T]) -> T:
    """``work()`` within what is left of the build's budget, or :class:`OutOfTime`."""
    import time

    end = _deadline.get()
    if end is None:
        return work()
    from actlang.symbolic.budget import TimeUp, run_with_limit

    remaining = end - time.perf_counter()
    if remaining <= 0:
        raise OutOfTime
    try:
        return run_with_limit(work, remaining)
    except TimeUp:
        raise OutOfTime from None
