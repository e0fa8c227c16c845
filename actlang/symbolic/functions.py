"""Facts about primitives in sympy, from the registry: which lower natively, their hyperparameters
as exact numbers, the names of their generated classes.

A primitive is *native* when its registry sympy form is already one sympy building block applied
to its argument (``exp``, ``tanh``, ``Abs``, a power, an operator): it lowers to that form. Every
other primitive with an elementary form (a registry ``sympy`` lambda or an actlang
``definition``) becomes a generated :class:`~actlang.symbolic.lowering.ActFunction` subclass
(see :mod:`actlang.symbolic.lowering`). Opaque primitives (no elementary form) become
:class:`OpaqueFunction` subclasses, so equal structure still compares equal.

This module imports nothing else from the symbolic layer but :mod:`~actlang.symbolic.symbols`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import sympy as sp

from actlang.ast import Constant, HyperValue, Num
from actlang.exact import exact_cache
from actlang.registry import Primitive, lookup
from actlang.symbolic.symbols import W

Hyper = tuple[tuple[str, HyperValue], ...]


class OpaqueFunction(sp.Function):
    """An opaque primitive (CPAB, ASH, ...): structure only; never rewritten or differentiated."""

    primitive: str = ""
    hyper: Hyper = ()


def label(name: str, hyper: Hyper) -> str:
    """``softplus`` for default hyperparameters, ``softplus[beta=2]`` otherwise."""
    from actlang.printer import format_value, same_value

    primitive = lookup(name)
    assert primitive is not None, name
    changed = [(k, v) for k, v in hyper if (spec := primitive.hyper_spec(k)) is None or not same_value(spec.default, v)]
    inner = ", ".join(f"{k}={format_value(v)}" for k, v in changed)
    return f"{name}[{inner}]" if inner else name


def number(value: float) -> sp.Rational:
    """The exact rational a float literal spells (``0.1`` → ``1/10``)."""
    return sp.Rational(repr(float(value))) if value != int(value) else sp.Integer(int(value))


def literal_value(expr: Num | Constant) -> sp.Expr:
    """The exact sympy value of a literal (a rational) or of ``pi``/``e``."""
    if isinstance(expr, Constant):
        return sp.pi if expr.name == "pi" else sp.E
    return number(expr.value)


def constant_subtree(expr: Any) -> bool:
    """Whether ``expr`` is a call computing a constant: no ``x``, no learned scalar or tensor, no
    randomness (``0.6/0.2``, ``sqrt(pi)/2``)."""
    from actlang.ast import Call, Input, Param, walk

    if not isinstance(expr, Call):
        return False
    for node in walk(expr):
        if isinstance(node, Input | Param):
            return False
        if isinstance(node, Call):
            primitive = lookup(node.name)
            if primitive is None or primitive.stateful or primitive.stochastic:
                return False
    return True


def float_consistent(expr: Any, exact: sp.Expr) -> sp.Expr:
    """A constant subtree's value for exact reasoning: ``exact``, unless the float64 value actlang
    computes with (``actlang.evaluate`` and compiled modules fold the subtree once, in float64)
    differs from it in what decides a domain — its sign, zero included (``x/c``, ``log(c)``), or
    whether it is an integer (``x^c`` of a negative x) — then that float's decimal value.

    ``x^(0.6/0.2)`` is NaN for x < 0 as computed (0.6/0.2 = 2.9999999999999996) although the
    decimals' quotient is 3, and ``x^(1 + 1e-17)`` is ``x`` (1 + 1e-17 = 1.0): a proof must be
    about the function actlang computes. Values that only round (``0.1 + 0.2``, ``pi/2``) stay
    exact, so proofs keep working on them.
    """
    from actlang.evaluate import constant_value

    try:
        value = constant_value(expr)
    except Exception:  # an EvaluationError or numpy's: reason about the exact value as before
        return exact
    if not math.isfinite(value) or not exact.is_number or exact.is_extended_real is not True:
        return exact  # overflow is not a difference (docs/symbolic.md), and poles stay exact
    sign = 0 if exact.is_zero else 1 if exact.is_positive else -1 if exact.is_negative else None
    if sign is None or exact.is_integer is None:
        return exact  # undecided by sympy: as before
    if sign == (value > 0) - (value < 0) and bool(exact.is_integer) == float(value).is_integer():
        return exact
    return number(value)


@functools.cache
def dummies(count: int) -> tuple[sp.Dummy, ...]:
    return (W, *(sp.Dummy(f"w{i}", real=True) for i in range(1, count)))


def sympy_hyper(hyper: Hyper) -> dict[str, Any]:
    """Hyperparameters for a sympy lambda: numbers as exact rationals (``0.01`` → ``1/100``)."""
    return {k: number(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in hyper}


def is_elementary(primitive: Primitive, hyper: Hyper) -> bool:
    """Has an elementary sympy form: not opaque, pointwise, learned tensors all scalars."""
    hp = dict(hyper)
    scalars = all(learned.shape(hp) == () for learned in primitive.learned)
    return not primitive.opaque and primitive.pointwise and scalars


@exact_cache()  # hyper keyed bit for bit (actlang.exact)
def native_form(name: str, hyper: Hyper) -> bool:
    """True when the primitive lowers straight to its sympy form (see module docstring)."""
    primitive = lookup(name)
    assert primitive is not None
    if "operator" in primitive.tags:
        return True
    if primitive.sympy is None or primitive.learned or primitive.arity is None:
        return False
    args = dummies(primitive.arity)
    form = primitive.sympy(sp, *args, **sympy_hyper(hyper))
    if primitive.arity != 1:  # a branch (select): native when it only picks among its arguments
        return isinstance(form, sp.Piecewise) and all(value in args for value, _ in form.args)
    if form == W or form.is_Number:
        return True
    if isinstance(form, sp.Pow):
        return form.base == W and form.exp in (2, -1, sp.S.Half)
    builtin = isinstance(form, sp.Function) and type(form).__module__.startswith("sympy.")
    return builtin and form.args[0] == W and all(a.is_Number for a in form.args[1:])


def zero_signs(hyper: Hyper) -> tuple[bool, ...]:
    """Which hyperparameter values are -0.0: part of every cache key on ``hyper``, because
    ``0.0 == -0.0`` (and they hash alike) while ``1/leaky_relu[slope=-0](x)`` has other poles."""
    return tuple(isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0 for _, v in hyper)
