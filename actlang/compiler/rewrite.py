"""Idiom rewriting: AST -> AST, mapping compositions onto PyTorch's native fused kernels.

Each rule replaces a composition by the primitive that computes the same function with one
kernel (and, for autograd, one saved tensor): ``a*sigmoid(a) -> silu(a)``, ``max(a, 0) ->
relu(a)``, ``a*ndtr(a) -> gelu(a)``, ``a*tanh(softplus(a)) -> mish(a)``, ``a*hardsigmoid(a) ->
hardswish(a)``, ``a - tanh(a) -> tanhshrink(a)``, ``-softplus(-a) -> log_sigmoid(a)``,
``exp(a) - 1 -> expm1(a)``, ``log(1 + a) -> log1p(a)``, ``a^2 -> square(a)``, ``--a -> a``,
single-argument ``sum_n``/``prod_n``/``max_n``/``min_n`` -> the argument. A composite (a primitive
defined in actlang, without a torch template) becomes its definition.

Only *pure* subtrees are merged (no learned tensors, no randomness): ``prelu(x)*sigmoid(prelu(x))``
names two distinct sites with their own parameters, so it must stay as written.
"""

from __future__ import annotations

import math

from actlang.ast import Call, Expr, Num, substitute_input
from actlang.build import call
from actlang.registry import lookup

_ZERO = Num(0.0)
_ONE = Num(1.0)
# f(a) * a -> g(a): the gate and the native kernel it becomes.
_GATES = {"sigmoid": "silu", "ndtr": "gelu", "hardsigmoid": "hardswish"}


def is_pure(expr: Expr) -> bool:
    """True when ``expr`` has no stateful or stochastic call: equal subtrees compute equal values."""
    match expr:
        case Call(name=name, args=args):
            primitive = lookup(name)
            assert primitive is not None, name
            return not (primitive.stateful or primitive.stochastic) and all(is_pure(a) for a in args)
    return True


def rewrite(expr: Expr) -> Expr:
    """``expr`` with every idiom (bottom-up) replaced by its native primitive, and every composite
    by its definition (:func:`inlined`); same function."""
    match expr:
        case Call(name=name, args=args, hyper=hyper) if args:
            body = inlined(expr)
            if body is not None:
                return rewrite(body)
            node = Call(name, tuple(rewrite(a) for a in args), hyper, expr.span)
            return _idiom(node) or node
    return expr


def inlined(node: Call) -> Expr | None:
    """A composite's call as its definition (hyperparameters substituted, ``x`` bound to the
    argument), or None for any other call. A composite is a primitive with an actlang definition
    and no torch template: its ``define`` call is all it needs to compile. Module primitives
    (``adact``) build their own state instead."""
    primitive = lookup(node.name)
    assert primitive is not None, node.name
    if primitive.torch is not None or primitive.module is not None or primitive.definition is None:
        return None
    from actlang.evaluate import expand_definition

    return substitute_input(expand_definition(primitive, node.hyper), node.args[0])


def _idiom(node: Call) -> Expr | None:
    """The native form of one call whose arguments are already rewritten, or None."""
    args = node.args
    match node.name, args:
        case "mul", (a, Call(name=gate, args=(b,))) | (Call(name=gate, args=(b,)), a) if (
            gate in _GATES and a == b and is_pure(a)
        ):
            return call(_GATES[gate], a)
        case "mul", (a, Call(name="tanh", args=(Call(name="softplus", args=(b,), hyper=hp),))) | (
            Call(name="tanh", args=(Call(name="softplus", args=(b,), hyper=hp),)),
            a,
        ) if a == b and dict(hp).get("beta") == 1.0 and is_pure(a):
            return call("mish", a)
        case "max", (a, Num(value=0.0)):  # not max(0, a): on a tie torch.maximum keeps its first
            return call("relu", a)  # argument, so max(0, −0) = +0 while relu(−0) = −0
        case "sub", (a, Call(name="tanh", args=(b,))) if a == b and is_pure(a):
            return call("tanhshrink", a)
        case "sub", (Call(name="exp", args=(a,)), Num(value=1.0)):
            return call("expm1", a)
        case "log", (Call(name="add", args=(Num(value=1.0), a) | (a, Num(value=1.0))),):
            return call("log1p", a)
        case "neg", (Call(name="softplus", args=(Call(name="neg", args=(a,)),), hyper=hp),) if (
            dict(hp).get("beta") == 1.0
        ):
            return call("log_sigmoid", a)
        case "neg", (Call(name="neg", args=(a,)),):
            return a
        case "pow", (a, Num(value=2.0)):
            return call("square", a)
        case "sum_n" | "prod_n" | "max_n" | "min_n", (a,):
            return a
    return None


def reflect_steps(expr: Expr) -> Expr:
    """``heaviside(-a)`` becomes ``1 - heaviside(a)`` (at ``zero=0.5``), sharing the step of ``a``.

    Derivatives of ``min``/``max`` hold both steps, ``H(b - a)`` and ``H(a - b)`` written as
    ``H(-(a - b))``; the step is several kernels (NaN-preserving comparisons), the subtraction one.
    Exact: both sides are 0, 1, 0.5 or NaN at the same points (-0.0 included).
    """
    match expr:
        case Call(name="heaviside", args=(Call(name="neg", args=(a,)),), hyper=hyper) if dict(hyper).get("zero") == 0.5:
            return call("sub", 1.0, Call("heaviside", (reflect_steps(a),), hyper, expr.span))
        case Call(name=name, args=args, hyper=hyper):
            return Call(name, tuple(reflect_steps(a) for a in args), hyper, expr.span)
    return expr


def fold_coefficients(expr: Expr) -> Expr:
    """Products with several numeric factors or negations become one coefficient times the rest.

    ``-(4*a*b/sqrt(pi))`` (three scalar kernels over the whole tensor) becomes ``-2.2567*(a*b)``
    (one): symbolic derivatives are full of such chains. Factor order is kept, so stateful sites
    keep their numbering.
    """
    match expr:
        case Call(name="mul" | "div" | "neg"):
            numerator: list[Expr] = []
            denominator: list[Expr] = []
            coefficient, constants = _factors(expr, numerator, denominator, True)
            # A product of constants that overflows or underflows (1e308·2) is left as it was.
            if constants < 2 or coefficient == 0 or not math.isfinite(coefficient):
                return Call(expr.name, tuple(fold_coefficients(a) for a in expr.args), expr.hyper, expr.span)
            return _product(coefficient, [fold_coefficients(f) for f in numerator],
                            [fold_coefficients(f) for f in denominator])
        case Call(name=name, args=args, hyper=hyper):
            return Call(name, tuple(fold_coefficients(a) for a in args), hyper, expr.span)
    return expr


def _factors(expr: Expr, numerator: list[Expr], denominator: list[Expr], up: bool) -> tuple[float, int]:
    """Collect the factors of a mul/div/neg chain; returns (numeric coefficient, constants seen)."""
    match expr:
        case Call(name="mul", args=(a, b)):
            ca, na = _factors(a, numerator, denominator, up)
            cb, nb = _factors(b, numerator, denominator, up)
            return ca * cb, na + nb
        case Call(name="div", args=(a, b)):
            ca, na = _factors(a, numerator, denominator, up)
            cb, nb = _factors(b, denominator, numerator, not up)
            return ca * cb, na + nb
        case Call(name="neg", args=(a,)):
            ca, na = _factors(a, numerator, denominator, up)
            return -ca, na + 1
    value = _constant(expr)
    if value is not None and value != 0 and math.isfinite(value):
        return (value if up else 1.0 / value), 1
    numerator.append(expr)
    return 1.0, 0


def _constant(expr: Expr) -> float | None:
    """The value of a subtree without x or parameters (``sqrt(pi)``), else None."""
    from actlang.ast import Constant, Input, Param, contains

    match expr:
        case Num(value=value) | Constant(value=value):
            return value
        case Call() if is_pure(expr) and not contains(expr, (Input, Param)):
            from actlang.evaluate import constant_value

            return constant_value(expr)
    return None


def _number(value: float) -> Expr:
    from actlang.build import as_expr

    return as_expr(value)


def _product(coefficient: float, numerator: list[Expr], denominator: list[Expr]) -> Expr:
    from functools import reduce

    body: Expr | None = reduce(lambda a, b: call("mul", a, b), numerator) if numerator else None
    if denominator:
        below = reduce(lambda a, b: call("mul", a, b), denominator)
        body = call("div", body if body is not None else 1.0, below)
    if body is None:
        return _number(coefficient)
    if coefficient == 1.0:
        return body
    if coefficient == -1.0:
        return call("neg", body)
    return call("mul", _number(coefficient), body)
