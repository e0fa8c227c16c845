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

Lark's analysis of the grammar (the LALR automaton) takes longer than the rest of ``actlang
parse`` together, so it is done once, when the grammar changes: ``make tables`` writes
it to :mod:`actlang.lalr_tables`, which :func:`load` reads when that module was written from this
very grammar text by this very Lark version, and otherwise ignores (it analyses the grammar).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Lark itself is imported by the first parse (``import actlang`` stays light)
    from lark import Lark

FALLBACK: Any = object()  # "let Lark parse this one"


class Driver:
    """Parse text with ``lark``'s LALR table and callbacks; see the module docstring."""

    def __init__(self, lark: Lark) -> None:
        from lark.parsers.lalr_analysis import Shift

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
    from lark.parse_tree_builder import ExpandSingleChild

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
    return re.compile("|".join(pieces)), keywords, frozenset(lark.lexer_conf.ignore)


# The options the parser is built with; they are part of what the tables were written for.
OPTIONS: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": True}

# The grammar lives in the repository's top-level ``grammar/`` folder, which the build maps to the
# package ``actlang.grammar`` (pyproject.toml: ``package-dir``). A checkout or an editable install
# reads the folder next to the package; a wheel install reads the packaged copy.
_CHECKOUT_GRAMMAR = Path(__file__).resolve().parent.parent / "grammar" / "actlang.lark"
_TABLES = Path(__file__).resolve().parent / "lalr_tables.py"


def grammar_text() -> str:
    """The Lark grammar of the language (``grammar/actlang.lark``)."""
    if _CHECKOUT_GRAMMAR.is_file():
        return _CHECKOUT_GRAMMAR.read_text(encoding="utf-8")
    from importlib import resources  # slow to import (tempfile, shutil): only an installed wheel needs it

    return resources.files("actlang.grammar").joinpath("actlang.lark").read_text(encoding="utf-8")


def fingerprint(grammar: str) -> str:
    """What the written tables must have been written for: the grammar, Lark's version, the options."""
    import hashlib

    import lark

    key = f"{grammar}\0{lark.__version__}\0{sorted(OPTIONS.items())}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load(grammar: str, transformer: Any) -> Lark:
    """Lark's LALR parser for ``grammar`` with ``transformer`` inlined: from :mod:`actlang.lalr_tables`
    when they were written for this grammar, Lark version and options, else built from the grammar."""
    from lark import Lark

    from actlang import lalr_tables

    if lalr_tables.FINGERPRINT == fingerprint(grammar):
        return Lark._load_from_dict(lalr_tables.DATA, lalr_tables.MEMO, transformer=transformer)
    return Lark(grammar, transformer=transformer, **OPTIONS)


def tables(grammar: str) -> tuple[dict, dict]:
    """Lark's serialized parser for ``grammar`` (what ``Lark.save`` writes, less the options given at
    load time), with states and terminals numbered canonically so that the text is reproducible:
    Lark numbers states in an order that follows string hashing, which changes with every process."""
    import lark

    data, memo = lark.Lark(grammar, **OPTIONS).memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in lark.lark._LOAD_ALLOWED_OPTIONS}
    data["parser"]["parser"] = _canonical(data["parser"]["parser"])
    return data, memo


def _canonical(table: dict) -> dict:
    """``table`` (a serialized ``IntParseTable``) renumbered: symbols by name, states in the order a
    breadth-first walk from the start states meets them, each state's actions by symbol name."""
    names = table["tokens"]
    symbols = {name: number for number, name in enumerate(sorted(names.values()))}
    order: dict[int, int] = {}
    queue = [state for _, state in sorted(table["start_states"].items())]
    while queue:
        state = queue.pop(0)
        if state in order:
            continue
        order[state] = len(order)
        for _, (action, target) in sorted(table["states"][state].items(), key=lambda item: names[item[0]]):
            if action == 0:  # a shift or a goto: ``target`` is a state
                queue.append(target)
    for state in table["states"]:  # none in an LALR automaton, where every state is reached from the start
        order.setdefault(state, len(order))
    states = {
        order[state]: {
            symbols[names[token]]: (action, order[target] if action == 0 else target)
            for token, (action, target) in sorted(actions.items(), key=lambda item: names[item[0]])
        }
        for state, actions in sorted(table["states"].items(), key=lambda item: order[item[0]])
    }
    return {
        "tokens": {number: name for name, number in symbols.items()},
        "states": states,
        "start_states": {name: order[state] for name, state in table["start_states"].items()},
        "end_states": {name: order[state] for name, state in table["end_states"].items()},
    }


def tables_source(grammar: str) -> str:
    """The text of :mod:`actlang.lalr_tables` for ``grammar``."""
    import pprint

    import lark

    data, memo = tables(grammar)
    return (
        f'"""Lark\'s LALR tables for grammar/actlang.lark, written by ``make tables``: do not edit.\n\n'
        "Read by :func:`actlang.lalr.load` only while ``FINGERPRINT`` matches the grammar, Lark\'s version\n"
        'and the options (tests/test_lalr_tables.py checks that they are up to date).\n"""\n\n'
        f"FINGERPRINT = {fingerprint(grammar)!r}\n"
        f"LARK_VERSION = {lark.__version__!r}\n"
        f"DATA = {pprint.pformat(data, width=118, sort_dicts=False)}\n"
        f"MEMO = {pprint.pformat(memo, width=118, sort_dicts=False)}\n"
    )


def write_tables() -> None:
    """Write :mod:`actlang.lalr_tables` for the current grammar (``make tables``)."""
    _TABLES.write_text(tables_source(grammar_text()), encoding="utf-8")
    print(f"wrote {_TABLES}", file=sys.stderr)
