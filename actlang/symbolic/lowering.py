"""AST → sympy: :func:`to_sympy`. One ``match`` over node types.

Numbers become exact rationals of their shortest decimal spelling (``0.1`` is ``1/10``), so
proofs work on exact arithmetic; ``pi`` and ``e`` are sympy's constants; ``x`` is
:data:`~actlang.symbolic.symbols.X`; a learned scalar is a real symbol of its name; a call is its
native sympy form or its generated function class (:mod:`actlang.symbolic.functions`).
"""

from __future__ import annotations

import sympy as sp

from actlang.ast import Call, Constant, Expr, Input, Num, Param, Sites
from actlang.errors import UnsupportedError
from actlang.registry import lookup
from actlang.symbolic.functions import function_class, native_form, sympy_hyper
from actlang.symbolic.symbols import X, learned_symbol, param_symbol


def to_sympy(expr: Expr | str) -> sp.Expr:
    """``expr`` as a sympy expression in ``X`` (and learned-scalar symbols)."""
    if isinstance(expr, str):
        from actlang.parser import parse

        expr = parse(expr)
    try:
        return _lower(expr, Sites())
    except OverflowError as error:  # mpmath overflows evaluating extreme constants, e.g. erfc(3e307)
        raise UnsupportedError(f"{expr}: sympy cannot evaluate a constant in it ({error})") from error


def number(value: float) -> sp.Rational:
    """The exact rational a float literal spells (``0.1`` → ``1/10``)."""
    return sp.Rational(repr(float(value))) if value != int(value) else sp.Integer(int(value))


def exact_value(expr: Num | Constant) -> sp.Expr:
    """The exact sympy value of a literal (a rational) or of ``pi``/``e``."""
    if isinstance(expr, Constant):
        return sp.pi if expr.name == "pi" else sp.E
    return number(expr.value)


def _lower(expr: Expr, sites: Sites) -> sp.Expr:
    match expr:
        case Num() | Constant():
            return exact_value(expr)
        case Input():
            return X
        case Param(name=name):
            return param_symbol(name)
        case Call(name=name, args=args, hyper=hyper):
            lowered = [_lower(a, sites) for a in args]
            primitive = lookup(name)
            assert primitive is not None, name
            learned = []
            if primitive.stateful:  # learned tensors: one symbol per site, numbered as evaluate does
                site = sites.next(name)
                learned = [learned_symbol(site, lt.name) for lt in primitive.learned]
            if native_form(name, hyper):
                return primitive.sympy(sp, *lowered, **sympy_hyper(hyper))
            return function_class(name, hyper)(*lowered, *learned)
    raise TypeError(f"not an actlang expression: {expr!r}")
