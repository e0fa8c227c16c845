"""Exponential ratios folded into sigmoids: ``e^{−x}/(1+e^{−x})² → σ(x)·σ(−x)``.

An expression whose exponentials all share one argument ``u`` and that is a polynomial in
``s = σ(u)`` once ``e^{ku} = (s/(1−s))^k`` is substituted is rewritten as that polynomial, with
``1 − σ(u)`` spelled ``σ(−u)``. The result never overflows where the exponential ratio would
(inf/inf at |x| ≈ 710). The caller passes the sigmoid to build (the generated class of
:mod:`actlang.symbolic.lowering`, whose derivatives are folded here), so this module imports
nothing from the rest of actlang.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import sympy as sp

Sigmoid = Callable[[sp.Expr], sp.Expr]

MAX_POWER = 6  # e^{ku} with |k| above this is left alone (the rational function grows with k)


def fold_exponentials(expr: sp.Expr, sigmoid: Sigmoid) -> sp.Expr:
    """``expr`` with each largest sub-expression that is a polynomial in some ``σ(u)`` (see
    :func:`fold_whole`) rewritten as that polynomial: the whole, else each term and factor."""
    folded = fold_whole(expr, sigmoid)
    if folded is not expr or not isinstance(expr, sp.Add | sp.Mul | sp.Pow) or not expr.has(sp.exp):
        return folded
    args = [fold_exponentials(arg, sigmoid) for arg in expr.args]
    if isinstance(expr, sp.Mul):  # the factors rational in exponentials fold together: eˣ·σ(−x) → σ(x)
        rational = [a for a in args if _rational_in_exponentials(a)]
        others = [a for a in args if not _rational_in_exponentials(a)]
        if len(rational) > 1 and others:
            return fold_whole(sp.Mul(*rational), sigmoid) * sp.Mul(*others)
    rebuilt = expr.func(*args)
    return fold_whole(rebuilt, sigmoid) if rebuilt != expr else expr


def fold_whole(expr: sp.Expr, sigmoid: Sigmoid) -> sp.Expr:
    """``expr`` as a polynomial in ``σ(u)`` when it is one (see module docstring), else unchanged.

    ``u`` is the exponentials' common argument with the largest coefficient that leaves every
    other one an integer multiple of it (``e^{100x}/(1 + e^{100x})`` → ``σ(100x)``), so a large
    coefficient never becomes a high power. Sigmoids of ``±u`` already present take part
    (``eˣ·σ(−x)`` → ``σ(x)``: the product overflows, the sigmoid does not).
    """
    exps = list(expr.atoms(sp.exp))
    if not exps or not _rational_in_exponentials(expr):
        return expr
    split = [e.args[0].as_coeff_Mul() for e in exps]
    base = split[0][1]
    if any(rest != base or not coeff.is_Rational for coeff, rest in split):
        return expr
    unit = functools.reduce(sp.gcd, [coeff for coeff, _ in split])
    unit = unit if unit.is_positive else -unit
    s = sp.Dummy("s")
    mapping = {}
    for e, (coeff, _) in zip(exps, split, strict=True):
        k = coeff / unit
        if not k.is_Integer or abs(k) > MAX_POWER:
            return expr
        mapping[e] = (s / (1 - s)) ** k
    argument = unit * base
    for term in expr.atoms(sigmoid(argument).func):
        if term.args[0] == argument:
            mapping[term] = s
        elif term.args[0] == -argument:
            mapping[term] = 1 - s
    candidate = sp.factor(sp.cancel(expr.xreplace(mapping)))
    if candidate.has(sp.exp) or not candidate.is_polynomial(s) or candidate.has(sp.zoo, sp.nan):
        return expr
    complement = sp.Dummy("t")
    candidate = candidate.xreplace({s - 1: -complement, 1 - s: complement})
    return candidate.xreplace({s: sigmoid(argument), complement: sigmoid(-argument)})


def _rational_in_exponentials(expr: sp.Expr) -> bool:
    """Whether every exponential sits in a rational position (not inside another function or a
    fractional power): a cheap test before the costly ``cancel``/``factor`` of :func:`fold_whole`."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and not isinstance(node, sp.exp) and node.has(sp.exp):
            return False
        if isinstance(node, sp.Pow) and not node.exp.is_Integer and node.base.has(sp.exp):
            return False
    return True
