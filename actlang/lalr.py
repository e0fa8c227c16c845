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

from lark import Lark, Token
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

    def parse(self, text: str) -> Any:
        """The callbacks' result for ``text``, or :data:`FALLBACK` where it is not plainly valid."""
        states, scan, keywords, ignored = self.states, self.scanner.match, self.keywords, self.ignored
        state_stack: list[Any] = [self.start]
        value_stack: list[Any] = []
        pos, end, line, line_start = 0, len(text), 1, 0
        while pos < end:
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
            actions = states[state_stack[-1]]
            if kind == "NAME" and value in keywords and keywords[value] in actions:
                kind = keywords[value]
            token = Token(kind, value, pos, line, pos - line_start + 1)
            pos = match.end()
            if not _feed(states, state_stack, value_stack, token, self.end):
                return FALLBACK
        result = _feed(states, state_stack, value_stack, Token("$END", "", pos, line, 1), self.end)
        return value_stack[-1] if result == "done" else FALLBACK


def _feed(states: dict, state_stack: list, value_stack: list, token: Token, end_state: Any) -> str | bool:
    """Shift ``token`` after every reduction it triggers: True, "done" at the end, False on error."""
    is_end = token.type == "$END"
    while True:
        entry = states[state_stack[-1]].get(token.type)
        if entry is None:
            return False
        shift, arg = entry
        if shift:
            if is_end:
                return False
            state_stack.append(arg)
            value_stack.append(token)
            return True
        size, callback, origin = arg
        if callback is None:  # a one-child ``?rule`` passes its child through
            del state_stack[-1]
            value = value_stack.pop()
        elif size:
            value = callback(value_stack[-size:])
            del state_stack[-size:]
            del value_stack[-size:]
        else:
            value = callback([])
        goto = states[state_stack[-1]][origin]
        state_stack.append(goto[1])
        value_stack.append(value)
        if is_end and state_stack[-1] == end_state:
            return "done"


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
