"""to_sympy / from_sympy / simplify / derivative."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import assume, given, settings

import actlang
from actlang.ast import Num, walk
from actlang.symbolic import ActFunction, OpaqueFunction, X, elementary, from_sympy, to_sympy
from tests.strategies import exprs

# Unary primitives with an elementary form and no learned tensor or randomness.
UNARY = [
    p.name
    for p in actlang.primitives()
    if p.arity == 1 and p.pointwise and not p.opaque and not p.stateful and not p.stochastic
]
# Their derivative has no actlang spelling: PReLU's slope is the primitive's own tensor, and
# d/dx of bessel_i1e needs I0 unscaled.
NO_SPELLING: set[str] = set()  # bessel_i1e's derivative is spelled with i0e and i1e now
POINTS = np.array([-1e4, -1e3, -30, -6, -3.3, -3, -2.5, -1.7, -1, -0.77, -0.5, -0.23, 0, 0.31, 0.5, 0.87, 1,
                   1.9, 2.5, 3, 4.1, 6, 30, 1e3, 1e4])


def test_native_primitives_lower_to_sympy_functions() -> None:
    assert to_sympy("tanh(x)") == sp.tanh(X)
    assert to_sympy("x^2 + abs(x)") == X**2 + sp.Abs(X)
    assert to_sympy("0.1*x") == sp.Rational(1, 10) * X
    assert to_sympy("beta*x") == sp.Symbol("beta", real=True) * X


def test_other_primitives_become_generated_classes() -> None:
    softplus = to_sympy("softplus(x)")
    assert isinstance(softplus, ActFunction) and type(softplus).__name__ == "softplus"
    assert to_sympy("softplus[beta=2](x)") != softplus
    assert type(to_sympy("softplus[beta=2](x)")).__name__ == "softplus[beta=2]"
    assert to_sympy("softplus(x)") == softplus  # one class per (primitive, hyperparameters)
    assert elementary(softplus) == sp.log(1 + sp.exp(X))
    assert softplus.rewrite("elementary") == sp.log(1 + sp.exp(X))
    assert sp.diff(softplus, X) == to_sympy("sigmoid(x)")
    assert sp.diff(to_sympy("sigmoid(x)"), X) == to_sympy("sigmoid(x)*sigmoid(-x)")


def test_opaque_primitives_become_undefined_functions() -> None:
    ash = to_sympy("ash(x)")
    assert isinstance(ash, OpaqueFunction) and elementary(ash) == ash
    assert to_sympy("ash[k=10](x)") != ash and to_sympy("ash(x)") == ash


@pytest.mark.parametrize("name", UNARY)
def test_round_trip_through_sympy(name: str) -> None:
    expr = actlang.parse(f"{name}(x)")
    back = from_sympy(to_sympy(expr), fold=False)
    if isinstance(to_sympy(expr), ActFunction):
        assert back == expr
    else:  # a native form comes back in its own spelling (square(x) is x^2)
        assert np.array_equal(actlang.evaluate(back, POINTS), actlang.evaluate(expr, POINTS), equal_nan=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x*sigmoid(x)", "silu(x)"),
        ("max(x, 0)", "relu(x)"),
        ("log(1 + exp(x))", "softplus(x)"),
        ("1/(1 + exp(-x))", "sigmoid(x)"),
        ("x*tanh(softplus(x))", "mish(x)"),
        ("x*tanh(log(1 + exp(x)))", "mish(x)"),
        ("(exp(x) - exp(-x))/2", "sinh(x)"),
        ("exp(x) - 1", "expm1(x)"),
        ("1 - erf(x)", "erfc(x)"),
        ("x/(1 + abs(x))", "softsign(x)"),
        ("x - tanh(x)", "tanhshrink(x)"),
        ("3*x*sigmoid(x)", "3 * silu(x)"),
        ("x/x", "x / x"),
    ],
)
def test_simplify_recognises_primitives(text: str, expected: str) -> None:
    assert actlang.format(actlang.simplify(text)) == expected


def test_from_sympy_recognises_and_keeps_constants_non_negative() -> None:
    assert from_sympy(sp.Max(X, 0)) == actlang.parse("relu(x)")
    assert from_sympy(X / (1 + sp.exp(-X))) == actlang.parse("silu(x)")
    result = from_sympy(-2 * X - sp.Rational(1, 3))
    assert all(n.value >= 0 for n in walk(result) if isinstance(n, Num))
    xs = np.linspace(-3, 3, 13)
    assert np.allclose(actlang.evaluate(result, xs), -2 * xs - 1 / 3)


def test_from_sympy_says_what_it_cannot_spell() -> None:
    with pytest.raises(actlang.UnsupportedError, match="besseli"):
        from_sympy(sp.besseli(2, X))


def _finite_difference(expr, xs, h=1e-6, values=None, wrt=None):
    if wrt is None:
        with np.errstate(invalid="ignore"):  # inf - inf where the function overflows
            return (actlang.evaluate(expr, xs + h, values) - actlang.evaluate(expr, xs - h, values)) / (2 * h)
    up = {**values, wrt: values[wrt] + h}
    down = {**values, wrt: values[wrt] - h}
    return (actlang.evaluate(expr, xs, up) - actlang.evaluate(expr, xs, down)) / (2 * h)


def _check_primitive_derivative(name: str) -> None:
    """``derivative(name(x))`` agrees with central differences wherever those are finite."""
    expr = actlang.parse(f"{name}(x)")
    derived = actlang.derivative(expr)
    xs = np.array([-3.3, -1.7, -0.77, -0.23, 0.31, 0.87, 1.9, 4.1])
    fd = _finite_difference(expr, xs)
    ours = actlang.evaluate(derived, xs)
    defined = np.isfinite(fd)
    assert np.allclose(ours[defined], fd[defined], rtol=1e-5, atol=1e-7), derived


@pytest.mark.parametrize("name", [n for n in UNARY if n not in NO_SPELLING])
def test_derivative_agrees_with_finite_differences(name: str) -> None:
    _check_primitive_derivative(name)


@pytest.mark.parametrize("name", [n for n in UNARY if n not in NO_SPELLING])
def test_derivative_matches_torch_autograd_at_kinks_and_extremes(name: str) -> None:
    """Same values as PyTorch's autograd of the primitive, kinks (0, ±0.5, ±1, ±3, 6) and
    |x| up to 1e4 included: no overflow where autograd has none."""
    expr = actlang.parse(f"{name}(x)")
    derived = actlang.derivative(expr)
    module = actlang.compile(expr, memory_efficient=False).double()
    xs = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    out = module(xs)
    if not out.requires_grad:  # zero(x), one(x): constants
        assert np.all(actlang.evaluate(derived, POINTS) == 0)
        return
    out.sum().backward()
    ours = actlang.evaluate(derived, POINTS)
    assert np.allclose(ours, xs.grad.numpy(), rtol=1e-6, atol=1e-9, equal_nan=True), derived


def test_derivative_kink_values() -> None:
    at = lambda text, x: float(actlang.evaluate(actlang.derivative(text), [x])[0])
    assert at("relu(x)", 0.0) == 0.0
    assert at("leaky_relu(x)", 0.0) == 0.01
    assert at("abs(x)", 0.0) == 0.0
    assert at("max(x, 0)", 0.0) == 0.5  # torch.maximum splits ties
    assert at("hardtanh(x)", 1.0) == at("hardtanh(x)", -1.0) == 0.0
    assert at("elish(x)", 0.0) == pytest.approx(0.5)  # C¹ there: the two sides agree


def test_derivative_uses_stable_forms() -> None:
    for text in ["sigmoid(x)", "softplus(x)", "log(1 + exp(x))", "silu(x)", "mish(x)", "x*sigmoid(beta*x)"]:
        derived = actlang.derivative(text)
        assert not any(getattr(n, "name", None) == "exp" for n in walk(derived)), derived
        assert np.all(np.isfinite(actlang.evaluate(derived, [-1e4, -800.0, 800.0, 1e4])))


def test_derivative_with_respect_to_a_parameter() -> None:
    expr = actlang.parse("x*sigmoid(beta*x) + gamma*softplus(x) where beta = 1.5, gamma = 0.5")
    xs = np.array([-2.0, -0.3, 0.4, 1.7])
    values = {"beta": 1.5, "gamma": 0.5}
    for name in ("beta", "gamma"):
        derived = actlang.derivative(expr, wrt=name)
        assert actlang.ast.params(derived).get("beta", 1.5) == 1.5  # initial values carried over
        fd = _finite_difference(expr, xs, values=values, wrt=name)
        known = {k: v for k, v in values.items() if k in actlang.ast.params(derived)}
        assert np.allclose(actlang.evaluate(derived, xs, known), fd, rtol=1e-6)


def test_derivative_errors() -> None:
    with pytest.raises(actlang.ActlangError, match="choose one of: x, beta"):
        actlang.derivative("beta*x", wrt="gamma")
    with pytest.raises(actlang.UnsupportedError):
        actlang.derivative("prelu(x)")


def test_derivative_compiles_like_user_text() -> None:
    derived = actlang.derivative("mish(x) + elu(x)^2")
    module = actlang.compile(actlang.format(derived), memory_efficient=False).double()
    xs = np.linspace(-20, 20, 81)
    got = module(torch.tensor(xs)).detach().numpy()
    assert np.allclose(got, actlang.evaluate(derived, xs), rtol=1e-9, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(e=exprs(max_depth=3, pointwise_only=True, stateless_only=True))
def test_derivative_of_random_expressions_agrees_with_finite_differences(e) -> None:
    try:
        derived = actlang.derivative(e, budget=0.5)
    except (actlang.UnsupportedError, actlang.LimitError):  # LimitError: the budget ran out (a loaded machine)
        assume(False)
    xs = np.array([-2.1, -0.7, 0.35, 1.3, 2.6])
    values = actlang.ast.params(e)
    coarse = _finite_difference(e, xs, 1e-5, values)
    fine = _finite_difference(e, xs, 1e-6, values)
    # Where the function is smooth at this scale (both steps agree), so must the derivative.
    smooth = np.isfinite(fine) & np.isclose(coarse, fine, rtol=1e-4, atol=1e-6) & (np.abs(fine) < 1e6)
    known = {k: v for k, v in values.items() if k in actlang.ast.params(derived)}
    ours = actlang.evaluate(derived, xs, known)
    assert np.allclose(ours[smooth], fine[smooth], rtol=1e-4, atol=1e-5), (str(e), str(derived))


@pytest.mark.parametrize("name", [n for n in UNARY if n not in NO_SPELLING])
def test_derivative_without_time_to_tidy_is_still_right(no_time_to_tidy, name: str) -> None:
    """On a loaded machine tidying can run out of time; the untidy chain-rule form that is
    returned instead must still be spelt in actlang and agree with finite differences."""
    _check_primitive_derivative(name)
