"""AST → sympy: :func:`to_sympy`, and the sympy function classes generated from the registry —
none is written by hand. One ``match`` over node types.

Numbers become exact rationals of their shortest decimal spelling (``0.1`` is ``1/10``), so
proofs work on exact arithmetic; a constant subtree whose float64 value (what actlang computes
with) differs from its exact one in sign or integrality takes the float's value
(:func:`~actlang.symbolic.functions.float_consistent`: ``x^(0.6/0.2)`` is NaN for x < 0);
``pi`` and ``e`` are sympy's constants; ``x`` is
:data:`~actlang.symbolic.symbols.X`; a learned scalar is a real symbol of its name; a call is its
native sympy form (:func:`~actlang.symbolic.functions.native_form`) or its generated class.

Each generated class is an :class:`ActFunction` subclass, one per (primitive, hyperparameters),
named after the primitive (``softplus``, ``softplus[beta=2]``), that

- knows its derivative (``fdiff``): the elementary form differentiated once, with exponential
  ratios folded back into ``sigmoid`` (so ``sigmoid' = sigmoid·(1 − sigmoid)``, never
  ``e^{−x}/(1+e^{−x})²``, which overflows);
- rewrites to elementary form (:func:`elementary`), which is what proofs work on. A primitive
  given by an actlang ``definition`` is lowered from it, so lowering and the classes are one unit.

Learned tensors of a primitive (PReLU's ``a``) are extra arguments, real symbols named
``<site>.<name>``.
"""

from __future__ import annotations

import functools
from typing import Any

import sympy as sp
from mpmath.libmp import prec_to_dps

from actlang.ast import Call, Constant, Expr, Input, Num, Param, Sites
from actlang.errors import UnsupportedError
from actlang.evaluate import expand_definition
from actlang.exact import exact_cache
from actlang.registry import lookup
from actlang.symbolic.exponentials import fold_exponentials
from actlang.symbolic.functions import (
    Hyper,
    OpaqueFunction,
    constant_subtree,
    dummies,
    float_consistent,
    is_elementary,
    label,
    literal_value,
    native_form,
    sympy_hyper,
    zero_signs,
)
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


def _lower(expr: Expr, sites: Sites, inside_constant: bool = False) -> sp.Expr:
    match expr:
        case Num() | Constant():
            return literal_value(expr)
        case Input():
            return X
        case Param(name=name):
            return param_symbol(name)
        case Call() if not inside_constant and constant_subtree(expr):
            return float_consistent(expr, _lower(expr, sites, True))
        case Call(name=name, args=args, hyper=hyper):
            lowered = [_lower(a, sites, inside_constant) for a in args]
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


class ActFunction(sp.Function):
    """Base of the generated classes; ``primitive``/``hyper`` say which call it stands for."""

    primitive: str = ""
    hyper: Hyper = ()
    arity: int = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        form = derivative_form(self.primitive, self.hyper, argindex)
        return form.xreplace(dict(zip(dummies(len(self.args)), self.args, strict=True)))

    def _eval_rewrite_as_elementary(self, *args: Any, **kwargs: Any) -> sp.Expr:
        return elementary_call(self.primitive, self.hyper, args)

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if not all(a.is_number for a in self.args):
            return None
        return elementary(self).evalf(prec_to_dps(prec))

    def _eval_is_extended_real(self) -> bool | None:
        return None


def function_class(name: str, hyper: Hyper) -> type[sp.Function]:
    """The generated class of ``name[hyper]`` (cached: equal calls give the identical class)."""
    return _function_class(name, hyper, zero_signs(hyper))


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
        body = to_sympy(expand_definition(primitive, hyper))
        return body.xreplace({X: args[0]})
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


@exact_cache()  # hyper keyed bit for bit (actlang.exact)
def derivative_form(name: str, hyper: Hyper, argindex: int) -> sp.Expr:
    """d/d(argument ``argindex``) of ``name[hyper]`` in terms of the placeholders ``dummies(n)``."""
    primitive = lookup(name)
    assert primitive is not None
    count = (primitive.arity or 1) + len(primitive.learned)
    placeholders = dummies(count)
    form = class_form(name, hyper, placeholders)
    derived = sp.diff(form, placeholders[argindex - 1])
    return fold_exponentials(derived.replace(sp.DiracDelta, lambda *a: sp.S.Zero), sigmoid)


def sigmoid(arg: sp.Expr) -> sp.Expr:
    """``sigmoid(arg)`` as its generated class (what :func:`fold_exponentials` folds into)."""
    return function_class("sigmoid", ())(arg)
