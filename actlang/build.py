"""Validated construction of :class:`~actlang.ast.Call` nodes, shared by the parser and by code.

``call("softplus", x, beta=2)`` resolves aliases, checks arity, checks each hyperparameter's key,
type and range, fills in defaults, and returns the canonical node. The parser passes source
spans so errors point at the text.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence

from actlang.ast import CONSTANTS, Call, Constant, Expr, HyperValue, Input, Num, Param, substitute_input
from actlang.errors import ActlangError, ArityError, HyperparameterError, Span, UnknownNameError, UnsupportedError
from actlang.registry import NOT_POINTWISE, REQUIRED, Alias, Primitive, all_names, composite, lookup

Keyword = tuple[str, HyperValue, Span | None]

DIALECT: contextvars.ContextVar[str | None] = contextvars.ContextVar("dialect", default=None)
"""The library whose names are being read (``parse(..., dialect=...)``); ``None``: actlang's."""


def not_pointwise(name: str, span: Span | None) -> UnsupportedError | None:
    """The error for a library activation that is not elementwise (``softmax``), else ``None``."""
    why = NOT_POINTWISE.get(name)
    if why is None:
        return None
    return UnsupportedError(
        f"'{name}' is not elementwise, so it is no actlang activation (which maps each value on its own): {why}",
        span=span,
        hint="apply it as a layer of its own (torch.nn.functional." + name + "), outside the activation",
    )


def unknown_primitive(name: str, span: Span | None) -> ActlangError:
    """The error for ``name(...)`` where ``name`` is no primitive, with a did-you-mean hint."""
    if name == "x" or name in CONSTANTS:
        what = "the input" if name == "x" else "a constant"
        return UnknownNameError(f"'{name}' is {what}, not a primitive; it cannot be called", span=span)
    if (error := not_pointwise(name, span)) is not None:
        return error
    names = all_names()
    folded = [n for n in names if n.lower() == name.lower()]  # ReLU -> relu: names are case-sensitive
    import difflib  # here: only a misspelt name needs it, and it costs start-up time

    close = folded or (difflib.get_close_matches(name, names, n=1, cutoff=0.6) if len(name) <= 64 else [])
    hint = f"did you mean '{close[0]}'?" if close else "see `actlang list` for the primitives"
    shown = name if len(name) <= 64 else name[:60] + "..."  # the caret display shows the rest
    return UnknownNameError(f"unknown primitive '{shown}'", span=span, hint=hint)


def make_call(
    name: str,
    args: Sequence[Expr],
    keywords: Sequence[Keyword] = (),
    span: Span | None = None,
) -> Expr:
    """A canonical, validated call of primitive ``name`` (a composite's expansion for a name from
    another library, read in the current :data:`DIALECT`); raises an ``ActlangError`` subclass."""
    alias = composite(name, DIALECT.get())
    if alias is not None:
        return expand_alias(alias, args, keywords, span)
    return primitive_call(name, args, keywords, span)


def primitive_call(
    name: str, args: Sequence[Expr], keywords: Sequence[Keyword] = (), span: Span | None = None
) -> Call:
    """A canonical, validated call of the primitive (or plain alias) ``name``."""
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


def expand_alias(alias: Alias, args: Sequence[Expr], keywords: Sequence[Keyword], span: Span | None) -> Expr:
    """``alias.text`` with ``x`` replaced by the one argument. An alias of one primitive call on
    ``x`` takes that primitive's hyperparameters, except those the alias sets itself."""
    if len(args) != 1:
        raise ArityError(f"{alias.name} takes 1 argument, got {len(args)}", span=span,
                         hint=f"{alias.name}(x) = {alias.text}")
    body = _alias_body(alias.text)
    if keywords:
        if not (isinstance(body, Call) and body.args == (Input(),)):
            raise HyperparameterError(f"{alias.name} takes no hyperparameters: it is {alias.text}", span=span)
        primitive = lookup(body.name)
        assert primitive is not None
        defaults = {h.name: h.default for h in primitive.hyper}
        fixed = {key for key, value in body.hyper if defaults.get(key) != value}
        for key, _, key_span in keywords:
            if key in fixed and DIALECT.get() not in _dialect_names(alias):
                raise HyperparameterError(
                    f"{alias.name} sets '{key}' itself: it is {alias.text}", span=key_span or span,
                    hint=f"write {body.name}[{key}=...](x) for another value",
                )
        given = {key for key, _, _ in keywords}
        kept = [(key, value, None) for key, value in body.hyper if key not in given]
        body = primitive_call(body.name, [Input()], [*kept, *keywords], span)
    expanded = substitute_input(body, args[0])
    return _respan(expanded, span)


def _dialect_names(alias: Alias) -> set[str | None]:
    # A dialect's own entry (keras's leaky_relu[slope=0.2]) only changes a default: it may be overridden.
    from actlang.registry import DIALECTS

    return {d for d, table in DIALECTS.items() if table.get(alias.name) is alias}


# How an alias's text becomes a tree: the parser installs its ``parse`` here when it is imported
# (``import actlang`` imports it). Parsing builds calls through this module and an alias's body is
# parsed while a call is built, so the two recurse into each other; this keeps the imports one way.
_parse: Callable[..., Expr] | None = None


def install_parser(parse: Callable[..., Expr]) -> None:
    """Make ``parse`` the reader of alias bodies; called by the parser."""
    global _parse
    _parse = parse


def _alias_body(text: str) -> Expr:
    if _parse is None:
        raise RuntimeError("actlang.parser is not loaded; import actlang first")
    return _parse(text, dialect="actlang")


def _respan(expr: Expr, span: Span | None) -> Expr:
    """The expansion's top node carries the span of the name the user wrote (for error carets)."""
    if isinstance(expr, Call) and span is not None:
        return Call(expr.name, expr.args, expr.hyper, span)
    return expr


def call(name: str, *args: Expr | float, **hyper: HyperValue) -> Expr:
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
