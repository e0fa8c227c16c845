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
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sympy as sp

from actlang.ast import Expr, Input, substitute_input
from actlang.build import call
from actlang.errors import ActlangError, UnsupportedError
from actlang.symbolic.budget import Deadline, TimeUp, run_with_limit, warm_up, working_time
from actlang.symbolic.probe import (
    close,
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
MAX_BUDGET = 86400.0
PROBE_FLOOR = 0.5
RECHECK_SECONDS = 0.25


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
        }


def equivalent(
    a: Expr | str, b: Expr | str, symmetry: Symmetry = "none", *, budget: float = DEFAULT_BUDGET
) -> Equivalence:
    """Whether ``a`` equals ``b`` (up to ``symmetry``); see the module docstring for verdicts."""
    from actlang.printer import format_expr

    if not isinstance(symmetry, str) or symmetry not in TRANSFORMS:
        raise ActlangError(f"unknown symmetry {symmetry!r}; expected one of {', '.join(TRANSFORMS)}")
    seconds = check_budget(budget)
    a, b = as_expr(a, "a"), as_expr(b, "b")
    warm_up()
    start = time.perf_counter()
    return _timed(_cached(format_expr(a), format_expr(b), a, b, symmetry, seconds), start)


def as_expr(value: object, what: str) -> Expr:
    """``value`` parsed when it is text; an :class:`ActlangError` unless it is text or a tree."""
    from actlang.parser import parse

    if isinstance(value, str):
        return parse(value)
    if isinstance(value, Expr):
        return value
    raise ActlangError(f"{what} must be an actlang expression or its text, not {type(value).__name__}")


def check_budget(budget: object) -> float:
    """A time budget in seconds: a finite number >= 0 (at most a day, so timers accept it)."""
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not math.isfinite(budget) or budget < 0:
        raise ActlangError(f"budget must be a finite number of seconds >= 0, got {budget!r}")
    return min(float(budget), MAX_BUDGET)


def _timed(result: Equivalence, start: float) -> Equivalence:
    return Equivalence(**{**result.__dict__, "seconds": time.perf_counter() - start})


@functools.lru_cache(maxsize=4096)
def _cached(text_a: str, text_b: str, a: Expr, b: Expr, symmetry: Symmetry, budget: float) -> Equivalence:
    start = time.perf_counter()
    budget = working_time(budget)
    deadline = Deadline(budget)
    candidates = [(name, transform(b, name)) for name in TRANSFORMS[symmetry]]
    for name, candidate in candidates:
        if text_a == _text(candidate):  # the same tree (signed zeros included): reflexivity
            return Equivalence("proved", transform=name)
    try:  # the probe gets at least PROBE_FLOOR seconds, so budget=0 still finds counterexamples
        probed = run_with_limit(lambda: [find_difference(a, c) for _, c in candidates], max(budget, PROBE_FLOOR))
    except TimeUp:
        return Equivalence("numeric", transform=candidates[0][0], note="the numeric probe ran out of time")
    except ActlangError:
        raise
    except Exception as error:  # e.g. RecursionError deep inside numpy or sympy: a user-facing error
        raise UnsupportedError(f"cannot evaluate {text_a} or {text_b} ({type(error).__name__})") from None
    differences = {name: found for (name, _), found in zip(candidates, probed, strict=True) if found is not None}
    undecided: list[tuple[str, str]] = []
    for name, candidate in candidates:
        if name in differences:
            continue
        outcome = _decide(a, candidate, deadline)
        if outcome == "proved":
            return Equivalence("proved", transform=name, seconds=time.perf_counter() - start)
        if isinstance(outcome, Equivalence):
            differences[name] = outcome
        else:
            undecided.append((name, outcome))
    if undecided:
        name, note = undecided[0]
        return Equivalence("numeric", transform=name, note=note, seconds=time.perf_counter() - start)
    return _timed(differences[candidates[0][0]], start)


def _text(expr: Expr) -> str:
    from actlang.printer import format_expr

    return format_expr(expr)


def _decide(a: Expr, b: Expr, deadline: Deadline) -> str | Equivalence:
    """``"proved"``, a domain difference, or the reason there is no proof (a note)."""
    from actlang.symbolic.domain import DomainCheck, compare_domains

    try:
        domain: DomainCheck = run_with_limit(lambda: compare_domains(a, b), deadline.remaining())
    except TimeUp:
        return "no time was left to compare where the two sides are defined"
    except Exception as error:  # sympy failing on the way: undecided, never a crash or a proof
        return f"the domain is undecided: sympy failed ({type(error).__name__})"
    if domain.status == "undecided":
        return domain.reason
    if domain.status == "different":
        return _domain_difference(a, b, domain)
    if _proved(a, b, deadline):
        return "proved"
    return "equal on the probe and with the same domain, but sympy found no proof within the budget"


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
            if differ and any(v is not None and (v.is_infinite or not v.is_finite) for v in (pa, pb)):
                differ = _exactly_differ(a, b, x, values)
            note = ""
            if differ is False and _decimal_differs(a, b, x, values, (va[i], vb[i])):
                differ, note = True, f"they differ at x = {sp.Rational(repr(x))} exactly, and in float64 at x = {x!r}"
            if differ or (differ is None and not _overflow_like(va[i], vb[i])):
                note = note or undefined_reason(a, x, values) or undefined_reason(b, x, values) or ""
                return Equivalence(
                    "different", counterexample=x, params=dict(values), values=(float(va[i]), float(vb[i])), note=note
                )
    return None


def _decimal_differs(a: Expr, b: Expr, x: float, values: dict[str, float], floats: tuple[float, float]) -> bool:
    """Whether a float difference at a short decimal ``x`` (a literal of the expressions, such as
    0.3) holds exactly at that decimal, where its binary value showed none: ``heaviside(x − 0.3)``
    and ``select(x − 0.3, 1, 0)`` differ at x = 3/10, not an ulp beside it. Only finite values on
    both sides count (an infinity or NaN at 50 digits may be underflow)."""
    decimal = sp.Rational(repr(x))
    if len(repr(x)) > 12 or decimal == sp.Rational(x) or not all(map(math.isfinite, floats)):
        return False
    found = [precise(e, decimal, values) for e in (a, b)]
    if any(v is None or not v.is_finite for v in found):
        return False
    return bool(precise_differ(*found))


def _exactly_differ(a: Expr, b: Expr, x: float, values: dict[str, float]) -> bool | None:
    """A NaN or infinity at 50 digits may be underflow: ``mish(−1000)`` is about −1000·e^−1000,
    0 at 50 digits, so ``mish(x)/mish(x)`` looks like 0/0 there. Re-evaluated with enough digits
    to hold ``1 + e^{−|x|}`` (|x| ≤ 1e4 on the probe); None when that is not quick."""
    digits = int(min(max(abs(x), 1.0), 1e4) / math.log(10)) + 60

    def recheck() -> bool | None:
        return precise_differ(precise(a, x, values, digits), precise(b, x, values, digits))

    try:
        return run_with_limit(recheck, RECHECK_SECONDS)
    except TimeUp:
        return None


def _overflow_like(u: float, v: float) -> bool:
    return not (np.isfinite(u) and np.isfinite(v))


def _domain_difference(a: Expr, b: Expr, found) -> Equivalence:
    """The difference the domain check found, with float values and an explanation."""
    x, values = float(found.x), dict(found.params)
    va, vb = (float(safe_evaluate(e, np.array([x]), values)[0]) for e in (a, b))
    note = undefined_reason(a, x, values) or undefined_reason(b, x, values) or ""
    if close(np.array(va), np.array(vb)):
        note = f"they differ at x = {found.exact} exactly; the nearest float does not show it"
    return Equivalence("different", counterexample=x, params=values, values=(va, vb), note=note)


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
