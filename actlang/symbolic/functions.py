"""Sympy function classes generated from the primitive registry — none is written by hand.

A primitive is *native* when its registry sympy form is already one sympy building block applied
to its argument (``exp``, ``tanh``, ``Abs``, a power, an operator): it lowers to that form. Every
other primitive with an elementary form (a registry ``sympy`` lambda or an actlang
``definition``) becomes a :class:`ActFunction` subclass, one per (primitive, hyperparameters),
named after the primitive (``softplus``, ``softplus[beta=2]``), that

- knows its derivative (``fdiff``): the elementary form differentiated once, with exponential
  ratios folded back into ``sigmoid`` (so ``sigmoid' = sigmoid·(1 − sigmoid)``, never
  ``e^{−x}/(1+e^{−x})²``, which overflows);
- rewrites to elementary form (:func:`elementary`), which is what proofs work on.

Learned tensors of a primitive (PReLU's ``a``) are extra arguments, real symbols named
``<site>.<name>``. Opaque primitives (no elementary form) become undefined functions, so equal
structure still compares equal.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import sympy as sp
from mpmath.libmp import prec_to_dps

from actlang.ast import HyperValue
from actlang.exact import exact_cache
from actlang.registry import Primitive, lookup
from actlang.symbolic.symbols import W

Hyper = tuple[tuple[str, HyperValue], ...]


class ActFunction(sp.Function):
    """Base of the generated classes; ``primitive``/``hyper`` say which call it stands for."""

    primitive: str = ""
    hyper: Hyper = ()
    arity: int = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        form = derivative_form(self.primitive, self.hyper, argindex)
        return form.xreplace(dict(zip(_dummies(len(self.args)), self.args, strict=True)))

    def _eval_rewrite_as_elementary(self, *args: Any, **kwargs: Any) -> sp.Expr:
        return elementary_call(self.primitive, self.hyper, args)

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if not all(a.is_number for a in self.args):
            return None
        return elementary(self).evalf(prec_to_dps(prec))

    def _eval_is_extended_real(self) -> bool | None:
        return None


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


@functools.cache
def _dummies(count: int) -> tuple[sp.Dummy, ...]:
    return (W, *(sp.Dummy(f"w{i}", real=True) for i in range(1, count)))


def sympy_hyper(hyper: Hyper) -> dict[str, Any]:
    """Hyperparameters for a sympy lambda: numbers as exact rationals (``0.01`` → ``1/100``)."""
    from actlang.symbolic.lowering import number

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
    args = _dummies(primitive.arity)
    form = primitive.sympy(sp, *args, **sympy_hyper(hyper))
    if primitive.arity != 1:  # a branch (select): native when it only picks among its arguments
        return isinstance(form, sp.Piecewise) and all(value in args for value, _ in form.args)
    if form == W or form.is_Number:
        return True
    if isinstance(form, sp.Pow):
        return form.base == W and form.exp in (2, -1, sp.S.Half)
    builtin = isinstance(form, sp.Function) and type(form).__module__.startswith("sympy.")
    return builtin and form.args[0] == W and all(a.is_Number for a in form.args[1:])


def function_class(name: str, hyper: Hyper) -> type[sp.Function]:
    """The generated class of ``name[hyper]`` (cached: equal calls give the identical class)."""
    return _function_class(name, hyper, zero_signs(hyper))


def zero_signs(hyper: Hyper) -> tuple[bool, ...]:
    """Which hyperparameter values are -0.0: part of every cache key on ``hyper``, because
    ``0.0 == -0.0`` (and they hash alike) while ``1/leaky_relu[slope=-0](x)`` has other poles."""
    return tuple(isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0 for _, v in hyper)


@functools.cache
def _function_class(name: str, hyper: Hyper, signs: tuple[bool, ...]) -> type[sp.Function]:
    primitive = lookup(name)
    assert primitive is not None
    base = ActFunction if is_elementary(primitive, hyper) else OpaqueFunction
    arity = primitive.arity if primitive.arity is not None else 1
    nargs = arity + len(primitive.learned) if primitive.arity is not None else None
    attrs: dict[str, Any] = {"primitive": name, "hyper": hyper, "arity": arity, "__module__": __name__}
    if nargs is not None:
        attrs["nargs"] = nargs
    return type(label(name, hyper), (base,), attrs)


def class_form(name: str, hyper: Hyper, args: tuple[sp.Expr, ...]) -> sp.Expr:
    """The body of ``name`` one level down: its definition lowered to sympy (classes allowed),
    or its registry sympy lambda."""
    primitive = lookup(name)
    assert primitive is not None
    if primitive.definition is not None and primitive.sympy is None:
        from actlang.evaluate import expand_definition
        from actlang.symbolic.lowering import to_sympy

        body = to_sympy(expand_definition(primitive, hyper))
        return body.xreplace({_x(): args[0]})
    arity = primitive.arity if primitive.arity is not None else len(args)
    learned = {lt.name: a for lt, a in zip(primitive.learned, args[arity:], strict=False)}
    return primitive.sympy(sp, *args[:arity], **sympy_hyper(hyper), **learned)


def elementary_call(name: str, hyper: Hyper, args: tuple[sp.Expr, ...]) -> sp.Expr:
    return elementary(class_form(name, hyper, tuple(args)))


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every generated class replaced by its elementary form, recursively."""
    for _ in range(64):  # definitions nest a few levels; they are acyclic
        if not expr.has(ActFunction):
            return expr
        expr = expr.replace(
            lambda e: isinstance(e, ActFunction), lambda e: class_form(e.primitive, e.hyper, e.args)
        )
    return expr


@exact_cache()
def derivative_form(name: str, hyper: Hyper, argindex: int) -> sp.Expr:
    """d/d(argument ``argindex``) of ``name[hyper]`` in terms of dummies ``_dummies(n)``."""
    primitive = lookup(name)
    assert primitive is not None
    count = (primitive.arity or 1) + len(primitive.learned)
    dummies = _dummies(count)
    form = class_form(name, hyper, dummies)
    derived = sp.diff(form, dummies[argindex - 1])
    from actlang.symbolic.folding import fold_exponentials

    return fold_exponentials(derived.replace(sp.DiracDelta, lambda *a: sp.S.Zero))


def _x() -> sp.Symbol:
    from actlang.symbolic.symbols import X

    return X
