"""Soundness of equivalent: no false "proved", no false "different", domains decided exactly.

A "proved" must hold on the whole real line, where each side is undefined included; when the
domain cannot be decided the answer is "numeric" with the reason in the note.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import actlang
from actlang.symbolic.domain import compare_domains
from tests.symbolic_tables import SOUNDNESS_PAIRS


def test_the_soundness_table_covers_every_kind() -> None:
    truths = [t for *_, t in SOUNDNESS_PAIRS]
    symmetries = {s for _, _, s, _ in SOUNDNESS_PAIRS}
    with_params = [p for p in SOUNDNESS_PAIRS if actlang.ast.params(actlang.parse(p[0]))]
    assert len(SOUNDNESS_PAIRS) >= 100 and truths.count(True) >= 40 and truths.count(False) >= 40
    assert symmetries == {"none", "negation", "sign"} and len(with_params) >= 10


@pytest.mark.parametrize(("a", "b", "symmetry", "truth"), SOUNDNESS_PAIRS)
def test_no_false_proof_and_no_false_difference(a: str, b: str, symmetry: str, truth: bool) -> None:
    result = actlang.equivalent(a, b, symmetry=symmetry)
    assert result.verdict != ("different" if truth else "proved"), result
    if result.verdict == "numeric":
        assert result.note  # a numeric verdict says why there is no proof


@pytest.mark.parametrize(
    ("a", "b", "point"),
    [
        ("(sigmoid(x) - 0.25)/(sigmoid(x) - 0.25)", "1", -math.log(3)),
        ("(tanh(x) - 0.5)/(tanh(x) - 0.5)", "1", math.atanh(0.5)),
        ("(softplus(x) - 1)/(softplus(x) - 1)", "1", math.log(math.e - 1)),
        ("(exp(x) - 2)/(exp(x) - 2)", "1", math.log(2)),
        ("(x^3 - 2)/(x^3 - 2)", "1", 2 ** (1 / 3)),
    ],
)
def test_zeros_of_transcendental_denominators_are_found(a: str, b: str, point: float) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "different" and result.counterexample == pytest.approx(point)
    assert result.note  # NaN there, or: only the exact point shows it


@pytest.mark.parametrize(
    ("a", "b"),
    [("a*(x - pi)/(x - pi)", "a"), ("(a*x - a)/(x - 1)", "a"), ("(x - pi)/(x - pi)*a + b", "a + b")],
)
def test_the_domain_check_runs_with_learned_scalars(a: str, b: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "different" and set(result.params) <= {"a", "b"}


@pytest.mark.parametrize("symmetry", ["none", "negation", "sign"])
@pytest.mark.parametrize(("a", "b"), [("(x - pi)/(x - pi)", "1"), ("(x^2 - 2)/(x^2 - 2)", "1")])
def test_a_domain_difference_survives_every_symmetry(a: str, b: str, symmetry: str) -> None:
    assert actlang.equivalent(a, b, symmetry=symmetry).verdict == "different"


def test_a_symmetry_that_matches_the_domain_is_proved() -> None:
    result = actlang.equivalent("(x - 1)/(x - 1)", "(x + 1)/(x + 1)", symmetry="sign")
    assert (result.verdict, result.transform) == ("proved", "f(-x)")


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("beta*x/beta", "x", "learned scalar"),
        ("(x^2 + beta^2)/(x^2 + beta^2)", "1", "learned scalar"),
        ("(erf(x) - 0.5)/(erf(x) - 0.5)", "1", "root"),
        ("x/leaky_relu[slope=-0.0](x)", "x/leaky_relu[slope=0.0](x)", "interval"),
    ],
)
def test_an_undecided_domain_is_numeric_with_the_reason(a: str, b: str, why: str) -> None:
    result = actlang.equivalent(a, b)
    assert result.verdict == "numeric" and "domain is undecided" in result.note and why in result.note


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("asinh(x)", "log(x + sqrt(x^2 + 1))"),
        ("max(x, y) + min(x, y)", "x + y"),
        ("abs(x - a)", "max(x, a) - min(x, a)"),
        ("log1p(x)", "log(1 + x)"),
        ("(sigmoid(x) - 0.25)/(sigmoid(x) - 0.25)", "(x + log(3))/(x + log(3))"),
        ("a*(x - pi)/(x - pi)", "(x - pi)*a/(x - pi)"),
        ("select(x, log(x), 0)", "select(x, log(abs(x)), 0)"),
        ("1/(1/x)", "x"),
    ],
)
def test_identities_with_matching_domains_are_proved(a: str, b: str) -> None:
    assert actlang.equivalent(a, b).verdict == "proved"


def test_domain_check_reports_the_exact_point() -> None:
    check = compare_domains(actlang.parse("(x^2 - 2)/(x^2 - 2)"), actlang.parse("1"))
    assert check.status == "different" and abs(check.x) == pytest.approx(math.sqrt(2))
    assert str(check.exact) in ("sqrt(2)", "-sqrt(2)")
    assert compare_domains(actlang.parse("log(x^2)"), actlang.parse("2*log(abs(x))")).status == "same"


def test_underflow_is_not_a_difference() -> None:
    # mish(-1000) rounds to -0 in float64 (and to 0 at 50 digits): 0/0 there is rounding.
    assert np.isnan(actlang.evaluate("mish(x)/mish(x)", [-1000.0])[0])
    assert actlang.equivalent("mish(x)/mish(x)", "x/x").verdict != "different"


# ---- signed zeros ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["leaky_relu[slope=-0.0](x)", "l_ditac[a=-0.0](x)", "x*a where a = -0.0", "hardtanh[min=-0.0](x)"]
)
def test_signed_zero_survives_format(text: str) -> None:
    expr = actlang.parse(text)
    printed = actlang.format(expr)
    assert "-0" in printed
    again = actlang.parse(printed)
    assert again == expr and _zero_signs(again) == _zero_signs(expr)


def _zero_signs(expr: actlang.ast.Expr) -> list[float]:
    """The signs of every float hyperparameter and initial value (0.0 == -0.0 in ``==``)."""
    hyper = [v for n in actlang.ast.walk(expr) for _, v in getattr(n, "hyper", ()) if isinstance(v, float)]
    return [math.copysign(1, v) for v in [*hyper, *actlang.ast.params(expr).values()]]


def test_signed_zero_keeps_poles_apart() -> None:
    negative, positive = "1/leaky_relu[slope=-0.0](x)", "1/leaky_relu[slope=0.0](x)"
    assert actlang.format(actlang.parse(negative)) != actlang.format(actlang.parse(positive))
    xs = np.array([-1.0])
    assert actlang.evaluate(negative, xs)[0] == np.inf and actlang.evaluate(positive, xs)[0] == -np.inf
    assert actlang.equivalent(negative, positive).verdict != "proved"
    assert actlang.equivalent(f"x*{negative}", f"x*{positive}").verdict != "proved"
    # one compiled program per text: the two modules keep their own poles
    import torch

    with torch.no_grad():
        out = [actlang.compile(t)(torch.tensor([-1.0], dtype=torch.float64)).item() for t in (negative, positive)]
    assert out == [math.inf, -math.inf]


def test_signed_zero_has_its_own_sympy_class() -> None:
    from actlang.symbolic import to_sympy

    negative, positive = to_sympy("leaky_relu[slope=-0.0](x)"), to_sympy("leaky_relu[slope=0.0](x)")
    assert type(negative) is not type(positive)
    assert actlang.format(actlang.simplify("leaky_relu[slope=-0.0](x) + 0")).count("-0") == 1


# ---- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [math.nan, math.inf, -1.0, "2", None, True])
def test_bad_budgets_are_actlang_errors(budget) -> None:
    for call in (
        lambda: actlang.equivalent("x", "x", budget=budget),
        lambda: actlang.simplify("x", budget=budget),
        lambda: actlang.derivative("x", budget=budget),
        lambda: actlang.properties("x", budget=budget),
    ):
        with pytest.raises(actlang.ActlangError, match="budget"):
            call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: actlang.equivalent(None, "x"),
        lambda: actlang.equivalent("x", 3),
        lambda: actlang.equivalent("x", "x", symmetry=["sign"]),
        lambda: actlang.equivalent("x", "x", symmetry=None),
        lambda: actlang.simplify(None),
        lambda: actlang.derivative(b"x"),
        lambda: actlang.derivative("x", wrt=3),
        lambda: actlang.derivative("x", wrt=None),
        lambda: actlang.properties(1.5),
    ],
)
def test_bad_arguments_are_actlang_errors(call) -> None:
    with pytest.raises(actlang.ActlangError):
        call()
