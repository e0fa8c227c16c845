"""The LALR tables written ahead of time (actlang/lalr_tables.py) and the lazy import of Lark.

``actlang parse`` starts without analysing the grammar: :func:`actlang.lalr.load` reads the
written tables while their fingerprint (grammar text, Lark's version, options) matches, and builds
the parser from the grammar otherwise. These tests fail when the written tables go stale, when
they stop being used, or when a stale table could be used.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from actlang import lalr, lalr_tables
from actlang.lalr import FALLBACK, Driver, fingerprint, grammar_text, load
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
    assert (ROOT / "actlang" / "lalr_tables.py").read_text(encoding="utf-8") == lalr.tables_source(grammar_text())


def test_the_tables_text_does_not_depend_on_string_hashing() -> None:
    # Lark numbers its states in an order that follows str hashes; the written text must not.
    script = "from actlang.lalr import grammar_text, tables_source; print(tables_source(grammar_text()))"
    texts = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        for seed in ("1", "2")
    }
    assert len(texts) == 1


def test_the_parser_is_loaded_without_analysing_the_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    from lark.parsers import lalr_analysis

    def refuse(self: object) -> None:
        raise AssertionError("the grammar was analysed although the written tables match it")

    monkeypatch.setattr(lalr_analysis.LALR_Analyzer, "compute_lalr", refuse)
    parser = load(grammar_text(), _ToAst())
    assert Driver(parser).parse("relu(x) + 1") == _lark().parse("relu(x) + 1")


def test_a_changed_grammar_is_analysed_not_read_from_the_tables() -> None:
    # The same grammar with a rule changed: the written tables must not be used for it.
    changed = grammar_text().replace('POW: "^" | "**"', 'POW: "^"')
    assert fingerprint(changed) != lalr_tables.FINGERPRINT
    parser = load(changed, _ToAst())
    assert Driver(parser).parse("x ** 2") is FALLBACK  # `**` is no longer a token
    assert Driver(parser).parse("x ^ 2") == _lark().parse("x ^ 2")


def test_the_fingerprint_covers_lark_s_version_and_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import lark

    text = grammar_text()
    before = fingerprint(text)
    monkeypatch.setattr(lark, "__version__", "0.0.0")
    assert fingerprint(text) != before
    monkeypatch.undo()
    monkeypatch.setitem(lalr.OPTIONS, "maybe_placeholders", False)
    assert fingerprint(text) != before


@pytest.mark.parametrize("text", SAMPLES)
def test_tables_and_grammar_give_the_same_parser(text: str) -> None:
    from lark import Lark
    from lark.exceptions import UnexpectedInput

    written = load(grammar_text(), _ToAst())
    analysed = Lark(grammar_text(), transformer=_ToAst(), **lalr.OPTIONS)

    def outcome(parse: Callable[[str], object]) -> object:
        try:
            return parse(text)
        except UnexpectedInput as error:
            return type(error).__name__, error.line, error.column, sorted(getattr(error, "accepts", None) or ())
        except Exception as error:  # the callbacks' own errors (unknown names, ...) are compared too
            return type(error).__name__, str(error)

    assert outcome(written.parse) == outcome(analysed.parse)
    assert outcome(Driver(written).parse) == outcome(Driver(analysed).parse)


def test_import_actlang_does_not_import_lark() -> None:
    script = (
        "import sys, actlang\n"
        "assert str(actlang.call('relu', actlang.Input())) == 'relu(x)'\n"  # no parse: still no Lark
        "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))\n"
        "actlang.parse('gelu_new(x)')\n"  # an alias: its body is parsed too
        "print('lark' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split("\n")[:2] == ["[]", "True"], out.stdout + out.stderr
