"""Search-space templates: actlang text with the placeholders ``unary``, ``binary`` and ``n-ary``.

``binary(unary(x),unary(x))`` stands for every string obtained by putting an operator in each
placeholder. The template is parsed with the actlang grammar itself: each placeholder is first
replaced by the variadic primitive ``sum_n`` padded to the placeholder's width, so columns (and
error carets) stay where the user wrote them, and the parsed ``sum_n`` calls found at those
columns become holes. ``n-ary`` (which would lex as ``n - ary``) and a bare ``unary`` (which
would be a learned parameter) are thereby handled without changing the language.

Strings are printed in AQuaSurF's spelling (prefix calls, no spaces, AQuaSurF's names), with
actlang's canonical names and ``[key=value]`` brackets for primitives AQuaSurF has no name for,
so every enumerated string parses and prints back to itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from actlang.ast import Call, Constant, Expr, HyperValue, Input, Num, Param, params
from actlang.errors import ActlangError, ArityError, ParseError
from actlang.parser import parse
from actlang.printer import format_number, format_value
from actlang.registry import lookup

Kind = Literal["n-ary", "binary", "unary"]
KINDS: tuple[Kind, ...] = ("n-ary", "binary", "unary")  # AQuaSurF's substitution order
_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9_.])(n-ary|binary|unary)(?![A-Za-z0-9_])")
_SENTINEL = "sum_n"


@dataclass(frozen=True)
class Op:
    """An operator that can fill a hole: a primitive with its hyperparameters, and its spelling."""

    name: str
    hyper: tuple[tuple[str, HyperValue], ...]
    text: str


@dataclass(frozen=True)
class Hole:
    """A placeholder applied to arguments; ``slot`` is its position among holes in pre-order."""

    kind: Kind
    args: tuple[Node, ...]
    slot: int


@dataclass(frozen=True)
class Fixed:
    """A primitive call written out in the template (``sigmoid(unary(x))``)."""

    op: Op
    args: tuple[Node, ...]


Node: TypeAlias = Hole | Fixed | Input | Num | Constant | Param


def spell(name: str, hyper: tuple[tuple[str, HyperValue], ...]) -> str:
    """Prefix spelling of a primitive: AQuaSurF's name when it has one and default hyperparameters,
    else the canonical name with its non-default hyperparameters in brackets."""
    primitive = lookup(name)
    assert primitive is not None, name
    defaults = {h.name: h.default for h in primitive.hyper}
    shown = [f"{k}={format_value(v)}" for k, v in hyper if defaults.get(k) != v]
    if not shown and primitive.aquasurf is not None:
        return primitive.aquasurf
    return name + (f"[{','.join(shown)}]" if shown else "")


def prefix(expr: Expr) -> str:
    """AQuaSurF-style text of any expression (``actlang.format(e, style="aquasurf")`` where that
    applies; numbers, constants and parameters are written as actlang reads them)."""
    match expr:
        case Input():
            return "x"
        case Num(value=value):
            return format_number(value)
        case Constant(name=name) | Param(name=name):
            return name
        case Call(name=name, args=args, hyper=hyper):
            return f"{spell(name, hyper)}({','.join(prefix(a) for a in args)})"
    raise TypeError(f"not an actlang expression: {expr!r}")


@dataclass(frozen=True)
class Template:
    """A parsed template: its tree with holes, the operators of each hole, and the text pieces."""

    text: str
    root: Node
    kinds: tuple[Kind, ...]  # kind of each hole, in pre-order
    ops: tuple[tuple[Op, ...], ...]  # operators of each hole, in pre-order
    order: tuple[int, ...]  # hole slots in AQuaSurF's product order (n-ary, binary, unary; left to right)
    pattern: str  # str.format pattern over the holes in ``order``
    suffix: str  # a where clause for parameters with non-default initial values

    @property
    def count(self) -> int:
        """Number of strings the template produces."""
        return math.prod(len(ops) for ops in self.ops)

    @property
    def shape(self) -> tuple[int, ...]:
        """Operator counts of the holes in AQuaSurF's product order."""
        return tuple(len(self.ops[slot]) for slot in self.order)


def parse_template(
    text: str,
    unary: Sequence[str],
    binary: Sequence[str],
    nary: Sequence[str],
) -> Template:
    """Parse ``text`` and resolve the operator lists for each placeholder kind.

    Raises an ``ActlangError`` for malformed text, unknown operators, or an operator that does not
    take as many arguments as its hole has.
    """
    sentinel_text, spots = _mark(text)
    try:
        expr = parse(sentinel_text, dialect="aquasurf")
    except ActlangError as error:
        message = error.message.replace(_SENTINEL, "the placeholder") if spots else error.message
        raise type(error)(message, text, error.span, error.hint) from None
    counter = [0]
    root = _build(expr, spots, counter, text)
    kinds_by_slot: list[Kind] = []
    args_by_slot: list[int] = []
    _collect(root, kinds_by_slot, args_by_slot)
    lists = {"unary": unary, "binary": binary, "n-ary": nary}
    ops = tuple(_resolve_ops(lists[kind], kind, nargs) for kind, nargs in zip(kinds_by_slot, args_by_slot, strict=True))
    order = tuple(sorted(range(len(kinds_by_slot)), key=lambda s: (KINDS.index(kinds_by_slot[s]), s)))
    position = {slot: i for i, slot in enumerate(order)}
    pattern = "".join(
        piece.replace("{", "{{").replace("}", "}}") if isinstance(piece, str) else f"{{{position[piece]}}}"
        for piece in _pieces(root)
    )
    inits = [f"{name} = {format_number(v)}" for name, v in params(expr).items() if v != 1.0]
    suffix = f" where {', '.join(inits)}" if inits else ""
    return Template(text, root, tuple(kinds_by_slot), ops, order, pattern, suffix)


def _mark(text: str) -> tuple[str, dict[tuple[int, int], Kind]]:
    """Replace placeholders by the sentinel, padded to equal width; their (line, column) spots."""
    spots: dict[tuple[int, int], Kind] = {}
    out, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        start = match.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        spots[(line, column)] = match.group(1)  # type: ignore[assignment]
        out += [text[last:start], _SENTINEL.ljust(len(match.group(1)))]
        last = match.end()
    out.append(text[last:])
    return "".join(out), spots


def _build(expr: Expr, spots: dict[tuple[int, int], Kind], counter: list[int], text: str) -> Node:
    match expr:
        case Call(name=name, args=args, hyper=hyper, span=span):
            kind = spots.get((span.line, span.column)) if (name == _SENTINEL and span) else None
            if kind is not None:
                slot = counter[0]
                counter[0] += 1
                wanted = {"unary": 1, "binary": 2}.get(kind)
                if wanted is not None and len(args) != wanted:
                    raise ArityError(f"placeholder {kind} takes {wanted} argument(s), got {len(args)}", text, span)
                return Hole(kind, tuple(_build(a, spots, counter, text) for a in args), slot)
            return Fixed(Op(name, hyper, spell(name, hyper)), tuple(_build(a, spots, counter, text) for a in args))
        case _:
            return expr


def _collect(node: Node, kinds: list[Kind], nargs: list[int]) -> None:
    """Kinds and argument counts of the holes, in pre-order (a hole before its arguments' holes)."""
    if isinstance(node, Hole):
        kinds.append(node.kind)
        nargs.append(len(node.args))
    for arg in getattr(node, "args", ()):
        _collect(arg, kinds, nargs)


def _resolve_ops(specs: Sequence[str], kind: Kind, nargs: int) -> tuple[Op, ...]:
    """Operators from their specs (``"relu"``, ``"swish"``, ``"leaky_relu[slope=0.2]"``)."""
    if isinstance(specs, str):
        raise ParseError(f"the {kind} operators must be a list of names, got the string {specs!r}")
    if not specs:
        raise ParseError(f"the template has a {kind} placeholder but no {kind} operators were given")
    ops = []
    for spec in specs:
        # Operator names are read as AQuaSurF's (its hard_sigmoid is actlang's: no ambiguity to warn of).
        text = f"{spec}({','.join(['x'] * nargs)})" if "(" not in spec else spec
        expr = parse(text, dialect="aquasurf")
        if not isinstance(expr, Call) or any(not isinstance(a, Input) for a in expr.args):
            raise ParseError(f"{spec!r} is not a primitive name (optionally with [hyperparameters])")
        primitive = lookup(expr.name)
        assert primitive is not None
        if not primitive.accepts(nargs):
            raise ArityError(f"{kind} operator {spec!r} takes {primitive.arity_text()}; its hole has {nargs}")
        if primitive.stochastic or not primitive.pointwise:
            raise ParseError(f"{kind} operator {spec!r} is not a deterministic pointwise function")
        ops.append(Op(expr.name, expr.hyper, spell(expr.name, expr.hyper)))
    return tuple(ops)


def _pieces(node: Node) -> list[str | int]:
    """The template's text as literal pieces and hole slots, adjacent literals merged."""
    raw: list[str | int] = []

    def emit(n: Node) -> None:
        match n:
            case Hole(args=args, slot=slot):
                raw.append(slot)
                _emit_args(args)
            case Fixed(op=op, args=args):
                raw.append(op.text)
                _emit_args(args)
            case _:
                raw.append(prefix(n))

    def _emit_args(args: tuple[Node, ...]) -> None:
        raw.append("(")
        for i, arg in enumerate(args):
            if i:
                raw.append(",")
            emit(arg)
        raw.append(")")

    emit(node)
    merged: list[str | int] = []
    for piece in raw:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged
