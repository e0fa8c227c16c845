"""Equivalence with several learned scalars: the probe gives each parameter its own values, so
parameters that start equal (or in a fixed relation) do not stay so on every probe."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import actlang
from actlang.cli import main
from actlang.symbolic.probe import param_assignments

# (a, b): equal at the initial values (and on any probe that moves every parameter alike),
# different functions as soon as the parameters differ.
DIFFERENT = [
    ("x + beta - gamma", "x"),
    ("x*beta*gamma", "x*beta^2"),
    ("x*(beta + gamma)", "2*beta*x"),
    ("beta - gamma", "zero(x)"),
    ("x*beta/gamma", "x"),
    ("beta*x + gamma", "gamma*x + beta"),
    ("max(beta, gamma)*x", "beta*x"),
    ("sigmoid(beta*x)", "sigmoid(gamma*x)"),
    ("x*(alpha - beta)*(beta - gamma)*(alpha - gamma)", "zero(x)"),
    ("alpha*x + beta*x", "alpha*x + gamma*x"),
    ("x*beta where beta = 0.25", "x*gamma where gamma = 0.25"),
    # a fixed difference that shifting every parameter by the same amount keeps
    ("abs(gamma - beta)*x where beta = 1, gamma = 2", "x"),
    ("square(gamma - beta) + x where beta = 0.5, gamma = 1.5", "x + 1"),
]

# Truly equal for every value of the parameters: never "different".
EQUAL = [
    ("beta*gamma*x", "gamma*beta*x"),
    ("x*(beta + gamma)", "x*beta + x*gamma"),
    ("x + beta - gamma", "x - (gamma - beta)"),
    ("gamma*sigmoid(beta*x)", "gamma/(1 + exp(-beta*x))"),
    ("(alpha - beta)*(alpha + beta)*x", "(alpha^2 - beta^2)*x"),
    ("max(beta, gamma)*x + min(beta, gamma)*x", "(beta + gamma)*x"),
]


def _values(expr: str, x: float, values: dict[str, float]) -> float:
    parsed = actlang.parse(expr)
    known = {k: v for k, v in values.items() if k in actlang.ast.params(parsed)}
    return float(actlang.evaluate(parsed, np.array([x]), known)[0])


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_parameters_that_start_equal_are_probed_apart(a: str, b: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "different", (a, b, result)
    names = set(actlang.ast.params(actlang.parse(a))) | set(actlang.ast.params(actlang.parse(b)))
    assert set(result.params) == names
    # the counterexample is real: both sides evaluated there with those parameter values
    x = result.counterexample
    va, vb = _values(a, x, result.params), _values(b, x, result.params)
    assert (va, vb) == pytest.approx(result.values)
    assert not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_multi_parameter_functions_stay_equal(a: str, b: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict in ("proved", "numeric"), (a, b, result)


def test_commuted_product_of_parameters_is_proved() -> None:
    assert actlang.equivalent("beta*gamma*x", "gamma*beta*x").verdict == "proved"
    assert actlang.equivalent("x*beta*gamma*delta", "delta*x*gamma*beta").verdict == "proved"


def test_cli_names_the_parameter_values(capsys) -> None:
    for a, b in DIFFERENT[:4]:
        code = main(["equiv", a, b])
        out = capsys.readouterr().out
        assert code == 1 and out.startswith("different: at x = "), (a, b, out)
        assert "beta = " in out and "gamma = " in out, out
    assert main(["equiv", "beta*gamma*x", "gamma*beta*x"]) == 0
    assert capsys.readouterr().out.strip() == "proved"


def test_assignments_are_deterministic_and_start_at_the_initial_values() -> None:
    exprs = [actlang.parse("alpha*x + beta*sigmoid(gamma*x) where alpha = 0.5")]
    first = param_assignments(exprs)
    assert first == param_assignments(exprs)
    assert first[0] == {"alpha": 0.5, "beta": 1.0, "gamma": 1.0}
    assert all(set(a) == {"alpha", "beta", "gamma"} for a in first)
    assert all(math.isfinite(v) and v != 0 for a in first for v in a.values())
    # the same values whichever expression names a parameter first
    b = actlang.parse("gamma*x + beta")
    c = actlang.parse("beta*x + gamma")
    assert param_assignments([b, c]) == param_assignments([c, b])
    assert param_assignments([actlang.parse("x")]) == [{}]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_assignments_are_generic(count: int) -> None:
    """No two parameters are equal, in a fixed difference, or in a fixed ratio on every assignment."""
    names = [f"p{i}" for i in range(count)]
    expr = actlang.parse(" + ".join(f"{n}*x" for n in names))
    found = param_assignments([expr])
    assert len(found) >= 5
    for u, v in itertools.combinations(names, 2):
        moved = found[1:]
        assert all(a[u] != a[v] for a in moved), (u, v, found)
        assert len({round(a[u] - a[v], 9) for a in moved}) > 2, (u, v, found)
        assert len({round(a[u] / a[v], 9) for a in moved}) > 2, (u, v, found)


def test_single_parameter_probe_is_unchanged() -> None:
    """One parameter keeps the values it had (counterexamples read as before)."""
    found = param_assignments([actlang.parse("beta*x")])
    assert [a["beta"] for a in found[:5]] == [1.0, 1.37, 0.39, -1.0, 2.3]
    assert actlang.equivalent("x*sigmoid(beta*x)", "silu(x)").params == {"beta": 1.37}
