"""Fuzzing the parser: every input either parses or raises an ``ActlangError``, nothing else.

Random strings are drawn over the grammar's alphabet (tokens and single characters), from a fixed
seed, so the run is deterministic. Pathological inputs (deep nesting, long chains, huge numbers)
must parse or raise the right error; their timing is measured by
``benchmarks/parse_throughput.py``, not asserted here.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actlang
from actlang import ActlangError, LimitError, ParseError
from actlang import parser as parser_module
from actlang.ast import walk
from actlang.lalr import FALLBACK
from actlang.parser import MAX_DEPTH, MAX_LENGTH, _parse

FUZZ_CASES = 12_000

TOKENS = [
    "x", "x", "x", "pi", "e", "beta", "where", "true", "false", "tanh", "relu", "softplus", "gelu",
    "sum_n", "add", "sofplus", "approximate", "none", "(", ")", "(", ")", "[", "]", ",", "=", "+", "-",
    "*", "/", "^", "**", "0", "2", ".5", "1e-3", "3.", "1e999", "7E+2", " ", " ", "\n", "\t",
]
CHARS = "x(),[]=+-*/^. 0123456789eE_aZwhr\t\n#$;'\"\\{}<>!?@ä²"


def random_text(rng: random.Random) -> str:
    """A short string: mostly grammar tokens, with single characters mixed in."""
    pieces = []
    for _ in range(rng.randint(0, 14)):
        pieces.append(rng.choice(TOKENS) if rng.random() < 0.8 else rng.choice(CHARS))
    return "".join(pieces)


def outcome(text: str) -> tuple[str, str]:
    """``("ok", canonical text)`` or ``(error class, message)``; anything else propagates."""
    try:
        expr = _parse(text, MAX_LENGTH, MAX_DEPTH)
    except ActlangError as error:
        return type(error).__name__, str(error)
    return "ok", actlang.format(expr)


def test_random_strings_parse_or_raise_actlang_error() -> None:
    rng = random.Random(20240602)
    kinds: dict[str, int] = {}
    for _ in range(FUZZ_CASES):
        text = random_text(rng)
        kind, detail = outcome(text)
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "ok":  # whatever parses prints to text that parses back to the same tree
            assert actlang.parse(detail) == _parse(text, MAX_LENGTH, MAX_DEPTH), text
    # The generator reaches both sides: valid inputs and each kind of error.
    assert kinds.get("ok", 0) > 200, kinds
    assert {"ParseError", "UnknownNameError", "LimitError"} <= set(kinds), kinds


def test_fast_driver_and_lark_agree_on_every_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    texts = [random_text(rng) for _ in range(3000)]

    def outcome(text: str) -> tuple:  # the result, with every node's source position
        try:
            expr = _parse(text, MAX_LENGTH, MAX_DEPTH)
        except ActlangError as error:
            return type(error).__name__, str(error)
        return actlang.format(expr), [node.span for node in walk(expr)]

    fast = [outcome(t) for t in texts]

    class LarkOnly:
        def parse(self, text: str) -> object:
            return FALLBACK

    monkeypatch.setattr(parser_module, "_driver", LarkOnly)
    slow = [outcome(t) for t in texts]
    for text, a, b in zip(texts, fast, slow, strict=True):
        assert a == b, text


@given(st.text(alphabet=CHARS + "".join(TOKENS), max_size=40))
@settings(max_examples=2000)
def test_hypothesis_text_parses_or_raises_actlang_error(text: str) -> None:
    kind, _ = outcome(text)
    assert kind == "ok" or kind in {cls.__name__ for cls in _error_classes()}


def _error_classes() -> list[type]:
    pending, found = [ActlangError], []
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


# ---- pathological inputs -----------------------------------------------------------------

DEEP = MAX_DEPTH + 1
PATHOLOGICAL = [
    ("parentheses 4,995 deep", "(" * 4995 + "x" + ")" * 4995, "ok"),
    ("unclosed parentheses", "(" * 9999 + "x", ParseError),
    ("calls past the depth bound", "relu(" * DEEP + "x" + ")" * DEEP, LimitError),
    ("calls at the depth bound", "relu(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1), "ok"),
    ("unclosed calls", "relu(" * 1999, ParseError),
    ("9,999 unary minus", "-" * 9999 + "x", LimitError),
    ("9,999 unary plus", "+" * 9999 + "x", "ok"),
    ("sum chain of 5,000", "+".join(["x"] * 5000), LimitError),
    ("power chain of 5,000", "^".join(["x"] * 5000), LimitError),
    ("alternating x^-x", "x^-" * 3000 + "x", LimitError),
    ("9,999-digit number", "1" * 9999, LimitError),
    ("9,000-digit fraction", "0." + "0" * 9000 + "1", "ok"),
    ("huge exponent", "1e99999999999999999999", LimitError),
    ("9,999-character name", "a" * 9999, "ok"),
    ("9,990-character unknown call", "a" * 9990 + "(x)", actlang.UnknownNameError),
    ("variadic call with 4,900 arguments", "sum_n(" + ",".join(["x"] * 4900) + ")", "ok"),
    ("repeated keyword", "softplus(x, " + ", ".join(["beta=2"] * 1000) + ")", actlang.HyperparameterError),
    ("10,001 characters", "x" * 10_001, LimitError),
    ("10,000 spaces then x", " " * 9999 + "x", "ok"),
    ("9,999 brackets", "[" * 9999, ParseError),
    ("9,998 newlines", "\n" * 9998 + "x$", ParseError),
    ("where chain", "x where " * 1000, ParseError),
    ("900 unknown where names", "p*x where " + ", ".join(f"p{i}=1" for i in range(900)), actlang.UnknownNameError),
]


@pytest.mark.parametrize(("what", "text", "expected"), PATHOLOGICAL, ids=[p[0] for p in PATHOLOGICAL])
def test_pathological_inputs(what: str, text: str, expected) -> None:
    if expected == "ok":
        expr = _parse(text, MAX_LENGTH, MAX_DEPTH)
        assert _parse(actlang.format(expr), MAX_LENGTH * 2, MAX_DEPTH) == expr
    else:
        with pytest.raises(expected) as caught:
            _parse(text, MAX_LENGTH, MAX_DEPTH)
        assert caught.value.line is not None


def test_limit_errors_say_which_bound() -> None:
    with pytest.raises(LimitError, match="limit is 10000"):
        actlang.parse("x" * 10_001)
    with pytest.raises(LimitError, match="nested deeper than the limit of 200"):
        actlang.parse("-" * 300 + "x")
    with pytest.raises(LimitError, match="out of range"):
        actlang.parse("1e400 * x")
