"""torch.func transforms and torch.jit.trace on compiled modules, against the default path.

The default (memory-efficient) path's autograd functions save and recompute tensors outside
autograd's view; under a transform (vmap, grad, jacrev, jacfwd) or jit.trace the module runs its
plain code instead (DiTAC: the lookup in plain torch ops, the table from θ in torch), with the
same values. Each check compares against the module called normally (the fused function, or
DiTAC's hand-written lookup) and its autograd gradients.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.func import functional_call, grad, jacfwd, jacrev, stack_module_state, vmap

import actlang

LEARNED = "x * sigmoid(beta * x) where beta = 1.5"  # the fused path by default
CASES = [
    (LEARNED, None),
    (LEARNED, 3),
    ("softplus(a * x) / a + tanh(x) where a = 0.7", None),
    ("erfc(softplus(x))^2", None),  # plain: no learned scalar
    ("max(x, 0) + x * sigmoid(x) + prelu(x)", 3),
    ("ditac(x)", None),
    ("ditac(x)", 3),
    ("l_ditac[a=-2, b=2](x)", None),
]
IDS = [f"{text}-{channels}" for text, channels in CASES]
# jit.trace reruns the function to check the graph; DiTAC's table traces into some 2,000 nodes.
TRACED = [c for c in CASES if "ditac" not in c[0]] + [("ditac(x)", 3)]


def build(text: str, channels: int | None, seed: int = 0) -> actlang.ActivationModule:
    """The module with its parameters moved off their initial values (θ = 0 is the identity)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = actlang.compile(text, channels=channels)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return module


def point(channels: int | None, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (2, channels) if channels else (7,)
    return torch.randn(shape, generator=generator, dtype=torch.get_default_dtype()) * 3


def reference(module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Values, input gradient and parameter gradients of Σ f(x) on the default path."""
    module.zero_grad(set_to_none=True)
    leaf = x.clone().requires_grad_()
    y = module(leaf)
    y.sum().backward()
    return y.detach(), leaf.grad, {name: p.grad for name, p in module.named_parameters()}


@pytest.mark.parametrize(("text", "channels"), CASES, ids=IDS)
def test_grad_and_jacobians_match_autograd_of_the_default_path(text, channels):
    module = build(text, channels)
    x = point(channels)
    _, want, _ = reference(module, x)
    assert torch.allclose(grad(lambda t: module(t).sum())(x), want, rtol=1e-5, atol=1e-6)
    # f is pointwise: the Jacobian is diagonal, its column sums are the gradient of Σ f
    for jacobian in (jacrev(module)(x), jacfwd(module)(x)):
        flat = jacobian.reshape(x.numel(), x.numel())
        assert torch.allclose(flat.sum(0), want.reshape(-1), rtol=1e-5, atol=1e-6)
        assert torch.count_nonzero(flat - torch.diag(torch.diagonal(flat))) == 0


@pytest.mark.parametrize(("text", "channels"), CASES, ids=IDS)
def test_parameter_gradients_under_grad_match_autograd(text, channels):
    module = build(text, channels)
    x = point(channels)
    _, _, want = reference(module, x)
    params = {name: p.detach() for name, p in module.named_parameters()}
    if not params:
        pytest.skip("no parameters")
    got = grad(lambda p: functional_call(module, p, (x,)).sum())(params)
    for name, value in want.items():
        assert torch.allclose(got[name], value, rtol=1e-5, atol=1e-6), name


@pytest.mark.parametrize(("text", "channels"), CASES, ids=IDS)
def test_vmap_over_a_batch_matches_one_call_per_row(text, channels):
    module = build(text, channels)
    rows = torch.stack([point(channels, seed) for seed in range(4)])
    want = torch.stack([module(row) for row in rows]).detach()
    assert torch.allclose(vmap(module)(rows), want, rtol=1e-6, atol=1e-7)
    with torch.no_grad():  # inference under vmap too
        assert torch.allclose(vmap(module)(rows), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("text", "channels"), [c for c in CASES if "beta" in c[0] or "ditac" in c[0]])
def test_vmap_over_an_ensemble_of_parameters(text, channels):
    modules = [build(text, channels, seed) for seed in range(3)]
    params, buffers = stack_module_state(modules)
    x = point(channels)
    got = vmap(lambda p, b: functional_call(modules[0], (p, b), (x,)))(params, buffers)
    want = torch.stack([m(x) for m in modules]).detach()
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # shapes are constants in a trace, as they should be
@pytest.mark.parametrize(("text", "channels"), TRACED)
def test_jit_trace_reproduces_values_and_gradients_at_other_inputs(text, channels):
    module = build(text, channels)
    traced = torch.jit.trace(module, point(channels))  # check_trace reruns it: the graph is stable
    x = point(channels, seed=5)
    values, want_x, want_params = reference(module, x)
    leaf = x.clone().requires_grad_()
    module.zero_grad(set_to_none=True)
    y = traced(leaf)
    assert torch.allclose(y, values, rtol=1e-6, atol=1e-7)
    y.sum().backward()
    assert torch.allclose(leaf.grad, want_x, rtol=1e-5, atol=1e-6)
    for name, parameter in module.named_parameters():  # the trace holds the module's parameters
        assert torch.allclose(parameter.grad, want_params[name], rtol=1e-5, atol=1e-6), name


def test_outside_transforms_the_memory_efficient_functions_still_run():
    module = build(LEARNED, None)
    x = point(None).requires_grad_()
    grad(lambda t: module(t).sum())(x.detach())  # a transform first: nothing sticks
    assert type(module(x).grad_fn).__name__ == "FusedBackward"
    ditac = build("ditac(x)", None)
    vmap(ditac)(torch.randn(2, 3))
    assert type(ditac(x).grad_fn).__name__ == "LookupFunctionBackward"
