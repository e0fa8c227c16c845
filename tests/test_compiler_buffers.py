"""Cheaper fused forward: buffer reuse (bitwise the allocating values) and exact step reflection."""

from __future__ import annotations

import contextlib

import torch
from hypothesis import assume, given, settings

import actlang
from actlang.compiler import fused as fused_module
from actlang.compiler import sources as sources_module
from actlang.compiler.buffers import _out_form, reuse_buffers
from actlang.compiler.codegen import Step
from actlang.registry import lookup
from tests.strategies import exprs
from tests.test_compiler_fused import FUSABLE

XS = torch.tensor([-1e3, -7.5, -2.3, -0.7, -0.17, 0.0, 0.31, 0.8, 1.7, 4.2, 12.0, 1e3], dtype=torch.float64)


@contextlib.contextmanager
def allocating():
    """build_fused without the buffer-reuse pass (every statement allocates)."""
    saved = sources_module.reuse_buffers
    sources_module.reuse_buffers = lambda lines, steps, keep: lines
    try:
        yield
    finally:
        sources_module.reuse_buffers = saved


def run(function, x):
    """f(x) and the input gradient for g = linspace(-1, 1), and x after the forward."""
    x = x.clone().requires_grad_()
    y = function.apply(x)
    g = torch.linspace(-1, 1, y.numel(), dtype=y.dtype)
    (grad,) = torch.autograd.grad(y, [x], g, allow_unused=True, materialize_grads=True)
    return y.detach(), grad, x.detach()


@settings(max_examples=15)  # each example derives symbolically (sympy)
@given(exprs(max_depth=3, primitives=FUSABLE, allow_params=False))
def test_reuse_gives_bitwise_the_allocating_values(e):
    program = actlang.compile(e).program
    assume(program.fusable)
    for method in ("symbolic", "chain"):  # forced: without reuse the cost model may pick the other
        reused = fused_module.build_fused(program, "derivatives", method=method)
        if reused is None:
            continue
        with allocating():
            plain = fused_module.build_fused(program, "derivatives", method=method)
        for dtype in (torch.float32, torch.float64):
            x = XS.to(dtype)
            for a, b in zip(run(reused, x), run(plain, x), strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
            assert torch.equal(run(reused, x)[2], x)  # x itself is never a buffer


def test_long_derivative_reuses_buffers_and_keeps_the_saved_one():
    text = "-x*sigmoid(x)*hard_sigmoid(x)"
    module = actlang.compile(text)
    function = fused_module.build_fused(module.program, "derivatives", method="symbolic")
    assert function.source.count("out=") >= 8  # 18 statements, most of them written into dead ones
    x = torch.linspace(-6, 6, 101, requires_grad=True)
    seen = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
        y = function.apply(x)
    (saved,) = seen
    assert saved.untyped_storage().data_ptr() != y.untyped_storage().data_ptr()
    (expected,) = torch.autograd.grad(actlang.compile(text, memory_efficient=False)(x).sum(), x)
    assert torch.allclose(saved, expected, rtol=1e-6, atol=1e-7)


def test_forms_without_an_exact_out_variant_allocate():
    div, sub, add = lookup("div"), lookup("sub"), lookup("add")
    # 2.0 / t is t.reciprocal() * 2.0 in torch and 2.0 - t is rsub: no out= form with those values
    assert _out_form(Step.of(div, (("2.0", False), ("t0", True)), "2.0 / t0", True)) is None
    assert _out_form(Step.of(sub, (("2.0", False), ("t0", True)), "2.0 - t0", True)) is None
    assert _out_form(Step.of(add, (("2.0", False), ("t0", True)), "2.0 + t0", True)) == "torch.add(t0, 2.0, out={out})"
    relu = lookup("relu")  # torch.relu takes no out=
    assert _out_form(Step.of(relu, (("t0", True),), "torch.relu(t0)", True)) is None


def test_kept_and_learned_values_are_never_buffers():
    sigmoid, mul = lookup("sigmoid"), lookup("mul")
    steps = {
        "t0": Step.of(sigmoid, (("x", True),), "torch.sigmoid(x)", True),
        "t1": Step.of(sigmoid, (("t0", True),), "torch.sigmoid(t0)", True),
        "t2": Step.of(mul, (("t1", True), ("p_a", True)), "t1 * p_a", False),  # reads a learned value
        "t3": Step.of(sigmoid, (("t2", True),), "torch.sigmoid(t2)", False),
        "t4": Step.of(sigmoid, (("t1", True),), "torch.sigmoid(t1)", True),
    }
    lines = [f"{name} = {step.code}" for name, step in steps.items()]
    out = reuse_buffers(lines, steps, keep={"t0", "t4"})
    assert out == [
        "t0 = torch.sigmoid(x)",
        "t1 = torch.sigmoid(t0)",  # t0 is kept
        "t2 = t1 * p_a",  # not on x alone: its dtype and shape can differ
        "t3 = torch.sigmoid(t2)",
        "t4 = torch.sigmoid(t1, out=t1)",
    ]


def test_reflected_step_is_exact():
    from actlang.compiler.rewrite import reflect_steps

    e = actlang.parse("heaviside(-(x - 1)) * 3 + heaviside(-x)")
    reflected = reflect_steps(e)
    assert actlang.format(reflected).count("heaviside(-") == 0
    xs = torch.tensor([-1e30, -2.0, -0.0, 0.0, 1.0, 2.0, float("inf"), -float("inf"), float("nan")])
    for dtype in (torch.float32, torch.float64):
        a = actlang.compile(e)(xs.to(dtype))
        b = actlang.compile(actlang.format(reflected))(xs.to(dtype))
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    other = actlang.parse("heaviside[zero=0.3](-x)")  # 1 - (1 - 0.3) is not 0.3 in floating point
    assert reflect_steps(other) == other


def test_in_place_chains_are_fresh_and_explicit_out_forms_are_used():
    from actlang.compiler.buffers import _one_call

    assert _one_call("torch.square({0}).add_(1.0).rsqrt_()")  # in-place methods return the new tensor
    assert not _one_call("torch.square({0}) + {1}") and not _one_call("torch.square({0}).view(-1)")
    out = "torch.ops.aten.silu_backward.grad_input(t0, x, grad_input={out})"
    operands = (("t0", True), ("x", True))
    code = "torch.ops.aten.silu_backward(t0, x)"
    vjp = Step("vjp:silu", "torch.ops.aten.silu_backward({g}, {0})", operands, code, True, out)
    assert _out_form(vjp) == out
    program = actlang.compile("asinh(elu(silu(x)))").program
    source = fused_module.build_fused(program, "derivatives", method="chain").source
    assert "silu_backward.grad_input(" in source and "grad_input=t" in source
