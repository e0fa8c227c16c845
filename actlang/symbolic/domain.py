"""Where each side is defined: the half of an equivalence proof that sympy's algebra skips.

sympy proves ``a − b ≡ 0`` on the points where every intermediate expression is defined (it
cancels ``x/x`` to ``1``). :func:`compare_domains` settles the rest *exactly*, on the whole real
line:

1. **Guards.** Every operation that is undefined or infinite somewhere contributes its argument:
   a denominator or a negative power's base (infinite at its zeros), a logarithm's argument or a
   fractional power's base (NaN where negative). They come from each AST node's elementary form,
   so a primitive's own guards count (``log1p``: ``1 + x``) and sympy's automatic cancellation
   of the whole tree cannot hide them. Guards sympy proves positive (``1 + eˣ``) are dropped.
2. **Critical points**: the exact real zeros of every guard (``solveset``, elementary form, so
   ``σ(x) = 1/4`` gives ``x = −log 3``), and the branch points of any ``select``/step inside a
   guard. The zero set must be finite and found completely, and a float sweep confirms that
   every sign change of a guard brackets one of the points; otherwise the domain is undecided.
3. At each critical point both sides are evaluated exactly (learned scalars stay symbols): both
   NaN, or equal, or a pole on both sides (the sign of a pole's infinity follows the sign of a
   zero, which real arithmetic does not have, so it is not compared).
4. Between consecutive critical points every guard keeps its sign, so each side is defined on
   the whole open interval or nowhere on it: one exact evaluation inside each interval decides
   which. Both defined there means the sympy proof covers the interval (a − b is continuous and
   vanishes off a finite set); both undefined means both are NaN throughout.

Anything this cannot settle — a guard that depends on a learned scalar, a zero set sympy cannot
write (``sin(x)`` in a denominator), an irrational point whose value sympy cannot decide — is
``undecided`` with the reason, and ``equivalent`` answers ``"numeric"``. Opaque primitives (CPAB,
ASH, mixtures) are taken to be defined wherever their argument is.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sympy as sp

from actlang.ast import Call, Expr, params, walk
from actlang.exact import exact_cache
from actlang.registry import lookup
from actlang.symbolic.functions import dummies, is_elementary
from actlang.symbolic.lowering import class_form, elementary, to_sympy
from actlang.symbolic.probe import exact_value, precise, probe_points, safe_evaluate
from actlang.symbolic.symbols import X

Status = Literal["same", "different", "undecided"]
MAX_GUARDS, MAX_POINTS = 40, 40
_TOTAL = (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.asinh, sp.atan, sp.erf, sp.erfc, sp.besseli,
          sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside, sp.Piecewise)
_LEARNED = sp.Symbol("learned_tensor", real=True)


class Undecided(Exception):
    """The domain comparison cannot be settled; the message says why."""


@dataclass(frozen=True)
class DomainCheck:
    """``same``: both sides defined at the same points and equal at every critical point;
    ``different``: a confirmed point ``x`` (with ``params``) where they are not; ``undecided``."""

    status: Status
    reason: str = ""
    x: float | None = None
    exact: sp.Expr | None = None
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    """``expr`` (elementary, in ``X``) must be non-zero (``nonzero``) or also non-negative (``sign``)."""

    kind: Literal["nonzero", "sign"]
    expr: sp.Expr


def compare_domains(a: Expr, b: Expr) -> DomainCheck:
    """Whether ``a`` and ``b`` are defined at the same real points and agree at every critical one."""
    try:
        guards = _unique(collect_guards(a) + collect_guards(b))
        points = critical_points(guards)
        for point in points:
            found = _at_point(a, b, point)
            if found is not None:
                return found
        return _on_intervals(a, b, points)
    except Undecided as why:
        return DomainCheck("undecided", f"the domain is undecided: {why}")


# ---- guards ---------------------------------------------------------------------------------


def collect_guards(expr: Expr) -> list[Guard]:
    """The guards of every node of ``expr`` (see module docstring); raises :class:`Undecided`."""
    found: list[Guard] = []
    branching_params = False
    for node in walk(expr):
        if not isinstance(node, Call):
            continue
        primitive = lookup(node.name)
        if primitive is None or primitive.opaque or not is_elementary(primitive, node.hyper):
            continue  # opaque: defined wherever its argument is
        arity = primitive.arity if primitive.arity is not None else len(node.args)
        placeholders = dummies(arity + len(primitive.learned))
        args = [elementary(to_sympy(arg)) for arg in node.args]
        mapping = dict(zip(placeholders, [*args, *([_LEARNED] * len(primitive.learned))], strict=True))
        guards, powers, branches = _templates(node.name, node.hyper, arity)
        found += [Guard(kind, template.xreplace(mapping)) for kind, template in guards]
        found += _power_guards(node, powers, mapping)
        branching_params |= any(t.xreplace(mapping).free_symbols - {X} for t in branches)
    guards = [g for g in found if not _safe(g)]
    if branching_params and guards:
        raise Undecided(f"{expr} branches on a learned scalar and has points where it is undefined")
    for guard in guards:
        if guard.expr.free_symbols - {X}:
            raise Undecided(f"where {guard.expr} vanishes depends on a learned scalar")
    return guards


def _power_guards(node: Call, powers: tuple[tuple[sp.Expr, sp.Expr], ...], mapping: dict) -> list[Guard]:
    """Guards of ``base^exponent`` once the arguments are known: a negative integer power needs a
    non-zero base, a fractional one a non-negative base, a variable one a positive base."""
    found = []
    for base_template, exponent_template in powers:
        base, exponent = base_template.xreplace(mapping), exponent_template.xreplace(mapping)
        if exponent.is_number and exponent.is_integer:
            if exponent.is_negative:
                found.append(Guard("nonzero", base))
        elif exponent.is_number:
            found.append(Guard("sign", base))
        elif not base.is_positive:
            raise Undecided(f"{node} raises a base that may be negative to a variable power")
    return found


@exact_cache()  # hyper keyed bit for bit (actlang.exact)
def _templates(name: str, hyper: tuple, arity: int) -> tuple[tuple, tuple, tuple]:
    """Guard templates of ``name[hyper]`` in its dummies: (kind, argument) pairs, (base,
    exponent) pairs of its powers, and the expressions it branches on."""
    primitive = lookup(name)
    assert primitive is not None
    placeholders = dummies(arity + len(primitive.learned))
    form = elementary(class_form(name, hyper, placeholders))
    guards: list[tuple[str, sp.Expr]] = []
    powers: list[tuple[sp.Expr, sp.Expr]] = []
    branches: list[sp.Expr] = []
    for node in sp.preorder_traversal(form):
        if isinstance(node, sp.Pow):
            powers.append((node.base, node.exp))
        elif isinstance(node, sp.log):
            guards.append(("sign", node.args[0]))
        elif isinstance(node, sp.Piecewise):
            branches += [_branch_expr(c) for _, c in node.args if c != sp.true]
        elif isinstance(node, sp.Heaviside | sp.sign):
            branches.append(node.args[0])
        elif isinstance(node, sp.Function) and not isinstance(node, _TOTAL) and node.has(*placeholders):
            if not type(node).__module__.startswith("actlang"):  # an opaque mixture inside adact
                raise Undecided(f"{name} uses {type(node).__name__}, whose domain is not known")
    return tuple(guards), tuple(powers), tuple(branches)


def _branch_expr(condition: sp.Basic) -> sp.Expr:
    """One expression whose zeros are where ``condition`` may switch (a product of the sides)."""
    relations = condition.atoms(sp.core.relational.Relational)
    return sp.Mul(*(r.lhs - r.rhs for r in relations)) if relations else sp.S.One


def _safe(guard: Guard) -> bool:
    """Guards that never fail: sympy proves them positive (or non-zero, for ``nonzero``)."""
    expr = guard.expr
    if expr.is_positive or (guard.kind == "nonzero" and expr.is_nonzero):
        return True
    if not expr.has(X) and not expr.free_symbols:
        if expr.is_zero or expr.equals(0):
            raise Undecided(f"{expr} is zero everywhere")
        return True  # a constant: the side is defined everywhere or nowhere, one sample tells
    return False


def _unique(guards: list[Guard]) -> list[Guard]:
    seen: dict[sp.Expr, Guard] = {}
    for guard in guards:
        seen.setdefault(guard.expr, guard)
    if len(seen) > MAX_GUARDS:
        raise Undecided(f"more than {MAX_GUARDS} places where a side may be undefined")
    return list(seen.values())


# ---- critical points ------------------------------------------------------------------------


def critical_points(guards: list[Guard]) -> list[sp.Expr]:
    """Exact real zeros of the guards and branch points inside them, sorted; raises Undecided."""
    points: list[sp.Expr] = []
    for guard in guards:
        points += _zeros(guard.expr, interval_ok=False)
        for inner in _inner_branches(guard.expr):
            points += _zeros(inner, interval_ok=True)
    unique = sorted(set(points), key=lambda p: float(p.evalf(30)))
    values = [float(p.evalf(30)) for p in unique]
    if len(unique) > MAX_POINTS:
        raise Undecided(f"more than {MAX_POINTS} critical points")
    if any(u == v for u, v in itertools.pairwise(values)):
        raise Undecided("two critical points are closer than float precision")
    for guard in guards:
        _check_sign_changes(guard.expr, values)
    return unique


def _inner_branches(expr: sp.Expr) -> list[sp.Expr]:
    found: list[sp.Expr] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Piecewise):
            found += [_branch_expr(c) for _, c in node.args if c != sp.true]
        elif isinstance(node, sp.Heaviside | sp.sign):
            found.append(node.args[0])
    return [f for f in found if f.has(X)]


def _zeros(expr: sp.Expr, interval_ok: bool) -> list[sp.Expr]:
    """Real zeros of ``expr`` (the boundary points of its zero set when ``interval_ok``)."""
    solutions = sp.solveset(expr, X, sp.Reals)
    if solutions is sp.S.EmptySet:
        return []
    if isinstance(solutions, sp.ConditionSet | sp.ImageSet) or solutions.has(sp.ImageSet, sp.ConditionSet):
        raise Undecided(f"sympy cannot find every x where {expr} = 0")
    if not isinstance(solutions, sp.FiniteSet):
        if not interval_ok:
            raise Undecided(f"{expr} is zero on a whole interval")
        solutions = solutions.boundary
        if not isinstance(solutions, sp.FiniteSet):
            raise Undecided(f"sympy cannot find every x where {expr} = 0")
    roots = [r for r in solutions if r.is_finite is not False]
    for root in roots:
        if root.is_real is not True:
            raise Undecided(f"sympy cannot tell whether the root {root} of {expr} is real")
    return roots


def _check_sign_changes(expr: sp.Expr, points: list[float]) -> None:
    """Every sign change of ``expr`` on the probe grid must bracket a critical point (a guard
    against a root that ``solveset`` left out)."""
    try:
        function = sp.lambdify(X, expr, modules=["scipy", "numpy"])
        xs = np.unique(np.concatenate([np.arange(-2000, 2001) / 100.0, probe_points([])]))
        with np.errstate(all="ignore"):
            values = np.asarray(function(xs), dtype=float) * np.ones_like(xs)
    except Exception:  # no float form (e.g. an unusual special function): nothing to cross-check
        return
    signs = np.sign(values)
    for i in np.flatnonzero(signs[:-1] * signs[1:] < 0):
        low, high = xs[i], xs[i + 1]
        if not any(low <= p <= high for p in points):
            raise Undecided(f"{expr} changes sign between {low:g} and {high:g} at a point sympy did not find")


# ---- deciding ------------------------------------------------------------------------------


def _at_point(a: Expr, b: Expr, point: sp.Expr) -> DomainCheck | None:
    """A difference at the critical ``point``, None when they agree; raises Undecided."""
    found_a, found_b = exact_value(a, point), exact_value(b, point)
    if found_a is None or found_b is None:
        raise Undecided(f"cannot evaluate both sides exactly at x = {point}")
    (va, pole_a), (vb, pole_b) = found_a, found_b
    agree, values = _agree(va, vb, [a, b])
    if agree:
        return None
    if agree is None or pole_a or pole_b:
        raise Undecided(f"cannot decide whether both sides agree at x = {point}")
    return DomainCheck("different", x=float(point.evalf(30)), exact=point, params=values)


def params_of(a: Expr, b: Expr) -> dict[str, float]:
    return {**params(a), **params(b)}


def _kind(value: sp.Expr) -> str:
    if value is sp.nan:
        return "nan"
    if value in (sp.oo, -sp.oo, sp.zoo):
        return "inf"
    if value.has(sp.nan, sp.oo, sp.zoo, -sp.oo):
        return "unclear"
    return "finite"


def _agree(va: sp.Expr, vb: sp.Expr, exprs: list[Expr]) -> tuple[bool | None, dict[str, float]]:
    """(True/False/None for undecided, the parameter values of a difference)."""
    ka, kb = _kind(va), _kind(vb)
    initial = params_of(*exprs)
    if va == vb and "unclear" not in (ka, kb):
        return True, {}
    if "unclear" in (ka, kb):
        return None, {}
    if ka != kb:
        return False, dict(initial)
    if ka == "nan":
        return True, {}
    if ka == "inf":  # a pole's sign is not compared (see module docstring); -oo vs oo is real
        return (True if sp.zoo in (va, vb) else va == vb), dict(initial)
    return _finite_agree(va - vb, exprs)


def _finite_agree(difference: sp.Expr, exprs: list[Expr]) -> tuple[bool | None, dict[str, float]]:
    """Whether two finite exact values are equal for every value of the learned scalars."""
    from actlang.symbolic.probe import param_assignments
    from actlang.symbolic.symbols import param_symbol

    if difference == 0 or sp.simplify(difference) == 0:
        return True, {}
    initial = params_of(*exprs)
    symbols = difference.free_symbols
    if any(s.name not in initial for s in symbols):
        return None, {}  # a primitive's learned tensor: no value to show
    for values in param_assignments(exprs):
        number = difference.xreplace({param_symbol(k): sp.Float(v, 50) for k, v in values.items()}).evalf(50)
        if number.is_number and number.is_finite and abs(number) > sp.Float(1e-30):
            return False, values
    settled = difference.equals(0) if not symbols else None
    return (True if settled else None), {}


def _on_intervals(a: Expr, b: Expr, points: list[sp.Expr]) -> DomainCheck:
    """One exact evaluation inside each open interval between critical points."""
    values = [float(p.evalf(30)) for p in points]
    if not values:
        samples = [0.0]
    else:
        samples = [values[0] - 1.0, *((u + v) / 2 for u, v in itertools.pairwise(values)), values[-1] + 1.0]
    initial = params_of(a, b)
    for sample in samples:
        if not math.isfinite(sample):
            raise Undecided("a critical point lies beyond the float range")
        defined_a, defined_b = _defined(a, sample, initial), _defined(b, sample, initial)
        if defined_a is None or defined_b is None:
            raise Undecided(f"cannot tell whether both sides are defined at x = {sample:g}")
        if defined_a != defined_b:
            return DomainCheck("different", x=sample, exact=sp.Rational(sample), params=dict(initial))
    return DomainCheck("same")


def _defined(expr: Expr, x: float, values: dict[str, float]) -> bool | None:
    """Whether ``expr`` is a number (not NaN) at ``x``: exactly, or by float when that is all there is."""
    exact = precise(expr, sp.Rational(x), values)
    if exact is not None:
        return exact is not sp.nan
    value = float(safe_evaluate(expr, np.array([x]), values)[0])
    return True if not math.isnan(value) else None
