"""AST to canonical text: infix with minimal parentheses, canonical names, defaults omitted.

``format_expr(parse(t))`` is the canonical spelling of ``t`` and ``parse(format_expr(e)) == e``
for every tree ``e``. ``style="aquasurf"`` prints AQuaSurF's prefix form instead.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

from actlang.ast import Call, Constant, Expr, HyperValue, Input, Num, Param, install_printer, params
from actlang.errors import UnsupportedError
from actlang.registry import ATOM, Operator, derived, lookup, primitives

Style = Literal["actlang", "aquasurf"]


def format_expr(expr: Expr, style: Style = "actlang") -> str:
    """Canonical text of ``expr`` (with a ``where`` clause for non-default initial values)."""
    if style == "aquasurf":
        return _prefix(expr)
    if style != "actlang":
        raise ValueError(f"unknown style {style!r}; expected 'actlang' or 'aquasurf'")
    text = _infix(expr)[0]
    inits = [f"{name} = {format_number(v)}" for name, v in params(expr).items() if v != 1.0]
    return f"{text} where {', '.join(inits)}" if inits else text


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float: ``2``, ``0.5``, ``1e-05``, ``-1.5``."""
    if value == 0:  # a signed zero keeps its sign: 1/leaky_relu[slope=-0](x) has other poles
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def same_value(a: object, b: object) -> bool:
    """Equal hyperparameter values, a signed zero included (``0.0 == -0.0`` in Python, but
    ``1/leaky_relu[slope=-0](x)`` has other poles than with ``slope=0``)."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    if numbers and a == 0 == b:
        return math.copysign(1.0, a) == math.copysign(1.0, b)  # type: ignore[arg-type]
    return a == b


def format_value(value: HyperValue) -> str:
    """A hyperparameter value as written inside brackets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return format_number(value)


def _wrap(piece: tuple[str, int], needed: int) -> str:
    text, level = piece
    return text if level >= needed else f"({text})"


def _infix(expr: Expr) -> tuple[str, int]:
    """Text of ``expr`` and the binding level of its outermost construct."""
    match expr:
        case Num(value=value):
            return format_number(value), ATOM
        case Input():
            return "x", ATOM
        case Constant(name=name) | Param(name=name):
            return name, ATOM
        case Call(name=name, args=args) if (operator := _operators().get(name)) and len(args) == len(operator.operands):
            # an operator, spelled and parenthesised as its registry definition says
            return operator.text.format(*map(_wrap, map(_infix, args), operator.operands)), operator.level
        case Call(name=name, args=args, hyper=hyper):
            primitive = lookup(name)
            defaults = {h.name: h.default for h in primitive.hyper} if primitive else {}
            shown = [f"{k}={format_value(v)}" for k, v in hyper if k not in defaults or not same_value(defaults[k], v)]
            brackets = f"[{', '.join(shown)}]" if shown else ""
            return f"{name}{brackets}({', '.join(_infix(a)[0] for a in args)})", ATOM
    raise TypeError(f"not an actlang expression: {expr!r}")


@derived
@functools.cache
def _operators() -> dict[str, Operator]:
    """Operator primitives by name, with their infix spelling and precedence."""
    return {p.name: p.operator for p in primitives() if p.operator is not None}


def _prefix(expr: Expr) -> str:
    """AQuaSurF's spelling: prefix calls, no spaces, leaf ``x``; every node must have a name."""
    match expr:
        case Input():
            return "x"
        case Call(name=name, args=args, hyper=hyper):
            primitive = lookup(name)
            defaults = tuple(sorted((h.name, h.default) for h in primitive.hyper)) if primitive else ()
            if primitive is None or primitive.aquasurf is None or hyper != defaults:
                named = primitive is not None and primitive.aquasurf is not None
                why = "has non-default hyperparameters" if named else "has no AQuaSurF name"
                raise UnsupportedError(f"cannot print in AQuaSurF style: {format_expr(expr)} {why}", span=expr.span)
            return f"{primitive.aquasurf}({','.join(_prefix(a) for a in args)})"
        case _:
            raise UnsupportedError(
                f"cannot print in AQuaSurF style: {format_expr(expr)} has no AQuaSurF name "
                "(AQuaSurF has no constants or parameters)",
                span=expr.span,
            )


install_printer(format_expr)  # str(expr) prints through format_expr (see actlang.ast)
