"""Fuzzing the symbolic calls with hostile names and hyperparameters: only ``ActlangError``
escapes, and no call runs past its time budget (plus a fixed allowance for parsing, printing and
the numeric probe's floor).

Expressions are drawn as text, not as valid trees: learned-scalar names include Python keywords
and ``nn.Module`` attributes, hyperparameters take signed zeros, subnormals, huge values, NaN and
infinity spellings, unknown keys and values of the wrong kind. ``ACTLANG_SYMBOLIC_FUZZ`` sets the
number of examples per test (CI default 40; docs/symbolic.md reports a longer run).
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actlang
from actlang.errors import ActlangError

EXAMPLES = int(os.environ.get("ACTLANG_SYMBOLIC_FUZZ", "40"))
BUDGET = 0.5
ALLOWANCE = 1.5  # parsing, printing, the probe's 0.5 s floor, an interrupt landing late
NAMES = ["a", "beta", "class", "forward", "training", "lambda", "x1", "prelu_0", "_w", "Theta", "sigmoid_", "self",
         "None", "inf", "nan", "e1", "pi2", "where", "relu"]
VALUES = ["-0.0", "0", "-0", "0.0", "1e-320", "5e-324", "1e-300", "1e-6", "0.5", "2", "100", "1000", "1e6",
          "1e300", "1e308", "-1e308", "1.7976931348623157e308", "1e400", "nan", "inf", "-inf", "true", "none",
          "tanh", "-1"]
OPS = ["+", "-", "*", "/", "^"]


def _primitives() -> list:
    return [p for p in actlang.primitives() if p.arity in (1, None) or p.name in ("max", "min", "pow", "select")]


def hyper_text() -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(VALUES), st.floats(allow_nan=False, allow_infinity=False).map(repr))
    return value


@st.composite
def call_text(draw, argument: str) -> str:
    primitive = draw(st.sampled_from(_primitives()))
    keys = [h.name for h in primitive.hyper] + ["bogus"]
    pairs = draw(st.lists(st.tuples(st.sampled_from(keys), hyper_text()), max_size=2, unique_by=lambda p: p[0]))
    bracket = f"[{', '.join(f'{k}={v}' for k, v in pairs)}]" if pairs else ""
    count = primitive.arity if primitive.arity is not None else draw(st.integers(1, 3))
    args = ", ".join([argument] * count)
    return f"{primitive.name}{bracket}({args})"


def leaf() -> st.SearchStrategy[str]:
    return st.one_of(st.just("x"), st.just("x"), st.sampled_from(NAMES), st.sampled_from(VALUES[:14]), st.just("pi"))


def texts() -> st.SearchStrategy[str]:
    return st.recursive(
        leaf(),
        lambda inner: st.one_of(
            inner.flatmap(call_text),
            st.tuples(inner, st.sampled_from(OPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda t: f"-({t})"),
        ),
        max_leaves=6,
    )


@pytest.fixture(autouse=True, scope="module")
def warm_up() -> None:
    """sympy's first use (imports, caches, the pattern table) is a one-off cost, not a call's."""
    actlang.equivalent("tanh(x)", "2*sigmoid(2*x) - 1")
    actlang.simplify("x*sigmoid(x)")
    actlang.derivative("softplus(x)")
    actlang.properties("x")


def timed(call) -> float:
    start = time.perf_counter()
    try:
        call()
    except ActlangError:
        pass
    return time.perf_counter() - start


@settings(max_examples=EXAMPLES, deadline=None)
@given(a=texts(), b=texts(), symmetry=st.sampled_from(["none", "negation", "sign"]))
def test_equivalent_on_hostile_text(a: str, b: str, symmetry: str) -> None:
    assert timed(lambda: actlang.equivalent(a, b, symmetry=symmetry, budget=BUDGET)) < BUDGET + ALLOWANCE


@settings(max_examples=EXAMPLES, deadline=None)
@given(a=texts(), wrt=st.sampled_from(["x", "x", "a", "beta", "class"]))
def test_simplify_and_derivative_on_hostile_text(a: str, wrt: str) -> None:
    assert timed(lambda: actlang.simplify(a, budget=BUDGET)) < BUDGET + ALLOWANCE
    assert timed(lambda: actlang.derivative(a, wrt=wrt, budget=BUDGET)) < BUDGET + ALLOWANCE


@settings(max_examples=max(EXAMPLES // 4, 5), deadline=None)
@given(a=texts())
def test_properties_on_hostile_text(a: str) -> None:
    assert timed(lambda: actlang.properties(a, budget=BUDGET)) < BUDGET + ALLOWANCE
