"""One function per property of :func:`~actlang.symbolic.properties.properties`.

Each returns True/False only with a reason that is not a guess, else None:

- ``zero_at_zero``: sympy evaluates ``f(0)`` exactly (True when it is 0), or a 50-digit value is
  certainly non-zero (False).
- ``odd`` / ``even``: :func:`equivalent` of ``f`` with ``−f(−x)`` / ``f(−x)``: ``"proved"`` → True,
  ``"different"`` (a confirmed counterexample) → False.
- ``monotone``: False from three probe points, confirmed at 50 digits, where ``f`` rises then
  falls (or falls then rises); True when sympy proves ``f' ≥ 0`` or ``f' ≤ 0`` from the
  assumptions of its elementary form (e.g. ``eˣ > 0``).
- ``bounded_below`` / ``bounded_above``: False when sympy's limit at ±∞ is ∓∞ / ±∞; True when
  sympy's ``function_range`` finds a finite bound; only for forms without kinks (sympy's limits of
  ``Piecewise`` are unreliable), else None.
- ``smooth`` (C¹ on the whole line): True when the elementary form has no kink (Max, Min, Abs,
  Piecewise, sign, step) and nothing undefined anywhere (no division, log, root or power with a
  variable exponent); False when the derivative's one-sided limits differ at a kink.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from actlang.ast import Expr, params
from actlang.build import call
from actlang.symbolic.lowering import elementary, to_sympy
from actlang.symbolic.probe import precise, probe_points, safe_evaluate
from actlang.symbolic.symbols import X

_KINKS = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise)


def zero_at_zero(expr: Expr, budget: float) -> bool | None:
    value = sp.simplify(elementary(to_sympy(expr)).subs(X, 0))
    if value.is_number and value.is_zero is not None:
        return bool(value.is_zero)
    exact = precise(expr, 0.0, params(expr))
    if exact is not None and exact.is_Float and abs(exact) > 1e-30:
        return False
    return None


def odd(expr: Expr, budget: float) -> bool | None:
    return _symmetric(expr, call("neg", _reflect(expr)), budget)


def even(expr: Expr, budget: float) -> bool | None:
    return _symmetric(expr, _reflect(expr), budget)


def _reflect(expr: Expr) -> Expr:
    from actlang.symbolic.equivalence import transform

    return transform(expr, "f(-x)")


def _symmetric(expr: Expr, other: Expr, budget: float) -> bool | None:
    from actlang.symbolic.equivalence import equivalent

    verdict = equivalent(expr, other, budget=budget).verdict
    return {"proved": True, "different": False}.get(verdict)


def monotone(expr: Expr, budget: float) -> bool | None:
    if _turns(expr):
        return False
    slope = elementary(sp.diff(to_sympy(expr), X))
    if slope.is_nonnegative or slope.is_nonpositive:
        return True
    return None


def _turns(expr: Expr) -> bool:
    """Three probe points where ``f`` goes up then down (or down then up), confirmed precisely."""
    xs = probe_points([expr])
    xs = xs[np.abs(xs) <= 50]
    values = safe_evaluate(expr, xs, params(expr))
    ok = np.isfinite(values)
    xs, values = xs[ok], values[ok]
    steps = np.sign(np.diff(values))
    moving = np.flatnonzero(steps != 0)
    turns = [k for k, n in itertools.pairwise(moving) if steps[k] != steps[n]]
    if not turns:
        return False
    i = turns[0]
    j = int(moving[np.searchsorted(moving, i) + 1])  # the next step that moves, the other way
    points = [float(xs[i]), float(xs[j]), float(xs[j + 1])]
    exact = [precise(expr, p, params(expr)) for p in points]
    if any(v is None or not v.is_Float for v in exact):
        return False
    first, second = exact[1] - exact[0], exact[2] - exact[1]
    margin = sp.Float(1e-30)
    return bool((first > margin and second < -margin) or (first < -margin and second > margin))


def bounded_below(expr: Expr, budget: float) -> bool | None:
    return _bounded(expr, -1)


def bounded_above(expr: Expr, budget: float) -> bool | None:
    return _bounded(expr, 1)


def _bounded(expr: Expr, side: int) -> bool | None:
    form = elementary(to_sympy(expr))
    if form.free_symbols - {X} or form.has(*_KINKS):  # sympy's limits of Piecewise are unreliable
        return None
    unbounded = sp.oo * side
    for end in (sp.oo, -sp.oo):
        if sp.limit(form, X, end) == unbounded:
            return False
    span = sp.calculus.util.function_range(form, X, sp.Reals)
    if isinstance(span, sp.Interval):
        bound = span.inf if side < 0 else span.sup
        return bool(bound.is_finite) if bound.is_finite is not None else None
    return None


def smooth(expr: Expr, budget: float) -> bool | None:
    form = elementary(to_sympy(expr))
    if not form.has(*_KINKS) and _defined_everywhere(form):
        return True
    slope = sp.diff(form, X).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    pieces = sp.piecewise_fold(form.rewrite(sp.Piecewise))
    folded = sp.piecewise_fold(slope.rewrite(sp.Piecewise))
    settled = _defined_everywhere(_smooth_parts(pieces))
    for point in _kink_points(form):
        jumps = [_jump(folded, point), _jump(pieces, point)]  # in f', and in f itself
        if any(j is not None and j.is_zero is False for j in jumps):
            return False
        settled = settled and all(j is not None and j.is_zero for j in jumps)
    # Every kink checked: f and f' continuous across it, and each piece smooth and defined.
    return True if settled else None


def _jump(folded: sp.Expr, point: sp.Expr) -> sp.Expr | None:
    left, right = _side(folded, point, -1), _side(folded, point, 1)
    if left is None or right is None:
        return None
    jump = sp.simplify(sp.limit(left, X, point, dir="-") - sp.limit(right, X, point, dir="+"))
    return jump if jump.is_number and jump.is_finite else None


def _smooth_parts(folded: sp.Expr) -> sp.Expr:
    """The pieces of a piecewise expression side by side (a sum), to check each is defined."""
    if isinstance(folded, sp.Piecewise):
        return sp.Add(*(value for value, _ in folded.args), evaluate=False)
    return folded


def _side(folded: sp.Expr, point: sp.Expr, direction: int) -> sp.Expr | None:
    """The smooth piece of a piecewise ``folded`` that governs an interval ending at ``point``
    on the given side (sympy's own one-sided limits of a Piecewise are unreliable at its breaks)."""
    if not isinstance(folded, sp.Piecewise):
        return None if folded.has(*_KINKS) else folded
    covered = sp.S.EmptySet
    for value, condition in folded.args:
        region = (sp.Reals if condition == sp.true else condition.as_set()) - covered
        covered = covered | region
        pieces = region.args if isinstance(region, sp.Union) else (region,)
        for piece in pieces:
            if not isinstance(piece, sp.Interval) or value.has(*_KINKS):
                continue
            if (direction < 0 and piece.sup == point and piece.inf < point) or (
                direction > 0 and piece.inf == point and piece.sup > point
            ):
                return value
    return None


def _defined_everywhere(form: sp.Expr) -> bool:
    for node in sp.preorder_traversal(form):
        if isinstance(node, sp.Pow) and node.base.has(X):
            if not (node.exp.is_Integer and (node.exp > 0 or node.base.is_positive)):
                return False
        if isinstance(node, sp.Pow) and node.exp.has(X) and not node.base.is_positive:
            return False
        if isinstance(node, sp.log) and not node.args[0].is_positive:
            return False
        if isinstance(node, sp.Function) and not isinstance(node, sp.exp | sp.sin | sp.cos | sp.sinh | sp.cosh
                                                            | sp.tanh | sp.erf | sp.erfc | sp.atan | sp.asinh | sp.log):
            return False
    return True


def _kink_points(form: sp.Expr) -> list[sp.Expr]:
    """Real points where a Max/Min/Abs/Piecewise switches branch (roots of its arguments)."""
    folded = sp.piecewise_fold(form.rewrite(sp.Piecewise))
    points: set[sp.Expr] = set()
    conditions = [c for _, c in folded.args] if isinstance(folded, sp.Piecewise) else []
    for condition in conditions:
        for relation in condition.atoms(sp.core.relational.Relational):
            roots = sp.solveset(relation.lhs - relation.rhs, X, sp.Reals)
            if isinstance(roots, sp.FiniteSet):
                points |= set(roots)
    return sorted(points, key=sp.default_sort_key)

