"""Numeric side of equivalence: the deterministic probe, float comparison, high-precision checks.

The probe (:func:`probe_points`) is fixed: every multiple of 1/40 in [−10, 10] (all integers,
halves, quarters), points 1e−3, 1e−6 and 1e−9 either side of each kink candidate (0, ±0.5, ±1,
±2, ±3, ±6, and every number and hyperparameter in the expressions), a log-spaced sweep of |x|
from 1e−12 to 1e4, and a few irrational-looking points. Learned parameters are probed at their
initial values and at a few other values (a learned parameter is free: an identity must hold for
every value).

A float mismatch is only a counterexample once a 50-digit evaluation of both trees
(:func:`precise`), node by node from the registry's sympy forms, confirms it; that separates a
true difference (also at a point where one side is undefined) from float overflow such as
``log(1 + exp(1000)) = inf``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import sympy as sp

from actlang.ast import Call, Constant, Expr, Input, Num, Param, params, walk
from actlang.evaluate import evaluate, expand_definition
from actlang.registry import lookup
from actlang.symbolic.functions import sympy_hyper

DIGITS = 50
RTOL, ATOL = 1e-9, 1e-12


def kink_candidates(exprs: Iterable[Expr]) -> set[float]:
    """Numbers where piecewise things tend to switch: small integers and every literal."""
    found = {0.0, 0.5, 1.0, 2.0, 3.0, 6.0}
    for expr in exprs:
        for node in walk(expr):
            if isinstance(node, Num):
                found.add(node.value)
            elif isinstance(node, Call):
                found.update(float(v) for _, v in node.hyper if isinstance(v, int | float) and not isinstance(v, bool))
    return {v for v in found if math.isfinite(v) and abs(v) < 1e6}


def probe_points(exprs: Iterable[Expr], extra: Iterable[float] = ()) -> np.ndarray:
    """The deterministic probe for ``exprs`` (see module docstring), sorted, without duplicates."""
    exprs = list(exprs)
    grid = np.arange(-400, 401) / 40.0
    kinks = [s * k for k in kink_candidates(exprs) for s in (1.0, -1.0)]
    near = [k + d for k in kinks for d in (-1e-3, -1e-6, -1e-9, 0.0, 1e-9, 1e-6, 1e-3)]
    sweep = np.logspace(-12, 4, 49)
    odd = [0.1234567, 0.7071, 1.41421, 2.71828, 3.14159, 7.389, 13.37, 42.42]
    points = np.concatenate([grid, near, sweep, -sweep, odd, [-v for v in odd], list(extra)])
    return np.unique(points[np.isfinite(points)])


def param_assignments(exprs: Iterable[Expr]) -> list[dict[str, float]]:
    """Parameter values to probe: initial values, then shifted ones (deterministic)."""
    initial: dict[str, float] = {}
    for expr in exprs:
        for name, value in params(expr).items():
            initial.setdefault(name, value)
    if not initial:
        return [{}]
    shifts = [(0.0, 1.0), (0.37, 1.0), (-0.61, 1.0), (0.0, -1.0), (1.3, 1.0)]
    return [{name: (v + a) * b if (v + a) * b != 0 else 0.5 for name, v in initial.items()} for a, b in shifts]


def close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: equal within RTOL/ATOL, or both NaN, or the same infinity."""
    with np.errstate(all="ignore"):
        both_nan = np.isnan(a) & np.isnan(b)
        same = a == b
        near = np.abs(a - b) <= ATOL + RTOL * np.maximum(np.abs(a), np.abs(b))
    return both_nan | same | (near & np.isfinite(a) & np.isfinite(b))


def safe_evaluate(expr: Expr, xs: np.ndarray, values: Mapping[str, float]) -> np.ndarray:
    """``evaluate`` with the parameters ``expr`` has; a primitive that uses statistics of the whole
    tensor (ASH) sees the probe as one sample of a batch."""
    known = set(params(expr))
    given = {k: v for k, v in values.items() if k in known}
    if xs.ndim == 1 and not all(_pointwise(n) for n in walk(expr)):
        return evaluate(expr, xs[None, :], given)[0]
    return evaluate(expr, xs, given)


def _pointwise(node: Expr) -> bool:
    return not isinstance(node, Call) or (lookup(node.name) is not None and lookup(node.name).pointwise)


# ---- 50-digit evaluation -------------------------------------------------------------------


def precise(expr: Expr, x: float | sp.Expr, values: Mapping[str, float]) -> sp.Expr | None:
    """``expr`` at ``x`` to 50 digits: a real Float, ``sp.nan`` (undefined), ±oo or zoo; ``None``
    when some primitive has no elementary form to evaluate. ``x`` may be an exact sympy number."""
    counters: dict[str, int] = {}
    exact = not isinstance(x, float | int)
    start = x if exact else sp.Float(x, DIGITS)
    try:
        value = _precise(expr, start, values, counters, exact)
        return _realise(value.evalf(DIGITS)) if exact else value
    except (_Opaque, MemoryError, OverflowError, RecursionError, ValueError, TypeError):
        return None  # unknown (e.g. cosh(cosh(cosh(39))) has no 50-digit value mpmath can hold)


class _Opaque(Exception):
    pass


def _precise(expr: Expr, x: sp.Expr, values: Mapping[str, float], counters: dict[str, int], exact: bool) -> sp.Expr:
    """Node by node; with ``exact`` nothing is rounded (so ``√2 − √2`` is exactly 0)."""
    from actlang.symbolic.lowering import number

    match expr:
        case Num(value=value):
            return number(value)
        case Input():
            return x
        case Constant(name=name):
            value = sp.pi if name == "pi" else sp.E
            return value if exact else value.evalf(DIGITS)
        case Param(name=name, init=init):
            return sp.Float(values.get(name, init), DIGITS)
        case Call(name=name, args=args, hyper=hyper):
            vals = [_precise(a, x, values, counters, exact) for a in args]
            if any(v is sp.nan for v in vals):
                return sp.nan
            primitive = lookup(name)
            assert primitive is not None
            hp = dict(hyper)
            learned = {}
            if primitive.stateful:
                site = f"{name}_{counters.setdefault(name, 0)}"
                counters[name] += 1
                learned = {lt.name: sp.Float(float(values.get(f"{site}.{lt.name}", lt.initial(hp))), DIGITS)
                           for lt in primitive.learned}  # fmt: skip
            if name == "div" and vals[1].is_zero:  # IEEE: 0/0 is NaN, a/0 an infinity (sympy says zoo for both)
                return sp.nan if vals[0].is_zero else sp.zoo
            if primitive.sympy is not None:
                try:
                    result = primitive.sympy(sp, *vals, **sympy_hyper(hyper), **learned)
                except ZeroDivisionError:  # IEEE: a/0 is an infinity (its sign rides on a signed zero), 0/0 NaN
                    return sp.nan if vals[0].is_zero else sp.zoo
            elif primitive.definition is not None:
                result = _precise(expand_definition(primitive, hyper), vals[0], {}, {}, exact)
            else:
                raise _Opaque
            result = sp.sympify(result)
            return result if exact else _realise(result.evalf(DIGITS))
    raise TypeError(f"not an actlang expression: {expr!r}")


def _realise(value: sp.Expr) -> sp.Expr:
    """Collapse a numeric sympy value to Float, ±oo/zoo, or nan for anything not real."""
    if value in (sp.oo, -sp.oo, sp.zoo):
        return value
    if value is sp.nan or not value.is_number:
        return sp.nan
    re, im = value.as_real_imag()
    if im != 0 and abs(im) > 10 ** (-DIGITS + 10) * max(1, abs(re)):
        return sp.nan
    return sp.Float(re, DIGITS)


def precise_differ(a: sp.Expr | None, b: sp.Expr | None) -> bool | None:
    """Whether two 50-digit values differ (None when either is unknown)."""
    if a is None or b is None:
        return None
    if a is sp.nan or b is sp.nan:
        return (a is sp.nan) != (b is sp.nan)
    if a.is_infinite or b.is_infinite:
        if a.is_infinite and b.is_infinite:
            return not (a == b or sp.zoo in (a, b))
        return True
    scale = max(abs(a), abs(b), sp.Float(1e-30))
    return bool(abs(a - b) > sp.Float(1e-20) * scale + sp.Float(1e-40))


# ---- where the domain may differ -----------------------------------------------------------

# Arguments whose zeros are where an operation is undefined or infinite: a division's
# denominator, a reciprocal's and a power's base, a logarithm's argument (x/x is NaN at 0 although
# sympy cancels it to 1, so these points are checked exactly).
SINGULAR_ARGUMENT = {"div": 1, "reciprocal": 0, "pow": 0, "log": 0, "sqrt": 0}


def critical_points(exprs: Iterable[Expr], limit: int = 12) -> list[sp.Expr]:
    """Exact real zeros of the singular arguments in ``exprs`` (those sympy finds as a finite set)."""
    from actlang.symbolic.lowering import to_sympy
    from actlang.symbolic.symbols import X

    found: list[sp.Expr] = []
    for expr in exprs:
        for node in walk(expr):
            if isinstance(node, Call) and node.name in SINGULAR_ARGUMENT:
                argument = to_sympy(node.args[SINGULAR_ARGUMENT[node.name]])
                if not argument.has(X) or argument.free_symbols - {X}:
                    continue
                roots = sp.solveset(argument, X, sp.Reals)
                if isinstance(roots, sp.FiniteSet):
                    found += [r for r in roots if r not in found]
    return found[:limit]


# ---- why a side is undefined ---------------------------------------------------------------


def undefined_reason(expr: Expr, x: float, values: Mapping[str, float]) -> str | None:
    """Why ``expr`` is NaN at ``x``: the innermost node that turns finite arguments into NaN."""
    for node in walk(expr):
        if not isinstance(node, Call):
            continue
        try:
            value = float(safe_evaluate(node, np.array(x), values))
            args = [float(safe_evaluate(a, np.array(x), values)) for a in node.args]
        except Exception:
            return None
        if math.isnan(value) and all(not math.isnan(a) for a in args):
            return _describe(node, args)
    return None


def _describe(node: Call, args: list[float]) -> str:
    shown = ", ".join(f"{a:g}" for a in args)
    reasons = {
        "div": "0/0 (or inf/inf) is undefined",
        "pow": "a negative base to a non-integer power is NaN",
        "log": "log of a negative number is NaN",
        "sqrt": "sqrt of a negative number is NaN",
    }
    reason = reasons.get(node.name, "undefined there")
    return f"{node} is NaN at this point ({node.name} of {shown}: {reason})"
