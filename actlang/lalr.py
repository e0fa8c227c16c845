"""A tight LALR driver over the tables Lark builds from ``grammar/actlang.lark``.

Lark's own loop is general (interactive parsing, error recovery, pluggable lexers); for short
activation strings its per-token overhead dominates. This driver runs the *same* parse table and
the *same* rule callbacks (the inline transformer in :mod:`actlang.parser`), with a scanner that
tokenizes exactly as Lark's contextual lexer does on valid input:

- terminals are matched with the grammar's own patterns (read from Lark, not restated here);
- a keyword (``where``, ``true``, ``false``) is lexed as its keyword terminal where the parser
  state accepts it and as a ``NAME`` otherwise, as the contextual lexer does.

It only ever *accepts*: on the first character or token it cannot handle it returns
:data:`FALLBACK`, and the caller re-runs Lark, which produces the precise error (the rule callbacks
are deterministic, so replaying them raises the same first error). The grammar stays the only
place the syntax lives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Lark
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

FALLBACK: Any = object()  # "let Lark parse this one"


class Driver:
    """Parse text with ``lark``'s LALR table and callbacks; see the module docstring."""

    def __init__(self, lark: Lark) -> None:
        table = lark.parser.parser.parser.parse_table  # type: ignore[attr-defined]
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        callbacks = lark.parser.parser.parser.callbacks  # type: ignore[attr-defined]
        # Per state: terminal or rule name -> (shift?, next state | (size, callback, origin)).
        self.states: dict[Any, dict[str, tuple[bool, Any]]] = {
            state: {
                str(symbol): (True, arg) if action is Shift else (False, _rule(arg, callbacks))
                for symbol, (action, arg) in actions.items()
            }
            for state, actions in table.states.items()
        }
        self.scanner, self.keywords, self.ignored = _scanner(lark)
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


def _rule(rule: Any, callbacks: dict) -> tuple[int, Callable[[list], Any] | None, str]:
    callback = callbacks[rule]
    if len(rule.expansion) == 1 and rule.options.expand1 and isinstance(callback, ExpandSingleChild):
        callback = None  # Lark would call ExpandSingleChild, which returns the only child
    return len(rule.expansion), callback, str(rule.origin.name)  # plain str: Token.__eq__ is slow


def _scanner(lark: Lark) -> tuple[re.Pattern[str], dict[str, str], frozenset[str]]:
    """One alternation of the grammar's terminals; keywords are NAMEs remapped by value.

    Alternatives are ordered as Lark's lexer orders them (priority, then longest literal first),
    so ``**`` wins over ``*``; string terminals that are also valid names become keywords.
    """
    name_re = re.compile(next(t.pattern.to_regexp() for t in lark.terminals if t.name == "NAME"))
    keywords: dict[str, str] = {}
    pieces = []
    terminals = sorted(lark.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value)))
    for terminal in terminals:
        pattern = terminal.pattern
        if pattern.type == "str" and name_re.fullmatch(pattern.value):
            keywords[pattern.value] = terminal.name
            continue
        pieces.append(f"(?P<{terminal.name}>{pattern.to_regexp()})")
    return re.compile("|".join(pieces)), keywords, frozenset(lark.ignore_tokens)
