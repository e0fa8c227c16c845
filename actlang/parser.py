"""Text to AST: a Lark LALR parser built once, with a transformer method per grammar rule.

The transformer runs inside the LALR parser (no intermediate parse tree), which keeps parsing
at tens of microseconds per short expression. Every failure — Lark's, a bad name, a bad
hyperparameter, a bound — surfaces as an :class:`~actlang.errors.ActlangError` with a caret.

Lark is imported only for text the driver does not plainly accept (for Lark's error report): the
driver runs on tables written ahead of time (:mod:`actlang.lalr_build`), and the transformer is a
plain class (Lark calls any object's methods by rule name), so ``import actlang`` and parsing valid
text never load Lark, and nothing analyses the grammar at start-up.
"""

from __future__ import annotations

import contextvars
import functools
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actlang.ast import CONSTANTS, Call, Constant, Expr, Input, Num, Param, with_inits
from actlang.build import DIALECT, Keyword, install_parser, make_call, not_pointwise, unknown_primitive
from actlang.errors import (
    ActlangError,
    AmbiguousNameWarning,
    ArityError,
    LimitError,
    ParseError,
    Span,
    SuspiciousNameWarning,
    UnknownNameError,
)
from actlang.lalr import FALLBACK, Driver, driver
from actlang.lalr_build import grammar_text, load
from actlang.parse_errors import from_lark, span_of
from actlang.registry import AMBIGUOUS, DIALECTS, all_names, composite, derived, lookup, primitives

if TYPE_CHECKING:
    from lark import Lark, Token

MAX_LENGTH = 10_000
MAX_DEPTH = 200
_depth_limit: contextvars.ContextVar[int] = contextvars.ContextVar("depth_limit", default=MAX_DEPTH)
# Warnings found while transforming, as (category, message): emitted by ``parse`` on every call,
# cached results included, so that the warnings registry (not the parse cache) decides repeats.
_notes: contextvars.ContextVar[list[tuple[type[Warning], str]]] = contextvars.ContextVar("notes")
Note = tuple[type[Warning], str]


def _note(category: type[Warning], message: str) -> None:
    notes = _notes.get(None)
    if notes is not None and (category, message) not in notes:
        notes.append((category, message))


def _ambiguity(name: str) -> None:
    """Note a name whose meaning differs between libraries, read without a dialect."""
    if DIALECT.get() is None and name in AMBIGUOUS:
        _note(AmbiguousNameWarning, f"{AMBIGUOUS[name]}; pass dialect='aquasurf' (this meaning), 'timm' or "
                                    f"'keras' (theirs) to parse/compile/act_layer to say which is meant")


def _learned_scalar(name: str, span: Span) -> Param:
    """A bare name that is no primitive: a learned scalar, with a hint if it looks like a typo."""
    if (error := not_pointwise(name, span)) is not None:
        raise error
    folded = [n for n in all_names() if n.lower() == name.lower()]
    if folded:
        _note(SuspiciousNameWarning, f"'{name}' is read as a learned scalar (names are case-sensitive); "
                                     f"did you mean the primitive '{folded[0]}'?")
    return Param(name, 1.0, span)


def _checked(node: Expr, span: Span) -> Expr:
    # Depth is checked as the tree is built, so a 10,000-deep chain fails fast and no later
    # recursive pass ever sees a tree deeper than the bound.
    if node.depth > _depth_limit.get():
        raise LimitError(f"expression nested deeper than the limit of {_depth_limit.get()}", span=span)
    return node


_KEYWORDS = frozenset({"where", "true", "false"})


@derived
@functools.cache
def _operators() -> dict[tuple[str, int], str]:
    """(token, number of operands) -> the operator primitive it spells, from the registry."""
    return {
        (token, len(p.operator.operands)): p.name for p in primitives() if p.operator for token in p.operator.tokens
    }


def _inline(cls: type) -> type:
    """Make each public method of ``cls`` take its rule's children as one list, the way Lark calls a
    transformer's methods, and spread them into its parameters (Lark's ``v_args(inline=True)``)."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and callable(method):
            setattr(cls, name, _spread(method))
    return cls


def _spread(method: Callable[..., Any]) -> Callable[[Any, list[Any]], Any]:
    @functools.wraps(method)
    def callback(self: Any, children: list[Any]) -> Any:
        return method(self, *children)

    return callback


@_inline
class _ToAst:
    """One method per grammar rule; each returns an AST node (or a piece of one)."""

    def start(self, expr: Expr, inits: list[tuple[Token, float]] | None = None) -> Expr:
        return _apply_where(expr, inits or [])

    def inits(self, *items: tuple[Token, float]) -> list[tuple[Token, float]]:
        return list(items)

    def init(self, name: Token, value: float) -> tuple[Token, float]:
        return (name, value)

    def binary(self, left: Expr, op: Token, right: Expr) -> Expr:
        return _checked(Call(_operators()[op.value, 2], (left, right), (), span_of(op)), span_of(op))

    def neg(self, op: Token, operand: Expr) -> Expr:
        return _checked(Call(_operators()[op.value, 1], (operand,), (), span_of(op)), span_of(op))

    def pos(self, _op: Token, operand: Expr) -> Expr:
        return operand

    def number(self, token: Token) -> Num:
        value = float(token)
        if not math.isfinite(value):
            raise LimitError(f"number {token.value} is out of range", span=span_of(token))
        return Num(value, span_of(token))

    def name(self, token: Token, hyper: list[Keyword] | None = None) -> Expr:
        name, span = token.value, span_of(token)
        if hyper is None and name == "x":
            return Input(span)
        if hyper is None and name in CONSTANTS:
            return Constant(name, span)
        _ambiguity(name)
        if composite(name, DIALECT.get()) is not None:
            return _checked(make_call(name, [Input(span)], hyper or [], span), span)
        primitive = lookup(name)
        if primitive is None:
            if hyper is not None:
                raise unknown_primitive(name, span)
            if name in _KEYWORDS:  # the contextual lexer reads a misplaced keyword as a name
                raise ParseError(f"'{name}' is a keyword and cannot be used as a name here", span=span)
            return _learned_scalar(name, span)
        if not primitive.accepts(1):
            raise ArityError(
                f"{primitive.name} takes {primitive.arity_text()}; a bare name means it applied to x",
                span=span,
                hint=f"usage: {primitive.signature()}",
            )
        return _checked(make_call(name, [Input(span)], hyper or [], span), span)

    def call(self, token: Token, hyper: list[Keyword] | None, args: list[object] | None) -> Expr:
        keywords: list[Keyword] = list(hyper or [])
        positional: list[Expr] = []
        for arg in args or []:
            if isinstance(arg, tuple):
                keywords.append(arg)
            elif len(keywords) > len(hyper or []):
                raise ParseError("positional argument after a keyword argument", span=_span_of_expr(arg, token))
            else:
                positional.append(arg)
        _ambiguity(token.value)
        return _checked(make_call(token.value, positional, keywords, span_of(token)), span_of(token))

    def hyper(self, *keywords: Keyword | None) -> list[Keyword]:
        return [k for k in keywords if k is not None]

    def args(self, *items: object) -> list[object]:
        return list(items)

    def keyword(self, name: Token, value: object) -> Keyword:
        return (name.value, value, span_of(name))

    def true(self, _token: Token) -> bool:
        return True

    def false(self, _token: Token) -> bool:
        return False

    def word(self, token: Token) -> str:
        return token.value

    def signed_number(self, *tokens: Token) -> float:
        value = float(tokens[-1])
        if not math.isfinite(value):
            raise LimitError(f"number {tokens[-1].value} is out of range", span=span_of(tokens[-1]))
        return -value if tokens[0].type == "MINUS" else value


def _span_of_expr(expr: object, fallback: Token) -> Span:
    return getattr(expr, "span", None) or span_of(fallback)


def _apply_where(expr: Expr, inits: list[tuple[Token, float]]) -> Expr:
    """Write the ``where`` clause's initial values into the expression's ``Param`` nodes."""
    if not inits:
        return expr
    from actlang.ast import params

    known = params(expr)
    values: dict[str, float] = {}
    for token, value in inits:
        if token.value in values:
            raise ParseError(f"'{token.value}' is set twice in the where clause", span=span_of(token))
        if token.value not in known:
            listed = ", ".join(known) or "none"
            raise UnknownNameError(
                f"where clause sets '{token.value}', which is not a learned parameter of the expression",
                span=span_of(token),
                hint=f"learned parameters: {listed}",
            )
        values[token.value] = value
    return with_inits(expr, values)


@functools.cache
def _lark() -> Lark:
    """Lark's parser (imports Lark): for the text the driver does not plainly accept, and its errors."""
    return load(grammar_text(), _ToAst())


@functools.cache
def _driver() -> Driver:
    """The fast parser of valid text (no Lark import while the written tables match the grammar)."""
    return driver(grammar_text(), _ToAst())


def parse(
    text: str, *, dialect: str | None = None, max_length: int = MAX_LENGTH, max_depth: int = MAX_DEPTH
) -> Expr:
    """Parse actlang ``text`` into an immutable expression tree.

    ``dialect`` names the library whose activation names the text uses where they differ from
    actlang's (``"keras"``: ``hard_sigmoid`` is ``hardsigmoid``, ``leaky_relu``'s slope is 0.2;
    ``"timm"``; ``"aquasurf"``, ``"hf"``, ``"torch"`` and ``"actlang"`` read actlang's own names).
    Without one, a name whose meaning differs between libraries gives an
    :class:`~actlang.errors.AmbiguousNameWarning`; a bare name that matches a primitive ignoring
    case (``GELU``) a :class:`~actlang.errors.SuspiciousNameWarning`.

    Raises an :class:`~actlang.errors.ActlangError` subclass for every malformed input; input
    longer than ``max_length`` characters or nested deeper than ``max_depth`` is a ``LimitError``.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected the activation as a string, got {type(text).__name__}")
    check_dialect(dialect)
    if max_length == MAX_LENGTH and max_depth == MAX_DEPTH:
        expr, notes = _parse_cached(text, dialect)
    else:
        expr, notes = _parse_noted(text, max_length, max_depth, dialect)
    for category, message in notes:
        warnings.warn(message, category, stacklevel=2)
    return expr


def check_dialect(dialect: str | None) -> None:
    """Raise an ``ActlangError`` unless ``dialect`` is ``None`` or a known library name."""
    if dialect is not None and dialect != "actlang" and dialect not in DIALECTS:
        known = ", ".join(["actlang", *DIALECTS])
        raise ActlangError(f"unknown dialect {dialect!r}; expected one of {known}")


@derived
@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str, dialect: str | None) -> tuple[Expr, tuple[Note, ...]]:
    return _parse_noted(text, MAX_LENGTH, MAX_DEPTH, dialect)


def _parse_noted(text: str, max_length: int, max_depth: int, dialect: str | None) -> tuple[Expr, tuple[Note, ...]]:
    """The tree and the warnings its names call for, in ``dialect``."""
    notes: list[Note] = []
    tokens = (_notes.set(notes), DIALECT.set(dialect))
    try:
        return _parse(text, max_length, max_depth), tuple(notes)
    finally:
        DIALECT.reset(tokens[1])
        _notes.reset(tokens[0])


def _parse(text: str, max_length: int, max_depth: int) -> Expr:
    if len(text) > max_length:
        raise LimitError(
            f"input is {len(text)} characters long; the limit is {max_length}",
            text,
            _position(text, max_length),
        )
    if not text.strip():
        raise ParseError("empty input; expected an activation such as 'relu(x)'", text, Span(1, 1, 1))
    token = _depth_limit.set(max_depth)
    try:
        result = _driver().parse(text)
        # Anything the fast driver does not plainly accept is re-parsed by Lark for its error.
        return _lark_parse(text) if result is FALLBACK else result
    except ActlangError as error:
        raise type(error)(error.message, text, error.span, error.hint) from None
    finally:
        _depth_limit.reset(token)


def _lark_parse(text: str) -> Expr:
    """Lark's own parse of ``text``, its errors in actlang's words (an ``ActlangError``)."""
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        return _lark().parse(text)
    except UnexpectedInput as error:
        raise from_lark(error, text) from None
    except LarkError as error:  # pragma: no cover - defensive: Lark wraps callback failures
        cause = error.__context__
        if isinstance(cause, ActlangError):
            raise type(cause)(cause.message, text, cause.span, cause.hint) from None
        raise ParseError(f"cannot parse: {error}", text) from None


def _position(text: str, offset: int) -> Span:
    before = text[:offset]
    line = before.count("\n") + 1
    return Span(line, offset - (before.rfind("\n") + 1) + 1, 1)


install_parser(parse)  # alias bodies are read by this parser (see actlang.build)
