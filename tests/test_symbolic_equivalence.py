"""actlang.equivalent: proofs, counterexamples, symmetries, domains, budget and cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import actlang
from actlang.symbolic.probe import precise, precise_differ
from tests.strategies import exprs
from tests.symbolic_tables import IDENTITIES, NEGATION_PAIRS, NON_IDENTITIES


def test_tables_are_big_enough() -> None:
    assert len(IDENTITIES) >= 40 and len(NON_IDENTITIES) >= 20


@pytest.mark.parametrize(("a", "b"), IDENTITIES)
def test_identity_is_proved(a: str, b: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "proved", result
    assert result.transform == "f(x)" and result.counterexample is None and bool(result)


@pytest.mark.parametrize(("a", "b"), NON_IDENTITIES)
def test_non_identity_has_a_true_counterexample(a: str, b: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "different" and not result, result
    x, values = result.counterexample, result.params
    assert x is not None
    ea, eb = actlang.parse(a), actlang.parse(b)
    known = lambda e: {k: v for k, v in values.items() if k in actlang.ast.params(e)}
    va = actlang.evaluate(ea, np.array([x]), known(ea))[0]
    vb = actlang.evaluate(eb, np.array([x]), known(eb))[0]
    assert (va, vb) == pytest.approx(result.values, nan_ok=True)
    # evaluate shows the difference, and a 50-digit evaluation confirms it
    assert not (np.isnan(va) and np.isnan(vb)) and not np.isclose(va, vb, rtol=1e-9, atol=1e-12)
    assert precise_differ(precise(ea, x, known(ea)), precise(eb, x, known(eb)))


@pytest.mark.parametrize(("a", "b", "symmetry", "transform"), NEGATION_PAIRS)
def test_symmetry_names_the_transform(a: str, b: str, symmetry: str, transform: str) -> None:
    result = actlang.equivalent(a, b, symmetry=symmetry)
    assert (result.verdict, result.transform) == ("proved", transform)


def test_negation_is_not_accepted_without_the_symmetry() -> None:
    assert actlang.equivalent("-elu(x)", "elu(x)").verdict == "different"
    assert actlang.equivalent("elu(-x)", "elu(x)", symmetry="negation").verdict == "different"


def test_unknown_symmetry_is_an_error() -> None:
    with pytest.raises(actlang.ActlangError, match="symmetry"):
        actlang.equivalent("x", "x", symmetry="mirror")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "x", "reason"),
    [
        ("x/x", "1", 0.0, "0/0"),
        ("(x^3)^(1/3)", "x", None, "negative base"),
        ("(x - sqrt(2))/(x - sqrt(2))", "1", np.sqrt(2), "0/0"),
        ("(x - pi)/(x - pi)", "1", np.pi, "0/0"),
    ],
)
def test_domain_differences_are_found_and_explained(a: str, b: str, x: float | None, reason: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "different"
    if x is not None:
        assert result.counterexample == pytest.approx(x)
    assert reason in result.note


def test_float_overflow_is_not_a_difference() -> None:
    # log(1 + exp(1000)) is inf in float64 but softplus(1000) = 1000: the same function.
    assert actlang.evaluate("log(1 + exp(x))", [1000.0])[0] == np.inf
    assert actlang.equivalent("log(1 + exp(x))", "softplus(x)").verdict == "proved"


def test_no_time_for_a_proof_means_numeric() -> None:
    result = actlang.equivalent("tanh(x)", "2*sigmoid(2*x) - 1 + 0*x", budget=0.0)
    assert result.verdict == "numeric" and bool(result)


def test_counterexamples_need_no_proof_time() -> None:
    assert actlang.equivalent("elu(x)", "silu(x)", budget=0.0).verdict == "different"


def test_learned_parameters_are_free() -> None:
    # Equal at beta's initial value 1 but not for other values of beta.
    result = actlang.equivalent("x*sigmoid(beta*x)", "silu(x)")
    assert result.verdict == "different" and result.params["beta"] != 1.0
    assert actlang.equivalent("x*sigmoid(beta*x)", "x*sigmoid(x*beta)").verdict == "proved"


def test_results_are_cached_by_canonical_text() -> None:
    first = actlang.equivalent("softplus(x) - softplus(-x)", "x")
    again = actlang.equivalent("softplus(x)-softplus(-x)", "x")
    assert (first.verdict, first.transform) == (again.verdict, again.transform) == ("proved", "f(x)")
    from actlang.symbolic.equivalence import _cached

    assert _cached.cache_info().hits >= 1


def test_opaque_primitives_compare_by_structure() -> None:
    assert actlang.equivalent("ash(x) + x", "x + ash(x)").verdict == "proved"


def test_to_dict_is_json_ready() -> None:
    import json

    data = json.loads(json.dumps(actlang.equivalent("x/x", "1").to_dict()))
    assert data["verdict"] == "different" and data["counterexample"] == 0.0 and data["values"][1] == 1.0


@settings(max_examples=12, deadline=None)
@given(e=exprs(max_depth=3, pointwise_only=True))
def test_simplify_never_changes_the_function(e) -> None:
    simplified = actlang.simplify(e, budget=0.5)
    assert actlang.parse(actlang.format(simplified)) == simplified
    assert actlang.equivalent(e, simplified, budget=0.5).verdict != "different"
