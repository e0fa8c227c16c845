"""The LALR tables written ahead of time (actlang/lalr_tables.py) and the lazy import of Lark.

``actlang parse`` starts without analysing the grammar, and valid text parses without importing
Lark: the driver's tables are read while their fingerprint (grammar text, options) matches, Lark's
serialized parser while Lark's version matches too; otherwise the grammar is analysed as before.
These tests fail when the written tables go stale, when they stop being used, when a stale table
could be used, or when the driver's tree building departs from Lark's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from actlang import lalr_build, lalr_tables, lark_tables
from actlang.lalr import FALLBACK, Driver, driver
from actlang.lalr_build import OPTIONS, driver_tables, fingerprint, grammar_text, lark_fingerprint, load
from actlang.parser import _lark, _ToAst

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [
    "relu(x)", "x * sigmoid(beta * x) where beta = 1.5", "gelu[approximate=tanh](x) + -2^-x ** 3",
    "softplus[beta=2, threshold=20](x) / (1 + abs(x))", "leaky_relu[slope=0.1](x)", "max(x, 0, 1)",
    "pau[p=2, q=1](x)", "relu(x", "x +", "f[a=true, b=false, c=tanh, d=-1e3](x)", "(x", "x where",
]


def test_the_written_tables_are_the_grammar_s() -> None:
    # Fails after an edit of grammar/actlang.lark (or a Lark upgrade) without `make tables`.
    assert lalr_tables.FINGERPRINT == fingerprint(grammar_text()), "run: make tables"
    assert lark_tables.FINGERPRINT == lark_fingerprint(grammar_text()), "run: make tables"
    for name, text in lalr_build.tables_source(grammar_text()).items():
        assert (ROOT / "actlang" / name).read_text(encoding="utf-8") == text, f"{name} is stale: run make tables"


def test_the_tables_text_does_not_depend_on_string_hashing() -> None:
    # Lark numbers its states in an order that follows str hashes; the written text must not.
    script = "from actlang.lalr_build import grammar_text as g, tables_source as t; print(*t(g()).values())"
    texts = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(texts) == 1


def test_the_parser_is_loaded_without_analysing_the_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    from lark.parsers import lalr_analysis

    def refuse(self: object) -> None:
        raise AssertionError("the grammar was analysed although the written tables match it")

    monkeypatch.setattr(lalr_analysis.LALR_Analyzer, "compute_lalr", refuse)
    parser = load(grammar_text(), _ToAst())
    assert parser.parse("relu(x) + 1") == driver(grammar_text(), _ToAst()).parse("relu(x) + 1")


def test_a_changed_grammar_is_analysed_not_read_from_the_tables() -> None:
    # The same grammar with a rule changed: the written tables must not be used for it.
    changed = grammar_text().replace('POW: "^" | "**"', 'POW: "^"')
    assert fingerprint(changed) != lalr_tables.FINGERPRINT
    assert lark_fingerprint(changed) != lark_tables.FINGERPRINT
    assert driver(changed, _ToAst()).parse("x ** 2") is FALLBACK  # `**` is no longer a token
    assert driver(changed, _ToAst()).parse("x ^ 2") == _lark().parse("x ^ 2")
    assert load(changed, _ToAst()).parse("x ^ 2") == _lark().parse("x ^ 2")
    with pytest.raises(Exception, match="Unexpected"):
        load(changed, _ToAst()).parse("x ** 2")


def test_the_fingerprints_cover_lark_s_version_and_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import lark

    text = grammar_text()
    before, before_lark = fingerprint(text), lark_fingerprint(text)
    monkeypatch.setattr(lark, "__version__", "0.0.0")
    assert fingerprint(text) == before  # the driver's tables do not depend on Lark's version
    assert lark_fingerprint(text) != before_lark  # another Lark: its serialized parser is not read
    monkeypatch.undo()
    monkeypatch.setitem(OPTIONS, "maybe_placeholders", False)
    assert fingerprint(text) != before


def test_the_driver_refuses_tree_building_it_does_not_reproduce() -> None:
    from lark import Lark

    with pytest.raises(ValueError, match="tree-building step"):
        driver_tables(Lark(grammar_text(), propagate_positions=True, **OPTIONS))

    class Partial:  # a transformer with one rule's method only
        def start(self, children: list) -> object:
            return children

    with pytest.raises(ValueError, match="no method for rule 'inits'"):
        Driver(lalr_tables.DRIVER, Partial())


@pytest.mark.parametrize("text", SAMPLES)
def test_tables_and_grammar_give_the_same_parser(text: str) -> None:
    from lark import Lark
    from lark.exceptions import UnexpectedInput

    written = load(grammar_text(), _ToAst())
    analysed = Lark(grammar_text(), transformer=_ToAst(), **OPTIONS)

    def outcome(parse: Callable[[str], object]) -> object:
        try:
            return parse(text)
        except UnexpectedInput as error:
            return type(error).__name__, error.line, error.column, sorted(getattr(error, "accepts", None) or ())
        except Exception as error:  # the callbacks' own errors (unknown names, ...) are compared too
            return type(error).__name__, str(error)

    assert outcome(written.parse) == outcome(analysed.parse)
    from_tables = Driver(lalr_tables.DRIVER, _ToAst()).parse
    from_lark = Driver(driver_tables(analysed), _ToAst()).parse
    assert outcome(from_tables) == outcome(from_lark)
    if outcome(from_tables) is not FALLBACK:  # what the driver accepts, Lark parses to the same tree
        assert outcome(from_tables) == outcome(analysed.parse)


def test_valid_text_parses_without_importing_lark() -> None:
    script = (
        "import sys, actlang\n"
        "print('lark' in sys.modules)\n"
        "actlang.parse('gelu_new(x) + x * sigmoid(beta * x) where beta = 1.5')\n"  # an alias body is parsed too
        "actlang.parse('softplus[beta=2](x) / (1 + abs(-x)) ^ 2')\n"
        "print('lark' in sys.modules)\n"
        "try:\n    actlang.parse('relu(x')\nexcept actlang.ParseError:\n    pass\n"  # an error: Lark's words
        "print('lark' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False", "True"], out.stdout + out.stderr
