"""Proving ``d ≡ 0`` with sympy, by cheap steps first. Every step is an identity transformation,
so a ``True`` answer is a proof (on the common domain of the two sides; the caller checks the
domains numerically). ``False`` means "not proved", never "different".

Steps: structural zero; expand/cancel of the elementary form with hyperbolics, erfc and sigmoid
written in exponentials; the substitution ``t = eˣ`` (``x = log t``, ``t > 0``) with logarithms
expanded, which settles most softplus/sigmoid identities; case splitting of ``Max``, ``Min``,
``Abs``, ``sign``, ``Heaviside`` and ``Piecewise`` into branches, each proved on its own region
(with ``x`` replaced by a positive or negative symbol where the region allows); finally
``sympy.simplify``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from actlang.symbolic.lowering import elementary
from actlang.symbolic.symbols import X

_POS = sp.Symbol("xp", positive=True)
_T = sp.Symbol("t", positive=True)
_KINKED = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise)


def prove_zero(difference: sp.Expr) -> bool:
    """True when ``difference`` is identically zero (a proof); False when not proved."""
    if difference == 0:
        return True
    expr = _normalise(elementary(difference))
    if expr == 0:
        return True
    if expr.has(*_KINKED):  # one variable: split the line; more (max(x, y)): rewrite with |·|
        return _cases(expr) if expr.free_symbols <= {X} else _without_extrema(expr) == 0 or _all_branches(expr)
    return _smooth_zero(expr, X)


def _without_extrema(expr: sp.Expr) -> sp.Expr:
    """``Max(a, b) = (a + b + |a − b|)/2`` and ``Min(a, b) = (a + b − |a − b|)/2`` (identities on
    the reals), expanded: ``max(x, y) + min(x, y) − x − y`` becomes 0 with no case split."""

    def pairwise(args: tuple, sign: int) -> sp.Expr:
        first, *rest = args
        for other in rest:
            first = (first + other + sign * sp.Abs(first - other)) / 2
        return first

    rewritten = expr.replace(lambda e: isinstance(e, sp.Max | sp.Min),
                             lambda e: pairwise(e.args, 1 if isinstance(e, sp.Max) else -1))
    return sp.expand(rewritten)


def _all_branches(expr: sp.Expr, limit: int = 4) -> bool:
    """Zero when every ``|u|`` replaced by ``u`` and by ``−u``, in every combination, gives an
    identical zero: sufficient (each region of the line takes one combination), not necessary."""
    rewritten = _without_extrema(expr)
    if rewritten.has(sp.Max, sp.Min, sp.sign, sp.Heaviside, sp.Piecewise):
        return False
    atoms = sorted(rewritten.atoms(sp.Abs), key=sp.default_sort_key)
    if len(atoms) > limit:
        return False
    for signs in itertools.product((1, -1), repeat=len(atoms)):
        branch = rewritten.xreplace({a: s * a.args[0] for a, s in zip(atoms, signs, strict=True)})
        if sp.expand(branch) != 0 and not _smooth_zero(branch, X):
            return False
    return True


def _normalise(expr: sp.Expr) -> sp.Expr:
    if expr.has(sp.asinh):  # asinh(u) = log(u + √(u² + 1)) on the reals
        expr = expr.replace(sp.asinh, lambda u: sp.log(u + sp.sqrt(u**2 + 1)))
    expr = expr.rewrite(sp.exp).rewrite(sp.erf) if expr.has(sp.sinh, sp.cosh, sp.tanh, sp.erfc) else expr
    return sp.expand(expr)


def _smooth_zero(expr: sp.Expr, var: sp.Symbol) -> bool:
    for step in (sp.cancel, lambda e: _exp_substitution(e, var), sp.simplify):
        try:
            result = step(expr)
        except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
            continue
        if result == 0:
            return True
    return False


def _exp_substitution(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """With ``t = e^var``: every ``e^{k·var}`` is ``t^k`` and ``var`` is ``log t``; logs expanded."""
    if not expr.has(sp.exp) or not expr.has(var):
        return expr
    replaced = expr.replace(
        lambda e: isinstance(e, sp.exp) and (e.args[0] / var).is_rational, lambda e: _T ** (e.args[0] / var)
    )
    replaced = replaced.xreplace({var: sp.log(_T)})
    replaced = replaced.replace(lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(sp.together(e.args[0]))))
    replaced = sp.expand_log(replaced, force=True)
    return sp.cancel(sp.expand(replaced))


def _cases(expr: sp.Expr) -> bool:
    """Split into ``Piecewise`` branches and prove each on the part of the line it governs."""
    folded = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    if not isinstance(folded, sp.Piecewise):
        return _on_region(folded, sp.Reals)
    covered = sp.S.EmptySet
    for value, condition in folded.args:
        try:
            region = (sp.Reals if condition == sp.true else condition.as_set()) - covered
        except (NotImplementedError, TypeError, ValueError, AttributeError):
            if not _on_region(value, sp.Reals):
                return False
            continue
        if not _on_region(value, region):
            return False
        covered = covered | region
    return True


def _on_region(value: sp.Expr, region: sp.Set) -> bool:
    if region is sp.S.EmptySet or region == sp.S.EmptySet:
        return True
    if isinstance(region, sp.FiniteSet):
        return all(sp.simplify(value.subs(X, p)) == 0 for p in region)
    if value.has(*_KINKED) and not isinstance(value, sp.Piecewise):
        value = sp.piecewise_fold(value.rewrite(sp.Piecewise))
        if isinstance(value, sp.Piecewise):
            return _cases(value)
    if region.is_subset(sp.Interval(0, sp.oo)):
        value = value.subs(X, _POS)
    elif region.is_subset(sp.Interval(-sp.oo, 0)):
        value = value.subs(X, -_POS)
    value = sp.expand(value)
    if value == 0:
        return True
    if value.has(*_KINKED):
        return False
    return _smooth_zero(value, _POS if value.has(_POS) else X)
