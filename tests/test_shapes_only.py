"""Compiled modules on tensors without values: the meta device (a model built under
``torch.device("meta")``, or moved there) and ``FakeTensorMode``'s fake tensors, which shape-only
tools and tracers pass. Every mode of ``fuse`` runs the plain torch ops there, as any torch
module does: right shapes, dtypes and devices forward and backward, no warning about compilers,
and never a kernel file, numpy or a data-dependent early exit reading values that are not there
(a kernel given a fake tensor crashed the process; DiTAC raised from numpy or from CUDA's
initialisation)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

import actlang
from actlang import kernels

needs_cxx = pytest.mark.skipif(kernels.cpp_compiler() is None, reason="no C++ compiler for inductor")

EXPRESSIONS = [
    "x*sigmoid(beta*x)",  # fused pointwise kernels, a learned scalar
    "erfc(softplus(x))^2",
    "ditac[a=-3,b=3,cells=16](x)",  # numpy table, lookup kernels
    "ditac[a=-3,b=3,cells=8,exact=true](x)",  # the closed form's early exit
    "l_ditac[a=1,b=3](x)",
    "inf_ditac[a=-2,b=2,zero_boundary=false](x)",
    "ash[k=10](x)",
    "mix(relu(x), tanh(x))",
    "prelu(x) + silu(x)",
]
SHAPE = (4, 16, 2048)  # 131,072 values: past fuse="auto"'s threshold


def quiet_call(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` and a backward through it, failing on any warning (a FusionWarning about a
    compiler for "meta" is wrong: there is nothing to compute)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = module(x)
        y.sum().backward()
    return y


@pytest.mark.parametrize("channels", [None, 16])
@pytest.mark.parametrize("fuse", [True, "auto", False])
@pytest.mark.parametrize("text", EXPRESSIONS)
def test_a_module_on_the_meta_device_gives_shapes(text: str, fuse, channels) -> None:
    module = actlang.compile(text, fuse=fuse, channels=channels).to("meta")
    x = torch.empty(SHAPE, device="meta", requires_grad=True)
    y = quiet_call(module, x)
    assert (y.shape, y.dtype, y.device.type) == (x.shape, x.dtype, "meta")
    assert x.grad is not None and x.grad.shape == x.shape and x.grad.is_meta
    for p in module.parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.is_meta
    with torch.no_grad():
        assert module(torch.empty(SHAPE, device="meta", dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("fuse", [True, "auto"])
@pytest.mark.parametrize("text", EXPRESSIONS)
def test_a_model_built_under_the_meta_device_runs(text: str, fuse) -> None:
    """Deferred initialisation (``with torch.device("meta")``), then a forward for the shapes."""
    with torch.device("meta"):
        model = torch.nn.Sequential(
            torch.nn.Linear(32, 16), actlang.compile(text, fuse=fuse, channels=16), torch.nn.Linear(16, 8)
        )
        y = quiet_call(model, torch.empty(4096, 32))
    assert y.shape == (4096, 8) and y.is_meta


@needs_cxx
@pytest.mark.parametrize("fuse", [True, "auto"])
@pytest.mark.parametrize("text", ["x*sigmoid(beta*x)", "ditac[a=-3,b=3,cells=16](x)"])
def test_fake_tensors_never_reach_a_kernel(text: str, fuse) -> None:
    """The module has run its kernels on real values first (fuse=True builds and loads them), so
    only the check on x keeps the fake tensors from them: without it the process crashed
    (pointwise) or numpy raised (DiTAC)."""
    module = actlang.compile(text, fuse=fuse)
    real = torch.randn(1 << 17, requires_grad=True)
    expected = module(real)
    expected.sum().backward()
    with FakeTensorMode(allow_non_fake_inputs=True):
        x = torch.empty(1 << 17, requires_grad=True)
        y = quiet_call(module, x)
        with torch.no_grad():
            inferred = module(torch.empty(1 << 17))
    assert isinstance(y, FakeTensor) and isinstance(inferred, FakeTensor)
    assert y.shape == expected.shape and y.dtype == expected.dtype
    assert isinstance(x.grad, FakeTensor) and x.grad.shape == x.shape
    again = module(real.detach())  # the real path is unchanged afterwards
    assert torch.equal(again, expected.detach())


def test_values_are_readable_only_where_they_exist() -> None:
    x = torch.randn(3)
    assert kernels.holds_values(x) and kernels.holds_values(torch.nn.Parameter(x))
    assert not kernels.holds_values(torch.empty(3, device="meta"))
    with FakeTensorMode() as mode:
        fake = torch.empty(3)
        assert not kernels.holds_values(x)  # a fake mode is active: a kernel would escape it
    assert not kernels.holds_values(fake)
    assert kernels.holds_values(copy.deepcopy(x))
    assert mode is not None


@pytest.mark.parametrize("context", ["meta", "fake"])
@pytest.mark.parametrize("text", ["erfc(softplus(x))^2 + 0.3125*x", "x*tanh(softplus(x))*beta + 0.40625*x"])
def test_the_training_function_built_without_values_is_the_one_built_with_them(text: str, context: str) -> None:
    """A module's first training call builds the expression's training function once per process
    (the program is cached), pricing each candidate's saved memory by a small run. Run under the
    caller's meta device or fake mode, that run saw every saved tensor at address 0 (1.0× for a
    candidate keeping 3×), and the choice stayed for every later module of the expression."""
    from actlang.compiler import fused

    module = actlang.compile(text)
    if context == "meta":
        with torch.device("meta"):
            quiet_call(module.to("meta"), torch.empty(SHAPE, requires_grad=True))
    else:
        with FakeTensorMode(allow_non_fake_inputs=True):
            quiet_call(module, torch.empty(SHAPE, requires_grad=True))
    built = module.program.fused()
    assert built is not None
    program = module.program
    candidates = [c for kind in fused.STRATEGIES for c in fused._candidates(program, kind, 1.0)]
    plain = [fused._saved_ratio(c, program) for c in candidates]
    with torch.device("meta"):
        assert [fused._saved_ratio(c, program) for c in candidates] == plain
    with FakeTensorMode():
        assert [fused._saved_ratio(c, program) for c in candidates] == plain
    assert built.label == fused.build_fused(program, "auto").label
