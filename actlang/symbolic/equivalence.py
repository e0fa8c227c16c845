"""``equivalent(a, b)``: are two activations the same function of ``x``?

Two expressions are *equivalent* when, for every real ``x`` and every value of their learned
scalars, both are undefined (NaN) or both are defined and equal (an infinity counts as a value).
Float overflow is not a difference: ``log(1 + exp(x))`` is ``softplus(x)`` although it evaluates
to ``inf`` at ``x = 1000``.

Verdicts:

- ``"different"``: a counterexample ``x`` (with ``params``) where ``actlang.evaluate`` gives
  different values and a 50-digit evaluation confirms it. ``note`` says when one side is undefined
  there and why (``x/x`` at 0, a negative base to a non-integer power).
- ``"proved"``: the dense deterministic probe found no difference *and* sympy proved the
  difference identically zero (:mod:`actlang.symbolic.proof`). Never from sampling alone.
- ``"numeric"``: no difference on the probe, but no proof within the time budget.

With ``symmetry="negation"`` ``b`` may also match as ``−b(x)``; with ``"sign"`` as ``−b(x)``,
``b(−x)`` or ``−b(−x)``; ``transform`` names the one that matched (``"f(x)"`` etc., ``f = b``).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from actlang.ast import Expr, Input, params, substitute_input
from actlang.build import call
from actlang.errors import ActlangError
from actlang.symbolic.budget import Deadline, TimeUp, run_with_limit
from actlang.symbolic.numeric import (
    close,
    critical_points,
    param_assignments,
    precise,
    precise_differ,
    probe_points,
    safe_evaluate,
    undefined_reason,
)

Verdict = Literal["proved", "numeric", "different"]
Symmetry = Literal["none", "negation", "sign"]
TRANSFORMS: dict[str, tuple[str, ...]] = {
    "none": ("f(x)",),
    "negation": ("f(x)", "-f(x)"),
    "sign": ("f(x)", "-f(x)", "f(-x)", "-f(-x)"),
}
DEFAULT_BUDGET = 2.0


@dataclass(frozen=True)
class Equivalence:
    """The answer of :func:`equivalent`; ``bool()`` is true unless the verdict is ``"different"``."""

    verdict: Verdict
    transform: str | None = None
    counterexample: float | None = None
    params: dict[str, float] = field(default_factory=dict)
    values: tuple[float, float] | None = None
    note: str = ""
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.verdict != "different"

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict, "transform": self.transform, "counterexample": self.counterexample,
            "params": self.params, "values": list(self.values) if self.values else None, "note": self.note,
            "seconds": round(self.seconds, 4),
        }  # fmt: skip


def equivalent(
    a: Expr | str, b: Expr | str, symmetry: Symmetry = "none", *, budget: float = DEFAULT_BUDGET
) -> Equivalence:
    """Whether ``a`` equals ``b`` (up to ``symmetry``); see the module docstring for verdicts."""
    from actlang.parser import parse
    from actlang.printer import format_expr

    if symmetry not in TRANSFORMS:
        raise ActlangError(f"unknown symmetry '{symmetry}'; expected one of {', '.join(TRANSFORMS)}")
    a = parse(a) if isinstance(a, str) else a
    b = parse(b) if isinstance(b, str) else b
    start = time.perf_counter()
    return _timed(_cached(format_expr(a), format_expr(b), a, b, symmetry, float(budget)), start)


def _timed(result: Equivalence, start: float) -> Equivalence:
    return Equivalence(**{**result.__dict__, "seconds": time.perf_counter() - start})


@functools.lru_cache(maxsize=4096)
def _cached(text_a: str, text_b: str, a: Expr, b: Expr, symmetry: Symmetry, budget: float) -> Equivalence:
    start = time.perf_counter()
    deadline = Deadline(budget)
    first_difference: Equivalence | None = None
    matched: list[tuple[str, Expr]] = []
    for name in TRANSFORMS[symmetry]:
        candidate = transform(b, name)
        if candidate == a:  # the same tree: a proof by reflexivity, no probe needed
            return Equivalence("proved", transform=name, seconds=time.perf_counter() - start)
        found = find_difference(a, candidate)
        if found is None:
            matched.append((name, candidate))
        elif first_difference is None:
            first_difference = found
    if not matched:
        assert first_difference is not None
        return _timed(first_difference, start)
    for name, candidate in matched:
        found = _domain_difference(a, candidate, deadline)
        if found is not None:
            if len(matched) == 1:
                return found
            continue
        if _proved(a, candidate, deadline):
            return Equivalence("proved", transform=name, seconds=time.perf_counter() - start)
    return Equivalence("numeric", transform=matched[0][0], seconds=time.perf_counter() - start)


def transform(f: Expr, name: str) -> Expr:
    """``f`` under a sign symmetry: ``f(x)``, ``-f(x)``, ``f(-x)`` or ``-f(-x)``."""
    if name in ("f(-x)", "-f(-x)"):
        f = substitute_input(f, call("neg", Input()))
    return call("neg", f) if name.startswith("-") else f


def find_difference(a: Expr, b: Expr, extra: tuple[float, ...] = (), limit: int = 4) -> Equivalence | None:
    """A confirmed counterexample on the probe, or None when ``a`` and ``b`` agree on it."""
    xs = probe_points([a, b], extra)
    for values in param_assignments([a, b]):
        va, vb = safe_evaluate(a, xs, values), safe_evaluate(b, xs, values)
        bad = np.flatnonzero(~close(va, vb))
        # Nicest candidates first: moderate |x|, both sides finite.
        finite = np.isfinite(va) & np.isfinite(vb)
        tidy = (xs * 40) == np.round(xs * 40)  # grid points (multiples of 1/40) read best
        order = sorted(bad, key=lambda i: (not finite[i], abs(xs[i]) > 20, not tidy[i], abs(xs[i])))
        for i in order[:limit]:
            x = float(xs[i])
            pa, pb = precise(a, x, values), precise(b, x, values)
            differ = precise_differ(pa, pb)
            if differ or (differ is None and not _overflow_like(va[i], vb[i])):
                note = undefined_reason(a, x, values) or undefined_reason(b, x, values) or ""
                return Equivalence(
                    "different", counterexample=x, params=dict(values), values=(float(va[i]), float(vb[i])), note=note
                )
    return None


def _overflow_like(u: float, v: float) -> bool:
    return not (np.isfinite(u) and np.isfinite(v))


def _domain_difference(a: Expr, b: Expr, deadline: Deadline) -> Equivalence | None:
    """A difference at an exact zero of a denominator (or log/sqrt/power base), if any."""

    def search() -> Equivalence | None:
        for root in critical_points([a, b]):
            if root.is_real is False:
                continue
            if precise_differ(precise(a, root, {}), precise(b, root, {})):
                x = float(root)
                va, vb = (float(safe_evaluate(e, np.array(x), {})) for e in (a, b))
                note = undefined_reason(a, x, {}) or undefined_reason(b, x, {}) or ""
                if close(np.array(va), np.array(vb)):
                    note = f"they differ at x = {root} exactly; the nearest float does not show it"
                return Equivalence("different", counterexample=x, values=(va, vb), note=note)
        return None

    if params(a) or params(b):
        return None
    try:
        return run_with_limit(search, deadline.remaining() / 2)
    except Exception:  # TimeUp or sympy failing: no domain difference found
        return None


def _proved(a: Expr, b: Expr, deadline: Deadline) -> bool:
    from actlang.symbolic.lowering import to_sympy
    from actlang.symbolic.proof import prove_zero

    def attempt() -> bool:
        return prove_zero(to_sympy(a) - to_sympy(b))

    try:
        return run_with_limit(attempt, deadline.remaining())
    except TimeUp:
        return False
    except Exception:  # sympy failing on the way means "not proved", never a crash
        return False
