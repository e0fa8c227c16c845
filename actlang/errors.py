"""Every error a user can cause is an :class:`ActlangError` (a ``ValueError``).

Each carries the 1-based ``line`` and ``column`` of the fault (``None`` when the fault has no
place in the text, e.g. a bad argument to :func:`actlang.evaluate`) and renders the offending
line with a caret under the fault, so a message read in a log points at the mistake::

    unknown primitive 'sofplus' at 1:6; did you mean 'softplus'?
      erfc(sofplus(x))^2
           ^^^^^^^
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A region of source text: 1-based line and column, and its length in characters."""

    line: int
    column: int
    length: int = 1


class ActlangError(ValueError):
    """Base class of every error a user can cause."""

    def __init__(
        self,
        message: str,
        text: str | None = None,
        span: Span | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.text = text
        self.span = span
        self.line = span.line if span else None
        self.column = span.column if span else None
        super().__init__(render(message, text, span, hint))

    def __reduce__(self):  # pickling keeps the structured fields, not just the rendered text
        return (type(self), (self.message, self.text, self.span, self.hint))


class ActlangWarning(UserWarning):
    """Base class of actlang's warnings: the input is valid but probably not what was meant."""


class AmbiguousNameWarning(ActlangWarning):
    """A name means different functions in different libraries (``hard_sigmoid``); pass
    ``dialect=`` to say which library's reading is meant."""


class SuspiciousNameWarning(ActlangWarning):
    """A bare name reads as a learned scalar but matches a primitive ignoring case (``GELU``)."""


class ConstantExpressionWarning(ActlangWarning):
    """An activation that never uses its input ``x`` (``relu(z)``: z is a learned scalar)."""


class ParseError(ActlangError):
    """The text is not in the language: an unexpected character or token."""


class UnknownNameError(ActlangError):
    """A call names no primitive, a ``where`` clause names no parameter, or an option names none
    of its choices (a search preset, a deduplication mode)."""


class ArityError(ActlangError):
    """A primitive was given the wrong number of arguments."""


class HyperparameterError(ActlangError):
    """A hyperparameter key is unknown, repeated, missing, or its value has the wrong type/range."""


class LimitError(ActlangError):
    """The input exceeds a bound (length, nesting depth, number range)."""


class UnsupportedError(ActlangError):
    """A valid expression that a requested target cannot express (a print style, an export format)."""


class ConstantExpressionError(ActlangError):
    """An activation that never uses its input ``x``, where one that does was expected
    (``compile("relu(z)")``; ``allow_constant=True`` accepts it)."""


class EvaluationError(ActlangError):
    """An expression cannot be evaluated as asked (e.g. a rank-1 input to a per-sample primitive)."""


def render(message: str, text: str | None, span: Span | None, hint: str | None = None) -> str:
    """``message at L:C; hint`` followed by the faulty source line and a caret under the fault."""
    tail = f"; {hint}" if hint else ""
    if span is None:
        return message + tail
    message = f"{message} at {span.line}:{span.column}{tail}"
    if text is None:
        return message
    lines = text.split("\n")
    source_line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
    # Long lines are windowed around the fault so the caret stays readable.
    start = max(0, span.column - 1 - 60)
    shown = source_line[start : start + 120]
    prefix = "..." if start else ""
    suffix = "..." if start + 120 < len(source_line) else ""
    caret_at = span.column - 1 - start + len(prefix)
    width = max(1, min(span.length, len(shown) + len(prefix) - caret_at))
    return f"{message}\n  {prefix}{shown}{suffix}\n  {' ' * caret_at}{'^' * width}"


for _cls in (
    ActlangError,
    ParseError,
    UnknownNameError,
    ArityError,
    HyperparameterError,
    LimitError,
    UnsupportedError,
    EvaluationError,
):
    # Tracebacks print ``actlang.UnknownNameError``: the public name, not the private module.
    _cls.__module__ = "actlang"
