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
from typing import Any

import sympy as sp

from actlang.registry import derived, primitives
from actlang.symbolic.exponentials import fold_exponentials
from actlang.symbolic.functions import OpaqueFunction, native_form
from actlang.symbolic.lowering import class_form, elementary, function_class, sigmoid

_U = sp.Wild("u")


@derived
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


@derived
@functools.cache
def _composite_patterns() -> tuple[tuple[sp.Expr, str, tuple[tuple[str, sp.Wild], ...]], ...]:
    """(pattern, primitive name, (hyperparameter, its wildcard) pairs) for every composite whose
    hyperparameters are all numbers written as bare names in its definition (squareplus:
    ``(x + sqrt(x^2 + b)) / 2``): its elementary form with a wildcard for ``x`` and one for each
    hyperparameter, which matches the composite at any hyperparameter values."""
    from actlang.ast import params
    from actlang.parser import parse
    from actlang.symbolic.lowering import to_sympy
    from actlang.symbolic.symbols import X, param_symbol

    found = []
    for primitive in primitives():
        if primitive.arity != 1 or primitive.definition is None or primitive.sympy is not None:
            continue
        if primitive.stateful or not primitive.pointwise or primitive.stochastic or not primitive.hyper:
            continue
        body = parse(primitive.definition)
        if any(h.kind not in ("float", "int") for h in primitive.hyper) or set(params(body)) != {
            h.name for h in primitive.hyper
        }:
            continue
        wilds = tuple((h.name, sp.Wild(f"hyper_{h.name}", properties=[_exact_number])) for h in primitive.hyper)
        form = elementary(to_sympy(body)).xreplace({X: _U} | {param_symbol(n): w for n, w in wilds})
        found.append((form, primitive.name, wilds))
    return tuple(found)


def _exact_number(value: sp.Expr) -> bool:
    """A rational that a float literal spells exactly (what a hyperparameter value lowers to)."""
    from actlang.symbolic.functions import number

    return bool(value.is_Rational) and number(float(value)) == value


def recognise_composites(expr: sp.Expr) -> sp.Expr:
    """``expr`` with sub-expressions that spell a composite at some hyperparameter values replaced
    by that composite: ``(x + sqrt(x^2 + 1))/2`` → ``squareplus[b=1](x)``. Bottom-up; only values
    the hyperparameter accepts, and only where the replacement is the matched form exactly."""
    if expr.is_Atom or not expr.args:
        return expr
    args = tuple(recognise_composites(a) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    for pattern, name, wilds in _composite_patterns():
        if expr.func != pattern.func or len(expr.args) != len(pattern.args):
            continue
        found = expr.match(pattern)
        if not found or _U not in found or not found[_U].free_symbols:
            continue
        hyper = _accepted(name, {key: float(found[wild]) for key, wild in wilds if wild in found})
        if hyper is not None:
            return function_class(name, hyper)(found[_U])
    return expr


def _accepted(name: str, values: dict[str, float]) -> tuple[tuple[str, Any], ...] | None:
    """The hyperparameters of ``name`` at ``values``, canonical and sorted, or None if invalid."""
    from actlang.registry import lookup

    primitive = lookup(name)
    assert primitive is not None
    try:
        hyper = {h.name: h.coerce(values[h.name]) for h in primitive.hyper}
    except (KeyError, ValueError):
        return None
    if primitive.check is not None and primitive.check(hyper) is not None:
        return None
    return tuple(sorted(hyper.items()))


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
