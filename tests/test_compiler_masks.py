"""Flat pieces stop infinite gradients, as autograd's masked backward rules do.

Where a piecewise function is flat (``hardsigmoid`` outside (−3, 3), the losing side of a ``max``)
autograd's rules (``hardsigmoid_backward``, ``maximum``'s ``masked_fill``) give 0 whatever the
incoming gradient; a product A·0 is NaN when A is ±inf: at x = ±inf (``x·step(x)/6``) or where an
outer function's slope is infinite (``sqrt`` of a flat 0). One NaN input gradient makes every
learned scalar's gradient NaN, so the whole training step would be lost.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import actlang
from actlang import kernels

STEPS = ["hardsigmoid(x)", "hard_sigmoid(x)", "relu6(x)", "hardswish(x)", "max(x, 1)", "min(x, -1)", "hardtanh(x)"]
UNBOUNDED = ["x", "sqrt(x)", "sinh(x)", "softplus(x)", "log_sigmoid(x)", "log(x)"]
POINTS = [float("-inf"), -1e4, -6.0, -3.0, -2.5, -1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 6.0, 1e4, float("inf")]


def forms() -> list[str]:
    """Each step times, inside, and beside each unbounded function."""
    found = []
    for step in STEPS:
        for other in UNBOUNDED:
            found += [f"({step}) * ({other})", f"({other}) - ({step})"]
            if other.endswith("(x)"):
                found.append(other.replace("(x)", f"({step})"))
    return found


def input_gradient(text: str, memory_efficient: bool, dtype: torch.dtype, **options) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", actlang.AmbiguousNameWarning)
        module = actlang.compile(text, memory_efficient=memory_efficient, **options).to(dtype)
    x = torch.tensor(POINTS, dtype=dtype, requires_grad=True)
    module(x).sum().backward()
    return x.grad


def assert_like_autograd(got: torch.Tensor, want: torch.Tensor, rtol: float) -> None:
    """NaN only where autograd has NaN; equal where both are finite; the same infinities."""
    assert not (got.isnan() & ~want.isnan()).any(), (got, want)
    finite = got.isfinite() & want.isfinite()
    torch.testing.assert_close(got[finite], want[finite], rtol=rtol, atol=rtol)
    assert torch.equal(got[got.isinf()], want[got.isinf()]), (got, want)


@pytest.mark.parametrize("text", forms())
def test_the_training_path_masks_like_autograd(text) -> None:
    got = input_gradient(text, True, torch.float64, fuse=False)
    want = input_gradient(text, False, torch.float64, fuse=False)
    assert_like_autograd(got, want, rtol=1e-7)  # aten's hardsigmoid_backward has a float32 1/6


@pytest.mark.parametrize("text", ["sqrt(hardsigmoid(a*x))", "sqrt(max(b*x, 1) - 1) + hardswish(x) * a"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_learned_scalars_keep_finite_gradients_on_flat_pieces(text, dtype) -> None:
    """One input on a flat piece under sqrt (an infinite slope) leaves the scalars' gradients as
    autograd's: finite."""
    grads = []
    for memory_efficient in (True, False):
        module = actlang.compile(text, memory_efficient=memory_efficient, fuse=False).to(dtype)
        x = torch.tensor([-6.0, -4.0, 0.5, 2.0], dtype=dtype, requires_grad=True)
        module(x).sum().backward()
        grads.append([x.grad, *(p.grad for p in module.parameters())])
    for got, want in zip(*grads, strict=True):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")
def test_fused_kernels_mask_like_autograd() -> None:
    text = "sqrt(hardsigmoid(x)) + (max(x, 1) - 1) * sinh(x)"
    got = input_gradient(text, True, torch.float32, fuse=True)
    want = input_gradient(text, False, torch.float32, fuse=False)
    assert_like_autograd(got, want, rtol=1e-5)


VJP_PRIMITIVES = sorted(p.name for p in actlang.primitives() if p.vjp is not None and p.arity == 1)


@pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")
@pytest.mark.parametrize("name", VJP_PRIMITIVES)
def test_every_vjp_builds_into_a_backward_kernel(name) -> None:
    """A vjp is code inductor compiles with symbolic shapes: aten's softshrink_backward and
    hardshrink_backward have no meta for them, so those expressions trained unfused, with a
    FusionWarning, where every other primitive fused."""
    text = f"{name}(x) * sigmoid(x)"
    with warnings.catch_warnings():
        warnings.simplefilter("error", kernels.FusionWarning)
        warnings.simplefilter("ignore", actlang.AmbiguousNameWarning)
        module = actlang.compile(text, fuse=True)
        x = torch.linspace(-4, 4, kernels.MIN_NUMEL, requires_grad=True)
        module(x).sum().backward()
    plain = actlang.compile(text, memory_efficient=False)
    leaf = x.detach().requires_grad_()
    plain(leaf).sum().backward()
    torch.testing.assert_close(x.grad, leaf.grad, rtol=1e-5, atol=1e-6)
