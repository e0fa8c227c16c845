"""A tight LALR driver over the tables Lark builds from ``grammar/actlang.lark``.

Lark's own loop is general (interactive parsing, error recovery, pluggable lexers); for short
activation strings its per-token overhead dominates. This driver runs the *same* parse table and
the *same* tree-building steps (Lark's child filters and one-child pass-through, applied to the
inline transformer in :mod:`actlang.parser`), with a scanner that tokenizes exactly as Lark's
contextual lexer does on valid input:

- terminals are matched with the grammar's own patterns (read from Lark, not restated here);
- a keyword (``where``, ``true``, ``false``) is lexed as its keyword terminal where the parser
  state accepts it and as a ``NAME`` otherwise, as the contextual lexer does.

It only ever *accepts*: on the first character or token it cannot handle it returns
:data:`FALLBACK`, and the caller re-runs Lark, which produces the precise error (the rule callbacks
are deterministic, so replaying them raises the same first error). The grammar stays the only
place the syntax lives.

The driver's tables are plain data, written ahead of time from Lark's analysis of the grammar
(:mod:`actlang.lalr_build`, ``make tables``) into :mod:`actlang.lalr_tables`, and read while their
fingerprint matches the grammar: valid text is parsed without importing Lark at all (its import
and its grammar analysis were most of ``actlang parse``'s start-up time).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from actlang.lalr_build import fingerprint

FALLBACK: Any = object()  # "let Lark parse this one"
Callback = Callable[[list[Any]], Any]


class Driver:
    """Parse text with tables from :func:`actlang.lalr_build.driver_tables` and the rule methods of
    ``transformer``; see the module docstring."""

    def __init__(self, tables: Mapping[str, Any], transformer: Any) -> None:
        rules = [_rule(spec, transformer) for spec in tables["rules"]]
        self.start, self.end = tables["start"], tables["end"]
        # Per state: terminal or rule name -> (shift?, next state | (size, callback, origin)).
        self.states: dict[Any, dict[str, tuple[bool, Any]]] = {
            state: {symbol: (True, arg) if shift else (False, rules[arg]) for symbol, (shift, arg) in actions.items()}
            for state, actions in tables["states"].items()
        }
        self.scanner = re.compile("|".join(f"(?P<{name}>{regexp})" for name, regexp in tables["scanner"]))
        self.keywords: dict[str, str] = dict(tables["keywords"])
        self.ignored = frozenset(tables["ignored"])
        # (state below, top state, lookahead) -> top state after a chain of pass-through reductions
        self.units: dict[tuple[Any, Any, str], Any] = {}

    def parse(self, text: str) -> Any:
        """The callbacks' result for ``text``, or :data:`FALLBACK` where it is not plainly valid."""
        # One flat loop with local names: this is the parser's hot path.
        states, scan, keywords, ignored = self.states, self.scanner.match, self.keywords, self.ignored
        end_state, units = self.end, self.units
        state_stack: list[Any] = [self.start]
        value_stack: list[Any] = []
        pos, end, line, line_start = 0, len(text), 1, 0
        while True:
            if pos < end:
                match = scan(text, pos)
                if match is None:
                    return FALLBACK
                kind, value = match.lastgroup, match.group()
                if kind in ignored:
                    newlines = value.count("\n")
                    if newlines:
                        line += newlines
                        line_start = pos + value.rfind("\n") + 1
                    pos = match.end()
                    continue
                if kind == "NAME" and value in keywords and keywords[value] in states[state_stack[-1]]:
                    kind = keywords[value]
                token = SourceToken(kind, value, pos, line, pos - line_start + 1)
                pos = match.end()
            else:
                kind, token = "$END", SourceToken("$END", "", pos, line, pos - line_start + 1)
            while True:  # reduce as the lookahead ``kind`` demands, then shift it
                entry = states[state_stack[-1]].get(kind)
                if entry is None:
                    return FALLBACK
                shift, arg = entry
                if shift:
                    if kind == "$END":
                        return FALLBACK
                    state_stack.append(arg)
                    value_stack.append(token)
                    break
                size, callback, origin = arg
                if callback is None:  # one-child ``?rule``s pass their child through: jump the chain
                    top, below = state_stack[-1], state_stack[-2]
                    target = units.get((below, top, kind))
                    if target is None:
                        target = units[below, top, kind] = self._unit_chain(below, top, kind)
                    state_stack[-1] = target
                    if kind == "$END" and target == end_state:
                        return value_stack[-1]
                    continue
                if size:
                    value = callback(value_stack[-size:])
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    value = callback([])
                state_stack.append(states[state_stack[-1]][origin][1])
                value_stack.append(value)
                if kind == "$END" and state_stack[-1] == end_state:
                    return value


    def _unit_chain(self, below: Any, top: Any, kind: str) -> Any:
        """The top state after every one-child pass-through reduction that lookahead ``kind``
        triggers over ``top`` (they pop only ``top``, so ``below`` stays and fixes each goto)."""
        state = top
        while state != self.end:
            entry = self.states[state].get(kind)
            if entry is None or entry[0] or entry[1][1] is not None:
                break
            state = self.states[below][entry[1][2]][1]
        return state


class SourceToken(str):
    """A token as the rule callbacks see it: the text, with ``type``, ``value``, position.

    The same interface as Lark's ``Token`` for what the callbacks use, without its constructor's
    compatibility checks (a third of the per-token cost).
    """

    type: str
    value: str
    start_pos: int
    line: int
    column: int

    def __new__(cls, kind: str, value: str, start_pos: int, line: int, column: int) -> SourceToken:
        token = str.__new__(cls, value)
        token.type, token.value, token.start_pos, token.line, token.column = kind, value, start_pos, line, column
        return token


class _Node:
    """What Lark's ``Tree`` is to a rule without a transformer method: the lists Lark generates for
    ``(...)*`` (``__args_star_2``), whose children the parent rule splices in."""

    __slots__ = ("children", "data")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data, self.children = data, children


def _rule(spec: tuple, transformer: Any) -> tuple[int, Callback | None, str]:
    """(size, callback, origin) of one rule, its callback built as Lark builds it: the transformer's
    method (or a ``_Node``), behind the one-child pass-through of ``?rule``, behind the child filter
    (drop anonymous tokens, splice ``_rule`` children, ``None`` for an absent ``[item]``)."""
    origin, name, size, expand1, include, nones_after = spec
    if size == 1 and expand1 and include is None:
        return size, None, origin  # ``?rule: item``: the driver passes the child through
    build = getattr(transformer, name, None)
    if build is None:
        # Only Lark's ``__x_star_n`` lists (spliced into the parent) and ``?rule``s whose filter leaves
        # one child (``"(" expr ")"``, passed through) may lack a method; any other rule would hand
        # Lark's Tree to the parent's method, which the transformer does not expect.
        if not (name.startswith("_") or expand1):
            raise ValueError(f"the transformer has no method for rule {name!r}")
        build = functools.partial(_Node, name)
    if expand1:
        build = _expand_single(build)
    if include is not None:
        build = _filter(build, include, nones_after)
    return size, build, origin


def _expand_single(build: Callback) -> Callback:
    def callback(children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else build(children)

    return callback


def _filter(build: Callback, include: tuple[tuple[int, bool, int], ...], nones_after: int) -> Callback:
    def callback(children: list[Any]) -> Any:
        kept: list[Any] = []
        for index, splice, nones in include:
            if nones:
                kept += [None] * nones
            if splice:
                kept += children[index].children
            else:
                kept.append(children[index])
        if nones_after:
            kept += [None] * nones_after
        return build(kept)

    return callback


def driver(grammar: str, transformer: Any) -> Driver:
    """The driver for ``grammar``: from the written tables while they match it (no Lark import),
    else from Lark's analysis of ``grammar`` now."""
    from actlang import lalr_tables

    if lalr_tables.FINGERPRINT == fingerprint(grammar):
        return Driver(lalr_tables.DRIVER, transformer)
    from actlang.lalr_build import driver_tables, load

    return Driver(driver_tables(load(grammar, transformer)), transformer)
