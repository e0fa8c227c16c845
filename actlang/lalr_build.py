"""The grammar, and the tables Lark's analysis of it gives, written ahead of time.

Lark's analysis of ``grammar/actlang.lark`` (the LALR automaton) and Lark's own import take
longer than the rest of ``actlang parse`` together, and both depend only on the grammar. So
``make tables`` runs the analysis once and writes two modules:

- :mod:`actlang.lalr_tables`: what :class:`actlang.lalr.Driver` needs, as plain data (states,
  rules with Lark's tree-building steps, the scanner's terminals); read while its fingerprint
  matches the grammar text and options, so valid text parses without importing Lark;
- :mod:`actlang.lark_tables`: Lark's own serialized parser (what ``Lark.save`` writes), from which
  :func:`load` builds the ``Lark`` that reports errors; read only while its fingerprint also
  matches the installed Lark's version. A module of its own: valid text never loads it.

A table that does not match is ignored and the grammar analysed as before (slower, never stale).
Lark numbers states in an order that follows string hashing, which changes with every process, so
the written states are renumbered canonically and the text is reproducible.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lark import Lark

# The options the parser is built with; they are part of what the tables were written for.
OPTIONS: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": True}

# The grammar lives in the repository's top-level ``grammar/`` folder, which the build maps to the
# package ``actlang.grammar`` (pyproject.toml: ``package-dir``). A checkout or an editable install
# reads the folder next to the package; a wheel install reads the packaged copy.
_CHECKOUT_GRAMMAR = Path(__file__).resolve().parent.parent / "grammar" / "actlang.lark"
_HERE = Path(__file__).resolve().parent


def grammar_text() -> str:
    """The Lark grammar of the language (``grammar/actlang.lark``)."""
    if _CHECKOUT_GRAMMAR.is_file():
        return _CHECKOUT_GRAMMAR.read_text(encoding="utf-8")
    from importlib import resources  # slow to import (tempfile, shutil): only an installed wheel needs it

    return resources.files("actlang.grammar").joinpath("actlang.lark").read_text(encoding="utf-8")


def fingerprint(grammar: str) -> str:
    """What the driver's tables must have been written for: the grammar text and the options."""
    import hashlib  # here: its OpenSSL binding takes milliseconds to load, and only parsing needs it

    return hashlib.sha256(f"{grammar}\0{sorted(OPTIONS.items())}".encode()).hexdigest()


def lark_fingerprint(grammar: str) -> str:
    """What Lark's serialized parser must have been written for: the above and Lark's version."""
    import hashlib

    import lark

    return hashlib.sha256(f"{fingerprint(grammar)}\0{lark.__version__}".encode()).hexdigest()


def load(grammar: str, transformer: Any) -> Lark:
    """Lark's LALR parser for ``grammar`` with ``transformer`` inlined: from :mod:`actlang.lalr_tables`
    when they were written for this grammar, Lark version and options, else built from the grammar."""
    from lark import Lark

    from actlang import lark_tables

    if lark_tables.FINGERPRINT == lark_fingerprint(grammar):
        return Lark._load_from_dict(lark_tables.DATA, lark_tables.MEMO, transformer=transformer)
    return Lark(grammar, transformer=transformer, **OPTIONS)


def tables(grammar: str) -> tuple[dict, dict]:
    """Lark's serialized parser for ``grammar`` (``Lark.save``'s data, less the options given at
    load time), its states numbered canonically."""
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


def driver_tables(parser: Lark) -> dict[str, Any]:
    """What :class:`actlang.lalr.Driver` needs from ``parser``, as plain data: the parse table
    (shift targets, reductions as rule indexes), each rule as ``(origin, method name, size,
    one-child pass-through, child filter, Nones appended)`` taken from the steps Lark itself chains
    for it, and the scanner."""
    from lark.parsers.lalr_analysis import Shift

    table = parser.parser.parser.parser.parse_table  # type: ignore[attr-defined]
    rules, specs = {}, []
    for rule, chain in parser._parse_tree_builder.rule_builders:  # type: ignore[attr-defined]
        rules[rule] = len(specs)
        name = rule.alias or rule.options.template_source or rule.origin.name
        specs.append((str(rule.origin.name), str(name), len(rule.expansion), *_steps(chain)))
    states = {
        state: {str(symbol): (True, arg) if action is Shift else (False, rules[arg]) for symbol, (action, arg) in
                actions.items()}
        for state, actions in table.states.items()
    }
    scanner, keywords = _scanner(parser)
    return {
        "start": table.start_states["start"], "end": table.end_states["start"], "states": states,
        "rules": specs, "scanner": scanner, "keywords": keywords, "ignored": sorted(parser.lexer_conf.ignore),
    }


def _steps(chain: list[Any]) -> tuple[bool, tuple[tuple[int, bool, int], ...] | None, int]:
    """Lark's tree-building steps for one rule as data: (one-child pass-through, the child filter's
    ``(index, splice, Nones before)`` per kept child or ``None`` for no filter, Nones appended)."""
    from lark.parse_tree_builder import ChildFilterLALR, ChildFilterLALR_NoPlaceholders, ExpandSingleChild

    expand1, include, nones_after = False, None, 0
    for step in chain:
        if step is ExpandSingleChild:
            expand1 = True
        elif isinstance(step, functools.partial) and step.func is ChildFilterLALR:
            include, nones_after = tuple((i, bool(x), n) for i, x, n in step.args[0]), step.args[1]
        elif isinstance(step, functools.partial) and step.func is ChildFilterLALR_NoPlaceholders:
            include = tuple((i, bool(x), 0) for i, x in step.args[0])
        else:  # propagate_positions, ambiguity handling: options this parser does not use
            raise ValueError(f"the driver has no equivalent of Lark's tree-building step {step!r}")
    return expand1, include, nones_after


def _scanner(parser: Lark) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The grammar's terminals as ``(name, regexp)`` alternatives in the order they are tried, and
    the keywords (NAMEs remapped by value).

    Alternatives are ordered as Lark's lexer orders them (priority, then longest literal first),
    so ``**`` wins over ``*``; string terminals that are also valid names become keywords.
    """
    name_re = re.compile(next(t.pattern.to_regexp() for t in parser.terminals if t.name == "NAME"))
    keywords: dict[str, str] = {}
    pieces = []
    terminals = sorted(parser.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value)))
    for terminal in terminals:
        pattern = terminal.pattern
        if pattern.type == "str" and name_re.fullmatch(pattern.value):
            keywords[pattern.value] = terminal.name
            continue
        pieces.append((terminal.name, pattern.to_regexp()))
    return pieces, keywords


def tables_source(grammar: str) -> dict[str, str]:
    """The text of :mod:`actlang.lalr_tables` and :mod:`actlang.lark_tables` for ``grammar``, by file name."""
    import pprint

    import lark

    data, memo = tables(grammar)
    written = lark.Lark._load_from_dict(data, memo)  # the driver's states numbered as the written ones

    def show(value: object) -> str:
        return pprint.pformat(value, width=100, sort_dicts=False)

    def header(what: str) -> str:
        return (
            f'"""{what} for grammar/actlang.lark, written by ``make tables``: do not edit.\n\n'
            "Read only while ``FINGERPRINT`` matches (actlang/lalr_build.py); tests/test_lalr_tables.py checks\n"
            'that the written tables are up to date.\n"""\n\n'
        )

    return {
        "lalr_tables.py": header("The LALR driver's tables (actlang/lalr.py)")
        + f"FINGERPRINT = {fingerprint(grammar)!r}\nDRIVER = {show(driver_tables(written))}\n",
        "lark_tables.py": header("Lark's serialized LALR parser")
        + f"FINGERPRINT = {lark_fingerprint(grammar)!r}\nLARK_VERSION = {lark.__version__!r}\n"
        f"DATA = {show(data)}\nMEMO = {show(memo)}\n",
    }


def write_tables() -> None:
    """Write :mod:`actlang.lalr_tables` and :mod:`actlang.lark_tables` for the grammar (``make tables``)."""
    for name, text in tables_source(grammar_text()).items():
        (_HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {_HERE / name}", file=sys.stderr)
