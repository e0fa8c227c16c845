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
from typing import Any

import numpy as np
import sympy as sp

from actlang.ast import Call, Constant, Expr, Input, Num, Param, Sites, params, walk
from actlang.evaluate import evaluate, expand_definition, learned_names
from actlang.registry import lookup
from actlang.symbolic.functions import constant_subtree, float_consistent, literal_value, sympy_hyper

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


# Shifted assignments: (shift, sign) of every parameter, and an irrational step: parameter i
# (in name order) is shifted by a further frac(i·step), so parameters that start equal are
# distinct, in differing ratios, on every assignment but the first. Then a few drawn at random.
_SHIFTS = ((0.37, 1.0, math.sqrt(2) - 1), (-0.61, 1.0, math.sqrt(3) - 1), (0.0, -1.0, math.sqrt(5) - 2),
           (1.3, 1.0, math.sqrt(7) - 2))
_RANDOM_DRAWS, _SEED = 2, 20240917


def param_assignments(exprs: Iterable[Expr]) -> list[dict[str, Any]]:
    """Parameter values to probe (deterministic): initial values, then shifted ones (each
    parameter by its own amount, see ``_SHIFTS``), then two drawn at random (fixed seed) within
    ±2 of the initial values. 0 is probed as 0.5. Learned tensors of stateful primitives are
    probed too, by qualified name (``prelu_0.a``; a mixture's logits ``mix_0.w`` as one distinct
    value per argument): they are as free as learned scalars (``prelu(x)`` is not
    ``leaky_relu[slope=0.25](x)``, ``mix(relu, x)`` not ``mix(x, relu)``)."""
    exprs = list(exprs)
    initial: dict[str, float] = {}
    for expr in exprs:
        for name, value in params(expr).items():
            initial.setdefault(name, value)
    tensors = _learned_tensors(exprs)
    if not initial and not tensors:
        return [{}]
    names = sorted([*initial, *tensors])

    def nonzero(value: float) -> float:  # 12 significant digits: 1.784214, not 1.7842140000000002
        return float(f"{value:.12g}") if value != 0 else 0.5

    def value(name: str, moved: float) -> Any:
        if name in initial:
            return nonzero(initial[name] + moved)
        start, size = tensors[name]
        if size is None:
            return float(f"{start + moved:.12g}")
        return [round(start + moved + 0.9 * i, 6) for i in range(size)]  # distinct logits (a list: JSON)

    assignments = [{name: nonzero(v) for name, v in initial.items()}]
    for shift, sign, step in _SHIFTS:
        own = {name: round(i * step % 1.0, 6) for i, name in enumerate(names)}
        assignments.append({name: _signed(value(name, shift + own[name]), name, initial, sign) for name in names})
    rng = np.random.default_rng(_SEED)
    for _ in range(_RANDOM_DRAWS):
        draws = rng.uniform(-2.0, 2.0, len(names))
        assignments.append({name: value(name, round(float(d), 4)) for name, d in zip(names, draws, strict=True)})
    return assignments


def _signed(value: Any, name: str, initial: Mapping[str, float], sign: float) -> Any:
    """A learned scalar's shifted value times ``sign`` (as before: ``(v + shift)·sign``); learned
    tensors keep their sign (a mixture's logits, a slope)."""
    if name not in initial or sign > 0:
        return value
    return -value if value != 0 else 0.5


def _learned_tensors(exprs: list[Expr]) -> dict[str, tuple[float, int | None]]:
    """``{qualified name: (initial value, size)}`` of the numeric learned tensors of each
    expression's stateful sites, numbered as ``evaluate`` numbers them; ``size`` is the number of
    arguments for a variadic primitive (a mixture: one logit each), else None (one value)."""
    found: dict[str, tuple[float, int | None]] = {}
    for expr in exprs:
        sites = Sites()
        for node in walk(expr):
            if not isinstance(node, Call) or (primitive := lookup(node.name)) is None or not primitive.stateful:
                continue
            site = sites.next(node.name)
            for learned in primitive.learned:
                try:
                    start = learned.initial(dict(node.hyper))
                except Exception:  # an initial value that needs more than the call (none so far)
                    continue
                if isinstance(start, int | float) and not isinstance(start, bool):
                    size = len(node.args) if primitive.arity is None else None
                    found.setdefault(f"{site}.{learned.name}", (float(start), size))
    return found


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
    known = set(params(expr)) | set(learned_names(expr))
    given = {k: v for k, v in values.items() if k in known}
    if xs.ndim == 1 and not all(_pointwise(n) for n in walk(expr)):
        return evaluate(expr, xs[None, :], given)[0]
    return evaluate(expr, xs, given)


def _pointwise(node: Expr) -> bool:
    return not isinstance(node, Call) or (lookup(node.name) is not None and lookup(node.name).pointwise)


# ---- 50-digit evaluation -------------------------------------------------------------------


def precise(expr: Expr, x: float | sp.Expr, values: Mapping[str, float], digits: int = DIGITS) -> sp.Expr | None:
    """``expr`` at ``x`` to ``digits`` digits: a real Float, ``sp.nan`` (undefined), ±oo or zoo;
    ``None`` when some primitive has no elementary form to evaluate. ``x`` may be an exact sympy
    number."""
    exact = not isinstance(x, float | int)
    start = x if exact else sp.Float(x, digits)
    try:
        value = _precise(expr, start, _Context(values, exact, digits))
        return _realise(value.evalf(digits), digits) if exact else value
    except (_Opaque, MemoryError, OverflowError, RecursionError, ValueError, TypeError, ZeroDivisionError):
        return None  # unknown (e.g. cosh(cosh(cosh(39))) has no 50-digit value mpmath can hold)


def exact_value(expr: Expr, x: sp.Expr, values: Mapping[str, float] | None = None) -> tuple[sp.Expr, bool] | None:
    """``expr`` at ``x`` without rounding, and whether a pole (division by an exact zero, whose
    IEEE sign rides on the sign of that zero) was passed on into another operation, which makes
    the value uncertain. With ``values=None`` learned scalars stay symbols, so the value holds
    for every parameter value. ``None`` when it cannot be computed."""
    context = _Context(values, True)
    try:
        return sp.sympify(_precise(expr, x, context)), context.pole_used
    except (_Opaque, MemoryError, OverflowError, RecursionError, ValueError, TypeError, ZeroDivisionError):
        return None


class _Opaque(Exception):
    pass


class _Context:
    """State of one evaluation: parameter values (None: symbols), exactness, stateful-site
    names (numbered as ``evaluate`` numbers them), and whether a pole fed another node."""

    def __init__(self, values: Mapping[str, float] | None, exact: bool, digits: int = DIGITS) -> None:
        self.values, self.exact, self.digits = values, exact, digits
        self.sites = Sites()
        self.pole_used = False

    def param(self, name: str, init: float) -> sp.Expr:
        if self.values is None:
            from actlang.symbolic.symbols import param_symbol

            return param_symbol(name)
        return sp.Float(self.values.get(name, init), self.digits)

    def learned(self, site: str, name: str, initial: float) -> sp.Expr:
        if self.values is None:
            from actlang.symbolic.symbols import learned_symbol

            return learned_symbol(site, name)
        return sp.Float(float(self.values.get(f"{site}.{name}", initial)), self.digits)


# Operations whose sympy result from an unsigned infinity (zoo) matches IEEE for either sign of
# it: zoo·0 = NaN, a/zoo = 0, zoo·a = zoo, |zoo| = oo (but zoo + zoo is NaN where IEEE may say inf).
_POLE_SAFE = frozenset({"neg", "mul", "div", "reciprocal", "square", "abs", "add", "sub", "identity", "prod_n"})


# Primitives whose float result is a number even when an argument is NaN (torch semantics):
# constants shaped like x, ``select`` with a NaN condition (``where(c > 0, a, b)`` picks ``b``),
# and IEEE ``pow(nan, 0) = pow(1, nan) = 1``.
def _absorbs_nan(name: str, vals: list[sp.Expr]) -> sp.Expr | None:
    """The value of a node that does not depend on its NaN (or otherwise unused) arguments."""
    if name == "zero":
        return sp.S.Zero
    if name == "one":
        return sp.S.One
    if name == "select":  # torch.where: the branch not taken does not matter, NaN or not
        if vals[0] is sp.nan:
            return vals[2]
        if vals[0].is_extended_real and vals[0].is_number and vals[0] is not sp.zoo:
            return vals[1] if vals[0].is_extended_positive else vals[2]
    if name == "pow" and (vals[1] == 0 or vals[0] == 1):
        return sp.S.One
    return None


def _precise(expr: Expr, x: sp.Expr, context: _Context, inside_constant: bool = False) -> sp.Expr:
    """Node by node; when exact nothing is rounded (so ``√2 − √2`` is exactly 0). A constant
    subtree is taken as lowering takes it (:func:`~actlang.symbolic.functions.float_consistent`)."""
    exact = context.exact
    if not inside_constant and constant_subtree(expr):
        value = float_consistent(expr, sp.sympify(_precise(expr, x, _Context({}, True), True)))
        return value if exact else _realise(sp.sympify(value).evalf(context.digits), context.digits)
    match expr:
        case Num() | Constant():
            value = literal_value(expr)
            return value if exact or isinstance(expr, Num) else value.evalf(context.digits)
        case Input():
            return x
        case Param(name=name, init=init):
            return context.param(name, init)
        case Call(name=name, args=args, hyper=hyper):
            vals = [_precise(a, x, context, inside_constant) for a in args]
            absorbed = _absorbs_nan(name, vals)
            if absorbed is not None:
                return absorbed
            if any(v is sp.nan for v in vals):
                return sp.nan
            poles = sum(v is sp.zoo for v in vals)
            if poles and not (name in _POLE_SAFE and (poles == 1 or name not in ("add", "sub"))):
                context.pole_used = True
            primitive = lookup(name)
            assert primitive is not None
            learned = {}
            if primitive.stateful:
                site = context.sites.next(name)
                hp = dict(hyper)
                learned = {lt.name: context.learned(site, lt.name, lt.initial(hp)) for lt in primitive.learned}
            if name in ("div", "reciprocal") and _is_zero(vals[-1], exact):
                # IEEE: 0/0 is NaN, a/0 an infinity whose sign rides on a signed zero (zoo here)
                numerator = vals[0] if name == "div" else sp.S.One
                return sp.nan if _is_zero(numerator, exact) else sp.zoo
            if name == "log" and _is_zero(vals[0], exact):
                return -sp.oo  # IEEE log(0) = -inf (sympy says zoo)
            if primitive.sympy is not None:
                try:
                    result = primitive.sympy(sp, *vals, **sympy_hyper(hyper), **learned)
                except ZeroDivisionError:
                    return sp.nan if vals[0].is_zero else sp.zoo
            elif primitive.definition is not None:
                inner = _Context(context.values, exact, context.digits)
                result = _precise(expand_definition(primitive, hyper), vals[0], inner)
                context.pole_used |= inner.pole_used
            else:
                raise _Opaque
            result = sp.sympify(result)
            if not exact:
                return _realise(result.evalf(context.digits), context.digits)
            # a non-real value is NaN in float arithmetic, and stays NaN (0·NaN is NaN, not 0)
            infinite = result in (sp.zoo, sp.oo, -sp.oo)
            return sp.nan if result.is_number and not infinite and result.is_extended_real is False else result
    raise TypeError(f"not an actlang expression: {expr!r}")


def _is_zero(value: sp.Expr, exact: bool) -> bool:
    """Whether ``value`` is exactly 0; an exact value sympy cannot settle is an error (unknown)."""
    if value.is_zero:
        return True
    if not exact or value.is_zero is False or not value.is_number:
        return False
    settled = value.equals(0)
    if settled is None:
        raise ValueError(f"cannot tell whether {value} is 0")
    return bool(settled)


def _realise(value: sp.Expr, digits: int = DIGITS) -> sp.Expr:
    """Collapse a numeric sympy value to Float, ±oo/zoo, or nan for anything not real."""
    if value in (sp.oo, -sp.oo, sp.zoo):
        return value
    if value is sp.nan or not value.is_number:
        return sp.nan
    re, im = value.as_real_imag()
    if im != 0 and abs(im) > sp.Float(10) ** (-digits + 10) * max(1, abs(re)):
        return sp.nan
    return sp.Float(re, digits)


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
    shown = ", ".join(_shown(a) for a in args)
    reasons = {
        "div": "0/0 (or inf/inf) is undefined",
        "pow": "a negative base to a non-integer power is NaN",
        "log": "log of a negative number is NaN",
        "sqrt": "sqrt of a negative number is NaN",
    }
    reason = reasons.get(node.name, "undefined there")
    return f"{node} is NaN at this point ({node.name} of {shown}: {reason})"


def _shown(value: float) -> str:
    """``value`` as %g, or in full where %g would make a non-integer look like an integer
    (2.9999999999999996 is why a negative base's power is NaN; "3" would say it is not)."""
    short = f"{value:g}"
    return short if float(short).is_integer() == value.is_integer() else repr(value)
