"""The memory-efficient path gives autograd's gradients where a derivative has a removable
singularity (0·log 0, 0·inf, 0/0), and compiled values agree with the reference at signed zeros
and in the tails (issue 12, items 2 and 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlang

POINTS = [-3.0, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 1.0, 2.0, 1e4]
SINGULAR = [
    "relu(x)^p where p = 2", "relu(x)^p where p = 0.5", "relu(x)^(2*p)", "abs(x)^p where p = 1.5",
    "relu(x)^p * a", "p^x where p = 0", "relu(p)^x where p = 0", "relu(x)^(p*x)", "x^p where p = 0",
    "a * log(relu(x)) * relu(x)", "sqrt(relu(x)) * a", "relu(x)^p where p = -0.0", "exp(p * log(relu(x)))",
    "a * relu(x) / (1 + abs(x))", "sqrt(relu(x) + p) where p = 0",
]


def gradients(text: str, memory_efficient: bool, dtype: torch.dtype):
    module = actlang.compile(text, memory_efficient=memory_efficient).to(dtype)
    x = torch.tensor(POINTS, dtype=dtype, requires_grad=True)
    y = module(x)
    y.sum().backward()
    return y.detach(), x.grad, {name: p.grad for name, p in module.named_parameters()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("text", SINGULAR)
def test_no_nan_gradient_where_autograd_is_finite(text, dtype):
    y, gx, gp = gradients(text, True, dtype)
    y0, gx0, gp0 = gradients(text, False, dtype)
    torch.testing.assert_close(y, y0, equal_nan=True)
    finite = torch.isfinite(gx0)
    torch.testing.assert_close(gx[finite], gx0[finite], rtol=1e-5, atol=1e-6)
    for name, grad in gp0.items():
        if torch.isfinite(grad):
            torch.testing.assert_close(gp[name], grad, rtol=1e-5, atol=1e-6)


def test_the_reported_case_trains_to_the_plain_value():
    _, _, gp = gradients("relu(x)^p where p = 2", True, torch.float64)
    _, _, gp0 = gradients("relu(x)^p where p = 2", False, torch.float64)
    assert torch.isfinite(gp["p"]) and torch.allclose(gp["p"], gp0["p"])


@pytest.mark.parametrize("text", ["relu(x)^p", "x * log(x)", "heaviside(x) / (2 * sqrt(relu(x)))"])
def test_derivatives_with_poles_are_left_to_the_chain_rule(text):
    from actlang.compiler.fused import removable

    assert removable(actlang.parse(text)) or removable(actlang.derivative(text, "x"))
    assert not removable(actlang.parse("x * sigmoid(x) * (1 + x * (1 - sigmoid(x)))"))


# --- signed zeros: the compiled value and the reference agree, torch's convention -------------

SIGNED = [
    "relu(x)", "max(x, 0)", "min(x, 0)", "max(0, x)", "elu(x)", "celu(x)", "selu(x)", "hardshrink(x)",
    "max_n(x, 0, -x)", "min_n(x, 0, 1)", "reciprocal(relu(x))", "reciprocal(elu(x))", "reciprocal(min(x, 0))",
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("text", SIGNED)
def test_signed_zeros_agree_with_the_reference(text, dtype):
    reference = actlang.evaluate(text, [-0.0, 0.0])
    compiled = actlang.compile(text)(torch.tensor([-0.0, 0.0], dtype=dtype)).double().numpy()
    assert np.array_equal(np.signbit(compiled), np.signbit(reference)), (compiled, reference)
    assert np.array_equal(compiled, reference)


def test_relu_of_negative_zero_is_torchs():
    assert str(actlang.evaluate("reciprocal(relu(x))", [-0.0])[0]) == str(
        torch.relu(torch.tensor(-0.0)).reciprocal().item()
    )


# --- DiTAC's lower tail, the CPAB reference near 0 --------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ditac_lower_tail_is_x_phi_x(dtype):
    from scipy.special import ndtr

    xs = np.array([-30.0, -12.0, -10.0, -9.0, -8.5, -6.0, -4.0])
    module = actlang.compile("ditac[a=-3, b=3, cells=8](x)").to(dtype)
    x = torch.tensor(xs, dtype=dtype, requires_grad=True)
    y = module(x)
    y.sum().backward()
    expected = xs * ndtr(xs)
    keep = np.abs(expected) > (1e-30 if dtype == torch.float32 else 1e-300)
    np.testing.assert_allclose(y.detach().double().numpy()[keep], expected[keep], rtol=1e-4)
    np.testing.assert_allclose(actlang.evaluate("ditac[a=-3, b=3, cells=8](x)", xs), expected, rtol=1e-12)
    slope = ndtr(xs) + xs * np.exp(-xs * xs / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(x.grad.double().numpy()[keep], slope[keep], rtol=1e-3)
    assert (y.detach()[:-1] < 0).all() or dtype == torch.float32


@pytest.mark.parametrize("x", [1e-12, -1e-12, 1e-300, 5e-324, 2.5, -2.999])
@pytest.mark.parametrize("text", ["cpab[a=-3, b=3, cells=8](x)", "cpab[a=0, b=1, cells=4, zero_boundary=false](x)"])
def test_identity_warp_returns_x_exactly(text, x):
    assert actlang.evaluate(text, [x])[0] == x


STEPS = [
    "sign(x)", "heaviside(x)", "heaviside[zero=0](x) * x", "x * sign(beta * x)", "sign(x) * exp(x) + heaviside(-x)",
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("text", STEPS)
def test_steps_give_every_path_the_same_gradient_at_nan(text, dtype):
    """sign and heaviside keep NaN as NaN; the derivative there is the step's, 0, on every path:
    autograd through the plain code (which gave 1 where the NaN passed through x itself), the
    fused function and (fuse=True) the inductor kernels."""
    values = [float("nan"), -2.0, -0.0, 0.0, 3.0, float("inf"), float("-inf")]
    found = []
    for memory_efficient, fuse in ((False, False), (True, False), (True, True)):
        module = actlang.compile(text, memory_efficient=memory_efficient, fuse=fuse).to(dtype)
        x = torch.tensor(values * 10_000, dtype=dtype, requires_grad=True)  # past fuse's size threshold
        module(x).sum().backward()
        found.append(x.grad[: len(values)])
    for grad in found[1:]:
        torch.testing.assert_close(grad, found[0], equal_nan=True)
    if text in ("sign(x)", "heaviside(x)"):
        assert found[0].tolist() == [0.0] * len(values)


# Derivatives whose float32 values cancel in a tail exactly as PyTorch's own backward does: the
# native kernels the chain rule calls (sigmoid_backward's y(1 − y), tanh_backward's 1 − y²,
# gelu_backward's Φ(x) + xφ(x)) and autograd's formula for the scaled Bessel functions
# (i1e − sgn·i0e). actlang gives autograd's values there; every other derivative must not cancel.
NATIVE_TAILS = {"sigmoid", "tanh", "gelu", "bessel_i0e", "bessel_i1e"}
TAIL_GRID = np.concatenate([-np.logspace(-6, 4, 120), [0.0], np.logspace(-6, 4, 120)]).astype(np.float32)
UNARY = [
    p.name for p in actlang.primitives()
    if p.module is None and p.pointwise and p.arity == 1 and not p.stochastic and p.name not in NATIVE_TAILS
]


@pytest.mark.parametrize("name", UNARY)
def test_float32_derivatives_do_not_cancel_in_the_tails(name):
    """The memory-efficient path's derivative of ``p(beta*x)`` in float32 agrees with float64's
    within 1e-4 relative for |x| up to 1e4 (inputs exact in both), wherever float64's is a normal
    float32 number (squareplus' (1 + x/√(x² + b))/2 was 0 at x = −1e4, where it is 1e-8, and
    softsign's quotient rule lost half its digits at |x| = 8,000)."""
    grads = []
    for dtype in (torch.float32, torch.float64):
        module = actlang.compile(f"{name}(beta*x)", fuse=False, allow_constant=True).to(dtype)
        x = torch.tensor(TAIL_GRID, dtype=dtype, requires_grad=True)
        y = module(x)
        if not y.requires_grad:  # a constant
            return
        y.sum().backward()
        grads.append(x.grad.double())
    low, high = grads
    assert torch.equal(torch.isnan(low), torch.isnan(high))
    normal = torch.isfinite(high) & (high.abs() > 1e-30) & (high.abs() < 3e38)
    torch.testing.assert_close(low[normal], high[normal], rtol=1e-4, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", UNARY + sorted(NATIVE_TAILS))
def test_no_nan_derivative_at_infinity_where_autograd_has_a_number(name, dtype):
    """At ±inf and far out, the memory-efficient path's gradient of ``p(beta*x)`` is a number
    wherever autograd's through the plain code is (hardswish's symbolic x·step(x)/6 was inf·0 =
    NaN at ±inf, where autograd gives 1 and 0)."""
    points = [float("inf"), float("-inf"), 1e30, -1e30, 1e4, -1e4]
    grads = []
    for memory_efficient in (False, True):
        module = actlang.compile(f"{name}(beta*x)", memory_efficient=memory_efficient, fuse=False, allow_constant=True)
        x = torch.tensor(points, dtype=dtype, requires_grad=True)
        y = module.to(dtype)(x)
        if not y.requires_grad:
            return
        y.sum().backward()
        grads.append(x.grad)
    plain, efficient = grads
    assert torch.isfinite(efficient)[torch.isfinite(plain)].all(), (plain.tolist(), efficient.tolist())
