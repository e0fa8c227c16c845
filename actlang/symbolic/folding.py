"""Folding elementary sympy back into primitives, so results read (and compute) in actlang terms.

:func:`recognise`: structural pattern replacement with one pattern per primitive, derived from
the registry (the primitive's elementary form with a wildcard argument, plus its rewrites in
exponentials and with already-recognised sub-primitives): ``log(1+exp(x)) → softplus(x)``,
``x·sigmoid(x) → silu(x)``, ``(eˣ − e⁻ˣ)/2 → sinh(x)``. Every replacement is an identity of
the form it matched, so folding never changes the value. Exponential ratios fold into sigmoids
first (:mod:`~actlang.symbolic.exponentials`).
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from actlang.registry import primitives
from actlang.symbolic.exponentials import fold_exponentials
from actlang.symbolic.functions import OpaqueFunction, native_form
from actlang.symbolic.lowering import class_form, elementary, function_class, sigmoid

_U = sp.Wild("u")


@functools.cache
def _patterns() -> tuple[tuple[sp.Expr, type[sp.Function]], ...]:
    """(pattern with wildcard ``_U``, class) for every unary primitive lowered to a class."""
    found: list[tuple[sp.Expr, type[sp.Function]]] = []
    for primitive in primitives():
        if primitive.arity != 1 or primitive.learned or primitive.opaque or not primitive.pointwise:
            continue
        defaults = tuple(sorted((h.name, h.default) for h in primitive.hyper))
        if any(isinstance(v, str) and v != "none" for _, v in defaults):
            continue
        if native_form(primitive.name, defaults):
            form = primitive.sympy(sp, _U, **dict(defaults))
            target = form
        else:
            form = class_form(primitive.name, defaults, (_U,))
            target = function_class(primitive.name, defaults)(_U)
        flat = elementary(form)
        variants = {form, flat, sp.expand(flat)}
        if flat.has(sp.sinh, sp.cosh, sp.tanh):  # the exponential spelling of hyperbolics
            variants.add(flat.rewrite(sp.exp))
        if flat.has(sp.erfc):  # erfc as 1 − erf
            variants.add(flat.rewrite(sp.erf))
        for variant in variants:
            skip = variant.has(sp.Piecewise, OpaqueFunction) or variant in (target, _U)
            if not skip and variant.has(_U):
                found.append((variant, target))
    found.append((sp.Max(_U, 0), function_class("relu", ())(_U)))
    # Bigger patterns first, so mish(x) is found before its softplus inside.
    found.sort(key=lambda pair: -sp.count_ops(pair[0]))
    return tuple(found)


def recognise(expr: sp.Expr, rounds: int = 3) -> sp.Expr:
    """``expr`` with sub-expressions that spell a primitive replaced by that primitive.

    Bottom-up; each node is matched whole, or without its numeric coefficient/constant term,
    against each pattern whose function symbols it contains (sympy's general sub-product
    matching is exponential, so it is not used).
    """
    seen: dict[sp.Expr, sp.Expr] = {}  # equal sub-expressions (tanh(softplus(x)) twice) fold once
    for _ in range(rounds):
        before = expr
        expr = _fold(expr, seen)
        expr = fold_exponentials(expr, sigmoid) if expr.has(sp.exp) else expr
        if expr == before:
            break
    return expr


def _fold(expr: sp.Expr, seen: dict[sp.Expr, sp.Expr]) -> sp.Expr:
    if expr.is_Atom or not expr.args:
        return expr
    if expr in seen:
        return seen[expr]
    original = expr
    args = tuple(_fold(a, seen) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    heads = _heads(expr)
    result = expr
    for pattern, target in _patterns():
        if not _heads(pattern) <= heads:
            continue
        found = _match(expr, pattern, target)
        if found is not None:
            result = found
            break
    seen[original] = result
    return result


def _match(expr: sp.Expr, pattern: sp.Expr, target: sp.Expr) -> sp.Expr | None:
    candidates = [(sp.S.Zero, sp.S.One, expr)]
    if expr.is_Mul:
        coeff, rest = expr.as_coeff_Mul()
        if coeff != 1:
            candidates.append((sp.S.Zero, coeff, rest))
    if expr.is_Add:
        const, rest = expr.as_coeff_Add()
        if const != 0:
            candidates.append((const, sp.S.One, rest))
    if expr.is_Mul and pattern.is_Mul and len(pattern.args) < len(expr.args) <= 8:
        for chosen in itertools.combinations(expr.args, len(pattern.args)):
            rest = [f for f in expr.args if f not in chosen]
            candidates.append((sp.S.Zero, sp.Mul(*rest), sp.Mul(*chosen)))
    for const, coeff, part in candidates:
        # sympy's commutative matching is slow; a pattern only ever matches its own kind of node
        if part.func != pattern.func or len(part.args) != len(pattern.args):
            continue
        found = part.match(pattern)
        if found and _U in found and found[_U].free_symbols:
            return const + coeff * target.xreplace(found)
    return None


def _heads(expr: sp.Expr) -> frozenset[type]:
    return frozenset(type(f) for f in expr.atoms(sp.Function))
