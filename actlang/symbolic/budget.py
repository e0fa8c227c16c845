"""A real time limit for sympy work, which can otherwise run for minutes.

In the main thread a ``SIGALRM`` timer interrupts the computation (sympy is pure Python, so the
exception lands between bytecodes); elsewhere the work runs in a daemon thread that is abandoned
when time is up. Either way the caller gets :class:`TimeUp` after ``seconds``, never a hang.
"""

from __future__ import annotations

import functools
import gc
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimeUp(Exception):
    """The time budget ran out before the work finished."""


class Deadline:
    """A point in time work must finish by; ``remaining()`` seconds are left."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def remaining(self) -> float:
        return self.end - time.perf_counter()

    def expired(self) -> bool:
        return self.remaining() <= 0


@functools.cache
def warm_up() -> None:
    """sympy's one-off set-up — lazily imported modules (polynomials, solvers), the primitive
    pattern table — done once per process outside any budget, like ``import sympy`` itself: a
    first call should not run out of time on costs no later call pays."""
    import sympy as sp

    from actlang.symbolic.folding import _composite_patterns, _patterns
    from actlang.symbolic.symbols import X

    sp.factor(sp.cancel((X**2 - 1) / (X - 1) + sp.exp(X) / (1 + sp.exp(X))))
    sp.solveset(X**2 - 2, X, sp.Reals)
    sp.simplify(sp.Max(X, 0) - sp.Piecewise((X, X > 0), (0, True)))
    _patterns()
    _composite_patterns()


def working_time(budget: float) -> float:
    """The part of a call's ``budget`` its sympy work may use: the rest covers parsing, printing
    and an interrupt that lands late (inside a C call), so the whole call ends within ``budget``."""
    return max(budget - min(0.25, budget / 8), 0.0)


def run_with_limit(work: Callable[[], T], seconds: float) -> T:
    """``work()``, or :class:`TimeUp` once ``seconds`` have passed."""
    if seconds <= 0:
        raise TimeUp
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_alarm(work, seconds)
    return _with_thread(work, seconds)


def _with_alarm(work: Callable[[], T], seconds: float) -> T:
    start = time.perf_counter()
    state = {"active": True}

    def expire(signum, frame):
        if state["active"]:
            # Re-armed: a TimeUp raised inside a gc callback or __del__ is swallowed by Python,
            # so the alarm repeats until one reaches the work.
            if _in_gc_callback(frame):  # would be swallowed (and printed): try again just after
                signal.setitimer(signal.ITIMER_REAL, 0.005)
                return
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            raise TimeUp

    previous = signal.signal(signal.SIGALRM, expire)
    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # an enclosing limit keeps running

    def disarm() -> None:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.perf_counter() - start), 1e-4))

    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer > 0 else seconds)
    try:
        try:
            return work()
        finally:
            disarm()
    except TimeUp:
        disarm()  # again, in case the repeat landed inside the first clean-up
        raise


def _in_gc_callback(frame) -> bool:
    """Whether ``frame`` runs inside one of ``gc.callbacks`` (where an exception is lost)."""
    codes = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    codes.discard(None)
    while codes and frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def _with_thread(work: Callable[[], T], seconds: float) -> T:
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as error:  # handed to the caller below
            box["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeUp
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
