"""Sympy → AST: :func:`from_sympy`, the inverse of :func:`~actlang.symbolic.to_sympy`.

Elementary sub-expressions that spell a primitive are folded into it first
(:func:`~actlang.symbolic.folding.recognise`). Negative constants become ``neg(Num)``; a
negative-coefficient term of a sum becomes a subtraction; factors with negative exponents go
under one division; ``Piecewise`` becomes nested ``select``; ``Heaviside`` is ``heaviside``.
Anything with no actlang spelling (a Bessel function left bare, an unknown symbol) raises
:class:`~actlang.errors.UnsupportedError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import sympy as sp

from actlang.ast import Call, Constant, Expr, Input, Num, Param
from actlang.build import call
from actlang.errors import UnsupportedError
from actlang.registry import derived, primitives
from actlang.symbolic.folding import recognise
from actlang.symbolic.functions import OpaqueFunction, native_form, sympy_hyper
from actlang.symbolic.lowering import ActFunction
from actlang.symbolic.symbols import W, X


def from_sympy(expr: sp.Expr, params: Mapping[str, float] | None = None, *, fold: bool = True) -> Expr:
    """The actlang AST of ``expr``; ``params`` gives learned scalars their initial values."""
    expr = sp.sympify(expr)
    if fold:
        expr = recognise(expr)
    return _raise(expr, dict(params or {}))


@derived
@functools.cache
def _native_names() -> dict[type, str]:
    """sympy function class → primitive name, for the natives that are one function of x."""
    table: dict[type, str] = {}
    for primitive in primitives():
        defaults = tuple(sorted((h.name, h.default) for h in primitive.hyper))
        if primitive.arity == 1 and primitive.sympy is not None and native_form(primitive.name, defaults):
            form = primitive.sympy(sp, W, **sympy_hyper(defaults))
            if isinstance(form, sp.Function) and form.args == (W,):
                table.setdefault(type(form), primitive.name)
    return table


def _number(value: sp.Expr) -> Expr:
    if value.is_negative:
        return call("neg", _number(-value))
    if value.is_Rational and not value.is_Integer:
        as_float = float(value)
        if sp.Rational(repr(as_float)) == value or value.q > 10**6:  # a float's value, or close enough
            return Num(as_float)
        return call("div", Num(float(value.p)), Num(float(value.q)))
    if value is sp.pi:
        return Constant("pi")
    if value is sp.E:
        return Constant("e")
    if value.is_Number and value.is_finite:
        return Num(float(value))
    if value.is_Number:
        raise UnsupportedError(f"the result has a non-finite constant ({value}); actlang cannot write it")
    return _raise_general(value, {})


def _raise(expr: sp.Expr, params: dict[str, float]) -> Expr:
    if expr.is_Number or expr in (sp.pi, sp.E):
        return _number(expr)
    if expr == X:
        return Input()
    if isinstance(expr, sp.Symbol):
        if not expr.name.isidentifier():
            raise UnsupportedError(f"'{expr.name}' (a primitive's learned tensor) has no actlang spelling outside it")
        return Param(expr.name, params.get(expr.name, 1.0))
    return _raise_general(expr, params)


def _raise_general(expr: sp.Expr, params: dict[str, float]) -> Expr:
    match expr:
        case sp.Add():
            return _sum(expr, params)
        case sp.Mul():
            return _product(expr, params)
        case sp.Pow():
            return _power(expr, params)
        case sp.exp():
            return call("exp", _raise(expr.args[0], params))
        case ActFunction() | OpaqueFunction():
            arity = expr.arity if isinstance(expr, ActFunction) else len(expr.args)
            args = [_raise(a, params) for a in expr.args[:arity]]
            return Call(expr.primitive, tuple(args), expr.hyper)
        case sp.Max() | sp.Min():
            return _extremum(expr, params)
        case sp.Piecewise():
            return _piecewise(expr.args, params)
        case sp.Heaviside():
            zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
            return call("heaviside", _raise(expr.args[0], params), zero=float(zero))
    name = _native_names().get(type(expr))
    if name is not None:
        return call(name, *(_raise(a, params) for a in expr.args))
    raise UnsupportedError(f"'{type(expr).__name__}' in {expr} has no actlang spelling")


def _sum(expr: sp.Add, params: dict[str, float]) -> Expr:
    terms = sorted(expr.args, key=lambda t: (t.could_extract_minus_sign(), t.is_Number, sp.default_sort_key(t)))
    first, *rest = terms
    result = _raise(first, params)
    for term in rest:
        if term.could_extract_minus_sign():
            result = call("sub", result, _raise(-term, params))
        else:
            result = call("add", result, _raise(term, params))
    return result


def _product(expr: sp.Mul, params: dict[str, float]) -> Expr:
    if expr.could_extract_minus_sign():
        return call("neg", _raise(-expr, params))
    coeff, factors = expr.as_coeff_mul()
    numerator, denominator = [], []
    if coeff != 1:
        exact = coeff.is_Rational and 1 < coeff.q <= 10**6 and sp.Rational(repr(float(coeff))) != coeff
        if not (exact and coeff.p == 1):
            numerator.append(_number(sp.Integer(coeff.p)) if exact else _number(coeff))
        if exact:  # 1/3 stays a division; 0.25 and 1.0507009873554805 are literals
            denominator.append(_number(sp.Integer(coeff.q)))
    for factor in factors:
        base, exponent = factor.as_base_exp()
        if exponent.is_Number and exponent.is_negative and not factor.is_Number:
            denominator.append(_raise(base ** (-exponent), params))
        else:
            numerator.append(_raise(factor, params))
    top = _chain("mul", numerator) if numerator else Num(1.0)
    return call("div", top, _chain("mul", denominator)) if denominator else top


def _chain(op: str, items: list[Expr]) -> Expr:
    result = items[0]
    for item in items[1:]:
        result = call(op, result, item)
    return result


def _power(expr: sp.Pow, params: dict[str, float]) -> Expr:
    base, exponent = expr.args
    if base is sp.E:
        return call("exp", _raise(exponent, params))
    if base is sp.zoo:  # sympy's 0^(−u)
        return call("pow", Num(0.0), _raise(-exponent, params))
    if exponent == sp.S.Half:
        return call("sqrt", _raise(base, params))
    if exponent.is_Number and exponent.is_negative:
        return call("div", Num(1.0), _raise(base ** (-exponent), params))
    return call("pow", _raise(base, params), _raise(exponent, params))


def _extremum(expr: sp.Expr, params: dict[str, float]) -> Expr:
    name = "max" if isinstance(expr, sp.Max) else "min"
    args = list(expr.args)
    if name == "max" and len(args) == 2 and sp.S.Zero in args:
        other = args[0] if args[1] == 0 else args[1]
        return call("relu", _raise(other, params))
    raised = [_raise(a, params) for a in sorted(args, key=lambda a: (a.is_Number, sp.default_sort_key(a)))]
    return call(name, *raised) if len(raised) == 2 else call(f"{name}_n", *raised)


def _piecewise(pieces: tuple, params: dict[str, float]) -> Expr:
    (value, condition), rest = pieces[0], pieces[1:]
    if condition == sp.true:
        return _raise(value, params)
    if not rest:
        raise UnsupportedError("a piecewise result is undefined outside its conditions")
    return _branch(condition, _raise(value, params), _piecewise(rest, params), params)


def _branch(condition: sp.Basic, then: Expr, other: Expr, params: dict[str, float]) -> Expr:
    """``then`` where ``condition`` holds, else ``other``, as ``select`` calls (c > 0 ⇒ first)."""
    match condition:
        case sp.StrictGreaterThan():
            return call("select", _raise(condition.lhs - condition.rhs, params), then, other)
        case sp.StrictLessThan():
            return call("select", _raise(condition.rhs - condition.lhs, params), then, other)
        case sp.GreaterThan():
            return call("select", _raise(condition.rhs - condition.lhs, params), other, then)
        case sp.LessThan():
            return call("select", _raise(condition.lhs - condition.rhs, params), other, then)
        case sp.And():
            first, *others = condition.args
            inner = _branch(sp.And(*others), then, other, params) if others else then
            return _branch(first, inner, other, params)
        case sp.Or():
            first, *others = condition.args
            inner = _branch(sp.Or(*others), then, other, params) if others else other
            return _branch(first, then, inner, params)
        case sp.Eq():
            difference = _raise(condition.lhs - condition.rhs, params)
            return call("select", difference, other, call("select", call("neg", difference), other, then))
        case sp.Ne():
            return _branch(sp.Eq(condition.lhs, condition.rhs), other, then, params)
    if condition == sp.false:
        return other
    raise UnsupportedError(f"the condition {condition} has no actlang spelling")
