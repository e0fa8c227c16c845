"""``derivative`` on compositions: every registry primitive composes, |u| and sign(u) of any u,
Bessel derivatives in the scaled primitives, and a clear error where no spelling exists."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from scipy import special

import actlang
from actlang.cli import main
from actlang.symbolic import X, from_sympy
from tests.strategies import exprs

# Unary primitives with an elementary form and no learned tensor or randomness, plus some
# hyperparameter variants.
UNARY = [
    p.name
    for p in actlang.primitives()
    if p.arity == 1 and p.pointwise and not p.opaque and not p.stateful and not p.stochastic
]
VARIANTS = [
    "softplus[beta=2]", "leaky_relu[slope=0.2]", "elu[alpha=0.5]", "celu[alpha=0.7]", "gelu[approximate=tanh]",
    "heaviside[zero=1]", "hardtanh[min=-2, max=0.5]", "softshrink[lambd=0.3]", "squareplus[b=2]",
]
OUTER = UNARY + VARIANTS
# Points away from every kink of these compositions (kinks sit at small integers and halves).
XS = np.array([-2.37, -1.13, -0.61, -0.173, 0.219, 0.71, 1.19, 2.43])


def _parse(text: str) -> actlang.ast.Expr:
    with warnings.catch_warnings():  # hard_sigmoid's dialect note
        warnings.simplefilter("ignore")
        return actlang.parse(text)


def _central(expr, xs: np.ndarray, h: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (actlang.evaluate(expr, xs + h) - actlang.evaluate(expr, xs - h)) / (2 * h)


def _check(text: str | actlang.ast.Expr, xs: np.ndarray = XS) -> int:
    """``derivative(text)`` raises nothing and agrees with central differences in float64
    wherever the function is smooth at the step's scale; returns how many points were compared."""
    expr = _parse(text) if isinstance(text, str) else text
    derived = actlang.derivative(expr, budget=10)
    coarse, fine = _central(expr, xs, 1e-5), _central(expr, xs, 1e-6)
    with np.errstate(all="ignore"):
        smooth = np.isfinite(fine) & np.isclose(coarse, fine, rtol=1e-4, atol=1e-6) & (np.abs(fine) < 1e6)
        ours = actlang.evaluate(derived, xs)
    assert np.allclose(ours[smooth], fine[smooth], rtol=1e-4, atol=1e-5), (text, str(derived), xs[smooth])
    return int(smooth.sum())


# Each outer primitive with six inner ones, and each inner one under six outer ones (a different
# selection per primitive), so every primitive is composed on both sides.
def _pairs() -> list[tuple[str, str]]:
    n = len(UNARY)
    pairs = {(p, UNARY[(i * 7 + 3 * k + 1) % n]) for i, p in enumerate(OUTER) for k in range(6)}
    pairs |= {(OUTER[(i * 11 + 5 * k + 2) % len(OUTER)], q) for i, q in enumerate(UNARY) for k in range(6)}
    return sorted(pairs)


def test_the_reported_expressions_differentiate() -> None:
    for text in ["abs(relu(x))", "abs(sigmoid(x))", "abs(softplus(x))", "abs(log1p(x))", "abs(relu(x)-x)",
                 "abs(x^tanh(x))", "bessel_i1e(x)", "bessel_i1e(2*x) + x", "abs(sqrt(x))", "bessel_i0e(square(x))"]:
        assert _check(text, np.array([0.173, 0.61, 1.13, 2.43, 3.7])) >= 4, text
    for text in ["abs(relu(x))", "abs(sigmoid(x))", "abs(relu(x)-x)", "bessel_i1e(x)", "abs(tanh(x) - 0.5)"]:
        assert _check(text) >= 6, text


@pytest.mark.parametrize("name", OUTER)
def test_abs_of_every_primitive(name: str) -> None:
    _check(f"abs({name}(x))")
    _check(f"sign({name}(x)) + abs({name}(x) - 0.3)")


@pytest.mark.parametrize("outer", OUTER)
def test_compositions_of_primitives(outer: str) -> None:
    inners = [q for p, q in _pairs() if p == outer]
    assert inners
    compared = sum(_check(f"{outer}({inner}(x))") for inner in inners)
    constant = outer in ("zero", "one")
    assert constant or compared >= len(inners) * len(XS) // 3, (outer, compared)  # not vacuous


def test_every_primitive_is_composed_on_both_sides() -> None:
    pairs = _pairs()
    assert {p for p, _ in pairs} == set(OUTER) and {q for _, q in pairs} == set(UNARY)


@pytest.mark.parametrize(
    "text",
    [
        "abs(max(sigmoid(x), tanh(x)))", "abs(min(relu(x), sin(x)))", "abs(select(x, softplus(x), erf(x)))",
        "abs(sigmoid(x)^tanh(x))", "abs(max_n(sin(x), cos(x), tanh(x)))", "abs(prod_n(sin(x), relu(x), x))",
        "abs(relu(x)/(1 + sigmoid(x)))", "bessel_i1e(x)*bessel_i0e(x)", "bessel_i1e(bessel_i1e(3*x))",
        "bessel_i1e(sigmoid(x)) - bessel_i0e(abs(x))", "abs(bessel_i1e(x) - 0.2)",
        "abs(beta*relu(x)) where beta = 1.5", "bessel_i1e(beta*x) where beta = 0.7",
        "select(abs(x) - 1, x^2, x)", "max(abs(x), 1)*x", "abs(abs(x) - 1)", "relu(abs(x) - 1)^2",
    ],
)
def test_operators_and_parameters_compose(text: str) -> None:
    assert _check(text) >= 5


def test_abs_derivative_is_sign_times_inner_derivative() -> None:
    """|u|' = sign(u)·u', with sign(0) = 0 as autograd has it: no re/im, no 0/0 at u = 0."""
    xs = np.array([-1.5, -0.5, 0.0, 0.5, 1.5])
    got = actlang.evaluate(actlang.derivative("abs(relu(x) - 0.5)"), xs)
    assert np.array_equal(got, [0.0, 0.0, 0.0, 0.0, 1.0])
    got = actlang.evaluate(actlang.derivative("abs(sin(x))"), np.array([0.0, 1.0, -1.0]))
    assert np.allclose(got, [0.0, np.cos(1.0), -np.cos(1.0)])
    assert actlang.format(actlang.derivative("sign(relu(x))")) == "0"
    assert actlang.format(actlang.derivative("sign(mix(x, sigmoid(x)))")) == "0"  # a step, even of an opaque


def test_powers_of_zero_are_flat() -> None:
    """0^u is 0, 1 or inf: derivative 0 (sympy's 0^u·log 0 would be NaN, with no spelling)."""
    for text in ["zero(x)^tanh(x)", "zero(x)^bessel_i1e(x)", "pow(zero(x), x^2) + x", "zero(x)^(-x)"]:
        got = actlang.evaluate(actlang.derivative(text), XS)
        assert np.array_equal(got, np.full_like(XS, 1.0 if "+ x" in text else 0.0)), (text, got)
    # d/dx x·0^(−x) = 0^(−x) (sympy's zoo^x, spelled pow(0, −x)): 0 for x < 0, inf for x > 0
    got = actlang.evaluate(actlang.derivative("x*zero(x)^(-x)"), np.array([-2.0, -0.5, 0.5]))
    assert np.array_equal(got, [0.0, 0.0, np.inf])


def test_derivative_with_respect_to_a_parameter_through_abs_and_bessel() -> None:
    xs = np.array([-1.7, -0.4, 0.3, 1.1])
    for text in ["abs(beta*relu(x) - 0.2) where beta = 1.5", "bessel_i1e(beta*x) where beta = 0.7"]:
        expr = actlang.parse(text)
        derived = actlang.derivative(expr, wrt="beta")
        h = 1e-6
        fd = (actlang.evaluate(expr, xs, {"beta": actlang.ast.params(expr)["beta"] + h})
              - actlang.evaluate(expr, xs, {"beta": actlang.ast.params(expr)["beta"] - h})) / (2 * h)
        known = {k: v for k, v in actlang.ast.params(expr).items() if k in actlang.ast.params(derived)}
        assert np.allclose(actlang.evaluate(derived, xs, known), fd, rtol=1e-6, atol=1e-8), (text, str(derived))


def test_steps_mask_infinite_factors_as_autograd_does() -> None:
    """sqrt(relu(x)) is constant for x < 0: its derivative is 0 there, not 0·∞ = NaN."""
    xs = np.array([-2.0, -0.5, 0.25, 4.0])
    for text, want in [("sqrt(relu(x))", [0.0, 0.0, 1.0, 0.25]), ("log(relu(x) + 1) + sqrt(relu6(x) - 6)", None)]:
        got = actlang.evaluate(actlang.derivative(text), xs)
        module = actlang.compile(text, memory_efficient=False).double()
        t = torch.tensor(xs, requires_grad=True)
        module(t).sum().backward()
        assert np.allclose(got, t.grad.numpy(), equal_nan=True), (text, got, t.grad)
        if want is not None:
            assert np.allclose(got, want)


def test_bessel_derivatives_use_the_scaled_primitives() -> None:
    for text in ["bessel_i1e(x)", "bessel_i0e(x)", "bessel_i1e(2*x) + x"]:
        derived = actlang.derivative(text)
        names = {n.name for n in actlang.ast.walk(derived) if isinstance(n, actlang.ast.Call)}
        assert names & {"bessel_i0e", "bessel_i1e"} and "exp" not in names, derived
    points = np.array([-1e4, -30.0, -3.0, -1.0, -1e-300, 0.0, 1e-300, 1e-8, 0.5, 2.0, 30.0, 1e4])
    got = actlang.evaluate(actlang.derivative("bessel_i1e(x)"), points)
    assert got[5] == 0.5 and np.all(np.isfinite(got))
    # d/dx I1e = I0e − I1e·(sign x + 1/x), from scipy
    u = points[points != 0]
    nonzero = points != 0
    want = special.i0e(u) - special.i1e(u) * (np.sign(u) + 1 / u)
    assert np.allclose(got[nonzero], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("text", ["bessel_i1e(x)", "bessel_i0e(x)", "abs(relu(x))", "abs(sigmoid(x) - 0.5)"])
def test_derivative_matches_torch_autograd(text: str) -> None:
    points = np.array([-1e4, -30, -3.3, -1, -0.23, 0, 0.31, 1, 4.1, 30, 1e4])
    derived = actlang.derivative(text)
    module = actlang.compile(text, memory_efficient=False).double()
    xs = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    module(xs).sum().backward()
    assert np.allclose(actlang.evaluate(derived, points), xs.grad.numpy(), rtol=1e-9, atol=1e-12), derived


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, -2])
def test_any_integer_bessel_order_is_written_scaled(order: int) -> None:
    from actlang.symbolic.chain_rule import _scaled_bessel

    form = _scaled_bessel(sp.exp(-sp.Abs(X)) * sp.besseli(order, X))
    assert not form.has(sp.besseli, sp.exp)
    points = np.array([-7.5, -2.0, -0.3, 0.0, 0.3, 1.0, 2.0, 7.5])
    got = actlang.evaluate(from_sympy(form, fold=False), points)
    # upward recurrence: absolute error grows like (2n/x)^(n-1)·ε for small |x|
    assert np.allclose(got, special.ive(order, points), rtol=1e-9, atol=1e-11), (order, got)


def test_non_integer_bessel_order_is_a_clear_error() -> None:
    from actlang.symbolic.chain_rule import _scaled_bessel

    with pytest.raises(actlang.UnsupportedError, match="besseli"):
        _scaled_bessel(sp.besseli(sp.Rational(1, 2), X))


@pytest.mark.parametrize("text", ["bessel_i1e(x)", "abs(relu(x))", "abs(sigmoid(x))", "sqrt(relu(x))"])
def test_untidy_form_is_spelled_too(no_time_to_tidy, text: str) -> None:
    """When tidying runs out of time, the chain-rule form that is returned is right as well."""
    assert _check(text) >= 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("prelu(x)", "the derivative of prelu\\(x\\) has no actlang spelling: .*learned tensor"),
        ("abs(prelu(x))", "the derivative of abs\\(prelu\\(x\\)\\) has no actlang spelling"),
        ("ash(x)", "the derivative of ash\\(x\\) has no closed form"),
        ("abs(ash(x)) + relu(x)", "has no closed form"),
        ("mix(x, relu(x))", "has no closed form"),
        ("relu(mix(x, sigmoid(x)))", "has no closed form"),
        ("cpab[a=-3, b=3, cells=4](x)", "has no closed form"),
        ("x/zero(x)", "the derivative of x / zero\\(x\\) is not finite"),
        ("sigmoid(x)/zero(x)", "is not finite"),
        ("(-2)^x", "the derivative of .* is not real"),
    ],
)
def test_unspellable_derivatives_are_clear_errors(text: str, match: str) -> None:
    with pytest.raises(actlang.UnsupportedError, match=match):
        actlang.derivative(text)


def test_cli_diff(capsys) -> None:
    for text in ["abs(relu(x))", "abs(x^tanh(x))", "bessel_i1e(x)", "abs(log1p(x))"]:
        code = main(["diff", text])
        out, err = capsys.readouterr()
        assert code == 0 and out.strip() and not err, (text, out, err)
        assert "re(" not in out and "im(" not in out and "besseli" not in out
    code = main(["diff", "prelu(x)"])
    out, err = capsys.readouterr()
    assert code == 2 and not out and "derivative of prelu(x)" in err and "Traceback" not in err


def test_aquasurf_benchmark_strings_with_bessel_i1e() -> None:
    from actlang.search.space import enumerate as strings

    found = [s for s in strings(preset="benchmark") if "bessel_i1e" in s]
    assert len(found) > 300
    compared = 0
    for text in found[::4]:
        compared += _check(actlang.parse(text, dialect="aquasurf"))
    assert compared > 0.5 * len(found[::4]) * len(XS)


@settings(max_examples=40, deadline=None)
@given(e=exprs(max_depth=3))
def test_derivative_answers_or_raises_an_actlang_error(e) -> None:
    """Any expression, opaque primitives included: a derivative spelled in actlang, or an
    ActlangError (never a sympy exception), and never re/im/Bessel leftovers."""
    try:
        derived = actlang.derivative(e, budget=1.0)
    except actlang.ActlangError as error:
        assert "Traceback" not in str(error)
        return
    names = {n.name for n in actlang.ast.walk(derived) if isinstance(n, actlang.ast.Call)}
    assert names <= {p.name for p in actlang.primitives()}
