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

import sympy as sp

from actlang.symbolic.functions import elementary
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
    if expr.has(*_KINKED):
        return _cases(expr)
    return _smooth_zero(expr, X)


def _normalise(expr: sp.Expr) -> sp.Expr:
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
