"""Validated construction of :class:`~actlang.ast.Call` nodes, shared by the parser and by code.

``call("softplus", x, beta=2)`` resolves aliases, checks arity, checks each hyperparameter's key,
type and range, fills in defaults, and returns the canonical node. The parser passes source
spans so errors point at the text.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from actlang.ast import CONSTANTS, Call, Constant, Expr, HyperValue, Input, Num, Param
from actlang.errors import ArityError, HyperparameterError, Span, UnknownNameError
from actlang.registry import REQUIRED, Primitive, all_names, lookup

Keyword = tuple[str, HyperValue, Span | None]


def unknown_primitive(name: str, span: Span | None) -> UnknownNameError:
    """The error for ``name(...)`` where ``name`` is no primitive, with a did-you-mean hint."""
    if name == "x" or name in CONSTANTS:
        what = "the input" if name == "x" else "a constant"
        return UnknownNameError(f"'{name}' is {what}, not a primitive; it cannot be called", span=span)
    names = all_names()
    folded = [n for n in names if n.lower() == name.lower()]  # ReLU -> relu: names are case-sensitive
    close = folded or (difflib.get_close_matches(name, names, n=1, cutoff=0.6) if len(name) <= 64 else [])
    hint = f"did you mean '{close[0]}'?" if close else "see `actlang list` for the primitives"
    shown = name if len(name) <= 64 else name[:60] + "..."  # the caret display shows the rest
    return UnknownNameError(f"unknown primitive '{shown}'", span=span, hint=hint)


def make_call(
    name: str,
    args: Sequence[Expr],
    keywords: Sequence[Keyword] = (),
    span: Span | None = None,
) -> Call:
    """A canonical, validated call of primitive ``name``; raises an ``ActlangError`` subclass."""
    primitive = lookup(name)
    if primitive is None:
        raise unknown_primitive(name, span)
    if not primitive.accepts(len(args)):
        raise ArityError(
            f"{primitive.name} takes {primitive.arity_text()}, got {len(args)}",
            span=span,
            hint=f"usage: {primitive.signature()}",
        )
    return Call(primitive.name, tuple(args), resolve_hyper(primitive, keywords, span), span)


def resolve_hyper(
    primitive: Primitive, keywords: Sequence[Keyword], span: Span | None
) -> tuple[tuple[str, HyperValue], ...]:
    """Every hyperparameter of ``primitive``, given or default, sorted by key."""
    given: dict[str, HyperValue] = {}
    for key, value, key_span in keywords:
        spec = primitive.hyper_spec(key)
        if spec is None:
            valid = ", ".join(h.name for h in primitive.hyper)
            hint = f"valid keys: {valid}" if valid else f"{primitive.name} takes no hyperparameters"
            raise HyperparameterError(
                f"unknown hyperparameter '{key}' for {primitive.name}", span=key_span or span, hint=hint
            )
        if key in given:
            raise HyperparameterError(f"hyperparameter '{key}' given twice", span=key_span or span)
        try:
            given[key] = spec.coerce(value)
        except ValueError as error:
            raise HyperparameterError(
                f"bad value for {primitive.name}'s '{key}': {error}", span=key_span or span
            ) from None
    for spec in primitive.hyper:
        if spec.name not in given:
            if spec.default is REQUIRED:
                raise HyperparameterError(
                    f"{primitive.name} needs hyperparameter '{spec.name}' ({spec.describe()})",
                    span=span,
                    hint=f"usage: {primitive.signature()}",
                )
            given[spec.name] = spec.default
    if primitive.check is not None and (problem := primitive.check(given)):
        raise HyperparameterError(f"bad hyperparameters for {primitive.name}: {problem}", span=span)
    return tuple(sorted(given.items()))


def call(name: str, *args: Expr | float, **hyper: HyperValue) -> Call:
    """Build a call in code: ``call("softplus", x, beta=2)``; numbers become constants."""
    return make_call(name, [as_expr(a) for a in args], [(k, v, None) for k, v in hyper.items()])


def as_expr(value: Expr | float) -> Expr:
    """An expression for ``value``: nodes pass through, numbers become ``Num`` (or ``neg(Num)``)."""
    if isinstance(value, Num | Input | Constant | Param | Call):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected an actlang expression or a number, got {type(value).__name__}")
    number = float(value)
    if number < 0 or (number == 0 and str(number).startswith("-")):
        return Call("neg", (Num(-number),))
    return Num(number)
