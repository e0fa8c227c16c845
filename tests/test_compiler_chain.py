"""Chain-rule derivatives (native backward kernels), the static cost model, the sweep strategy."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings

import actlang
from actlang.compiler import cost
from actlang.compiler.fused import build_fused
from tests.strategies import exprs
from tests.test_compiler_fused import FUSABLE, grads, pair, saved_ratio

# Kinks of the library (0, ±0.5, ±1, ±2.5, ±3, 6), ordinary points, and large |x|.
KINKS = [-1e4, -1e3, -30.0, -6.0, -3.0, -2.5, -1.0, -0.5, -0.17, 0.0, 0.31, 0.5, 1.0, 2.5, 3.0, 6.0, 30.0, 1e3, 1e4]
XS = torch.tensor(KINKS, dtype=torch.float64)
WITH_VJP = [p.name for p in actlang.primitives() if p.vjp is not None]


def input_gradient(function, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_()
    y = function.apply(x)
    (grad,) = torch.autograd.grad(y, [x], torch.ones_like(y), allow_unused=True, materialize_grads=True)
    return grad


def close_where_finite(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    ok = np.isfinite(want) & np.isfinite(got) & (np.abs(want) < 1e8)
    assert np.allclose(got[ok], want[ok], rtol=rtol, atol=atol), (got, want)


@pytest.mark.parametrize("name", WITH_VJP)
def test_native_vjp_matches_the_symbolic_derivative_at_kinks_and_large_inputs(name):
    e = actlang.parse(f"{name}(x) * cos(x)")  # a tensor adjoint: the vjp, not the local derivative
    function = build_fused(actlang.compile(e).program, "derivatives", method="chain")
    marker = re.search(r"torch\.ops\.aten\.\w+|torch\.rsqrt|torch\.abs", actlang.lookup(name).vjp)
    assert function is not None and marker is not None and marker.group(0) in function.source
    want = actlang.evaluate(actlang.derivative(e), XS.numpy())
    close_where_finite(input_gradient(function, XS).numpy(), want, 1e-9, 1e-12)
    got32 = input_gradient(function, XS.float()).double().numpy()
    close_where_finite(got32, want, 1e-5, 1e-6)
    assert np.isfinite(got32).all() == np.isfinite(want).all()  # no NaN where the derivative exists


def test_vjp_of_a_root_call_has_no_tensor_of_ones_when_the_primitive_gives_its_derivative():
    source = build_fused(actlang.compile("asinh(elu(silu(x)))").program, "derivatives", method="chain").source
    assert "ones_like" not in source and "elu_backward" in source and "silu_backward" in source


@settings(max_examples=20, suppress_health_check=[HealthCheck.filter_too_much])
@given(exprs(max_depth=3, primitives=FUSABLE, allow_params=False))
def test_chain_rule_matches_the_symbolic_derivative(e):
    program = actlang.compile(e).program  # one native kernel or a constant: built all the same
    function = build_fused(program, "derivatives", method="chain")
    assume(function is not None)
    try:
        derivative = actlang.derivative(e)
    except actlang.ActlangError:
        assume(False)
    with np.errstate(all="ignore"):
        want = actlang.evaluate(derivative, XS.numpy())
    close_where_finite(input_gradient(function, XS).numpy(), want, 1e-6, 1e-9)


@settings(max_examples=10, suppress_health_check=[HealthCheck.filter_too_much])
@given(exprs(max_depth=3, primitives=FUSABLE, allow_params=True))
def test_sweep_and_partials_match_plain_autograd(e):
    fused, plain = pair(e)
    assume(fused.program.fusable and fused.program.params)
    y2, g2, _ = grads(plain, XS[2:-2])
    for strategy in ("sweep", "partials"):
        function = build_fused(fused.program, strategy)
        if function is None:  # no chain rule (a primitive without a closed-form derivative)
            continue
        x = XS[2:-2].clone().requires_grad_()
        params = [p.detach().clone().requires_grad_() for p in fused.parameters()]
        y1 = function.apply(x, *params)
        g = torch.linspace(-1, 1, y1.numel(), dtype=y1.dtype)
        g1 = torch.autograd.grad(y1, [x, *params], g, allow_unused=True, materialize_grads=True)
        assert torch.allclose(y1, y2, equal_nan=True, rtol=0, atol=0)
        # Where f is NaN the chain rule's max/min step is 1/2 (autograd: 1 to both sides): compare
        # input gradients where f is a number, parameter gradients (sums) only if f is everywhere.
        defined = torch.isfinite(y2).all()
        g1, g2 = ([t[torch.isfinite(y2)] if t.shape == y2.shape else t for t in gs] for gs in (g1, g2))
        for a, b in zip(g1, g2 if defined else g2[:1], strict=False):
            finite = torch.isfinite(a) & torch.isfinite(b) & (b.abs() < 1e8)
            assert torch.allclose(a[finite], b[finite], rtol=1e-6, atol=1e-9), (e, strategy, a, b)


TWO = "alpha * erfc(softplus(beta * x))^2 where beta = 1.5"


@pytest.mark.parametrize("strategy", ["sweep", "partials"])
@pytest.mark.parametrize("channels", [None, 2])
def test_two_learned_scalars_save_twice_the_input_and_pass_gradcheck(strategy, channels, monkeypatch):
    fused, plain = pair(TWO, channels=channels)
    function = build_fused(fused.program, strategy)
    monkeypatch.setattr(fused.program, "_fused", function)
    x = torch.randn(4, 2, 50, dtype=torch.float64, requires_grad=True)
    assert saved_ratio(fused, x) == pytest.approx(2.0, abs=0.05)
    y1, g1, fn = grads(fused, x.detach())
    y2, g2, _ = grads(plain, x.detach())
    assert type(fn).__name__ == "FusedBackward" and torch.equal(y1, y2)
    for a, b in zip(g1, g2, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    names = [n for n, _ in fused.named_parameters()]
    values = tuple(p.detach().clone().requires_grad_() for p in fused.parameters())

    def f(x, *params):
        return torch.func.functional_call(fused, dict(zip(names, params, strict=True)), (x,))

    small = torch.tensor([[-1.3, 0.4, 2.1], [0.7, -0.2, 1.1]], dtype=torch.float64).T.contiguous().requires_grad_()
    assert torch.autograd.gradcheck(f, (small, *values))
    assert torch.autograd.gradgradcheck(f, (small, *values))  # double backward: the recompute path


# The strategy and derivative form the cost model picks for the benchmark expressions.
CHOICES = {
    "erfc(softplus(x))^2": "derivatives",
    "asinh(elu(silu(x)))": "derivatives (chain)",
    "-x*sigmoid(x)*hard_sigmoid(x)": "derivatives",
    "min(softplus(x)^2, -x)": "derivatives",
    TWO: "sweep",
}


@pytest.mark.parametrize("text", list(CHOICES))
def test_strategy_choice_is_static_and_within_the_memory_allowance(text):
    module = actlang.compile(text)
    function = module.program.fused()
    assert function.label.startswith(CHOICES[text])
    assert function.cost == min(function.costs.values()) and function.label in function.costs
    again = build_fused(module.program)  # built afresh: the same choice, the same prices
    assert again.label == function.label and again.costs == function.costs
    allowance = 2.0 if module.program.params else 1.0
    x = torch.randn(1000, requires_grad=True)
    assert saved_ratio(module, x) <= allowance + 0.01
    if allowance == 1.0:  # eager autograd keeps several intermediates: never a candidate here
        assert "plain" not in function.costs and "sweep" not in function.costs


def test_cost_model_prices_kernels_allocations_and_scalars():
    mul = cost.statement_cost("t2 = t0 * t1")
    assert mul == pytest.approx(1.0 + cost.ALLOCATION)
    assert cost.statement_cost("t2 = torch.mul(t0, t1, out=t1)") == pytest.approx(1.0)  # no allocation
    assert cost.statement_cost("t1 = torch.asinh(t0)") > 10 * cost.statement_cost("t1 = torch.sigmoid(t0)")
    assert cost.statement_cost("p_beta = a_beta.reshape(cshape)") == 0.0  # a learned scalar, not a tensor pass
    assert cost.statement_cost("t1 = p_alpha * p_beta") == 0.0
    assert cost.statement_cost("t1 = torch.special.erfc(F.softplus(t0))") == pytest.approx(
        cost.statement_cost("t1 = torch.special.erfc(t0)") + cost.statement_cost("t1 = F.softplus(t0)")
    )
    assert cost.block_cost(["t1 = torch.exp(x)", "t2 = t1 * x"]) == pytest.approx(
        cost.statement_cost("t1 = torch.exp(x)") + mul
    )


def test_unknown_strategy_is_an_actlang_error():
    with pytest.raises(actlang.ActlangError, match="unknown training strategy"):
        build_fused(actlang.compile("erfc(x) * x").program, "fastest")


@pytest.mark.parametrize("shape", [(3,), (2, 4, 5), (5,)])
def test_per_channel_module_names_the_expected_input_shape(shape):
    module = actlang.compile("x * sigmoid(beta * x)", channels=3)
    with pytest.raises(actlang.ActlangError, match=r"3 channels along dimension 1.*\(N, 3, \.\.\.\)"):
        module(torch.randn(*shape))
    assert module(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    last = actlang.compile("x * sigmoid(beta * x)", channels=3, channel_dim=-1)
    assert last(torch.randn(5, 3)).shape == (5, 3)
    with pytest.raises(actlang.ActlangError, match="got shape \\(3, 5\\)"):
        last(torch.randn(3, 5))


EXTREMA = ["max(x, 2 - x) * x", "min(x^2, x) + x", "max_n(softplus(x), 3 * x) * 2", "min(x, 0) * x"]


@pytest.mark.parametrize("text", EXTREMA)
def test_extremum_steps_split_ties_as_the_symbolic_derivative(text):
    e = actlang.parse(text)
    function = build_fused(actlang.compile(e).program, "derivatives", method="chain")
    # A number adjoint takes the step 0.5·sign + 0.5, a tensor one autograd's masks; never the
    # heaviside template (its NaN tests).
    assert ("torch.sign(" in function.source or "== 0, " in function.source) and "isnan" not in function.source
    xs = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 1e4], dtype=torch.float64)  # ties at 0 and 1
    want = actlang.evaluate(actlang.derivative(e), xs.numpy())
    close_where_finite(input_gradient(function, xs).numpy(), want, 1e-12, 1e-12)


@pytest.mark.parametrize("text", [
    "beta * relu(8.98846567431158e307) * (x + x)",  # 8.99e307 · 2 overflows when folded
    "x * (2 * relu(1e308)) * (beta * 4)",
    "relu(1e-300) * beta * (x + x) * relu(1e-300)",  # underflows to 0
])
def test_coefficients_that_overflow_when_folded_are_left_as_they_are(text) -> None:
    """The derivative's coefficient folding multiplied 8.99e307 by 2 into a number node holding
    inf: a raw ValueError from the first training step. Now the product stays as written."""
    for dtype in (torch.float32, torch.float64):
        module = actlang.compile(text).to(dtype)
        x = torch.tensor([-2.0, -0.5, 0.0, 1.5], dtype=dtype, requires_grad=True)
        module(x).sum().backward()
        plain = actlang.compile(text, memory_efficient=False).to(dtype)
        x_plain = x.detach().clone().requires_grad_()
        plain(x_plain).sum().backward()
        torch.testing.assert_close(x.grad, x_plain.grad, equal_nan=True)
