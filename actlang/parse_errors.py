"""Lark's parse errors in actlang's words: where (a caret span) and what was expected.

Lark reports the terminals its LALR state accepts; :func:`from_lark` turns them into a
:class:`~actlang.errors.ParseError` whose hint reads "expected an expression, an operator or ')'".
Imported with the parser, but Lark itself only when an error is translated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actlang.errors import ParseError, Span

if TYPE_CHECKING:
    from lark import Token
    from lark.exceptions import UnexpectedInput


def span_of(token: Token) -> Span:
    """The caret span of a Lark token (at least one column wide)."""
    return Span(token.line, token.column, max(1, len(token)))


_TERMINALS = {
    "NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['",
    "RSQB": "']'", "COMMA": "','", "EQUAL": "'='", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'",
    "SLASH": "'/'", "POW": "'^'", "TRUE": "true", "FALSE": "false", "_WHERE": "'where'",
    "$END": "end of input",
}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "POW"}


def _expected(terminals: set[str]) -> str:
    """Lark's expected-terminal set in words: 'an expression', 'an operator', "')'", ..."""
    terminals = set(terminals)
    words = []
    if {"NAME", "NUMBER", "LPAR"} <= terminals:
        words.append("an expression")
        terminals -= {"NAME", "NUMBER", "LPAR", "PLUS", "MINUS"}
    if _OPERATORS <= terminals:
        words.append("an operator")
        terminals -= _OPERATORS
    words += sorted(_TERMINALS.get(t, t) for t in terminals)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    if token.type == "NAME":
        return f"name '{token.value}'"
    if token.type == "NUMBER":
        return f"number {token.value}"
    return f"'{token.value}'"


def from_lark(error: UnexpectedInput, text: str) -> ParseError:
    """A Lark parse error of ``text`` as an actlang :class:`~actlang.errors.ParseError`."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(error, UnexpectedCharacters):
        span = Span(error.line, error.column, 1)
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        return ParseError(f"unexpected character {char!r}", text, span)
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            span = end_span(text)
        else:
            span = span_of(token)
        # ``accepts`` replays the parser on each terminal: exact, unlike the LALR table's merged set.
        expected = _expected(set(error.accepts or error.expected))
        return ParseError(f"unexpected {_describe(token)}", text, span, hint=f"expected {expected}")
    return ParseError("unexpected end of input", text, end_span(text))


def end_span(text: str) -> Span:
    """The span just past the end of ``text``."""
    lines = text.split("\n")
    return Span(len(lines), len(lines[-1]) + 1, 1)
