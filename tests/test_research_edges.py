"""ASH in half precision and at extreme k, collapse of a root mixture, rrelu under function
transforms, and learned tensors in equivalence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import jacfwd, vmap

import actlang
from actlang.definitions.ash import z_from_k


@pytest.mark.parametrize("text", ["ash(x)", "ash[k=10](x)", "l_ash(x)", "f_ash[k=20](x)"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, 300.0, 3000.0])
def test_half_precision_ash_keeps_its_statistics_finite(text, dtype, scale) -> None:
    """A float16 sample with a standard deviation above 256 has a variance past float16's range:
    the statistics were inf, every output NaN (k = 50) or 0 (k = 10)."""
    module = actlang.compile(text, fuse=False)
    x = torch.from_numpy(np.random.default_rng(0).normal(0.0, scale, (2, 64)).astype(np.float32)).to(dtype)
    got = module(x)
    want = module(x.double())  # the same rounded inputs, statistics in float64
    assert got.dtype == dtype and torch.isfinite(got).all()
    # an input next to the threshold sits on the gate's steep part, where the threshold's own
    # rounding in x's dtype moves it (bfloat16's spacing at 4,000 is 32): most outputs within 1 %
    # of the largest, and in float16 all within 5 %
    error = (got.double() - want).abs() / float(want.detach().abs().max())
    assert float((error < 0.01).double().mean()) > 0.9
    assert dtype == torch.bfloat16 or float(error.max()) < 0.05


@pytest.mark.parametrize("k", [1e-20, 1e-15, 1e-9, 0.5, 50.0, 99.9])
def test_z_from_k_is_finite_for_every_k_the_range_admits(k) -> None:
    """Φ⁻¹(1 − k/100): 1 − k/100 rounded to 1 below k ≈ 1e-14, and z was +inf (NaN outputs)."""
    z = z_from_k(k)
    assert np.isfinite(z)
    from scipy import stats

    assert z == pytest.approx(stats.norm.isf(k / 100.0), rel=1e-12)
    module = actlang.compile(f"ash[k={k!r}](x)", fuse=False)
    x = torch.randn(2, 8, requires_grad=True)
    module(x).sum().backward()
    assert torch.isfinite(module(torch.ones(1, 4))).all() and torch.isfinite(module.ash_0.alpha.grad).all()


@pytest.mark.parametrize("text", ["adact(x)", "mix(relu, x, adact(x))"])
def test_collapsing_a_root_mixture_leaves_the_original_as_it_was(text) -> None:
    module = actlang.compile(text, fuse=False).eval()
    x = torch.randn(4, 8)
    before = module(x)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    report = actlang.collapse(module)
    assert list(report.replaced) == [""] and len(report.choices) == len(set(map(repr, report.choices)))
    assert torch.equal(module(x), before)
    assert module.state_dict().keys() == state.keys()
    assert all(torch.equal(module.state_dict()[k], v) for k, v in state.items())
    assert report.model is not module


@pytest.mark.parametrize("fuse", [False, True, "auto"])
def test_collapse_keeps_the_fuse_option(fuse) -> None:
    model = nn.Sequential(nn.Linear(4, 4), actlang.compile("mix(x * sigmoid(beta * x), relu)", fuse=fuse))
    with torch.no_grad():
        model[1].mix_0.w[0] = 1.0
    actlang.collapse(model)
    assert model[1].fusion == {True: "on", False: "off", "auto": "auto"}[fuse]


@pytest.mark.parametrize("text", ["rrelu(x)", "adact(x)", "rrelu[lower=0.1, upper=0.2](x) * x"])
def test_function_transforms_run_rrelu_in_eval(text) -> None:
    module = actlang.compile(text, fuse=False).eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(vmap(module)(x), module(x))
    jacobian = jacfwd(module)(x[0])
    torch.testing.assert_close(jacobian, torch.autograd.functional.jacobian(module, x[0]))
    plain = actlang.compile(text, fuse=False, memory_efficient=False).eval()
    torch.testing.assert_close(module(x), plain(x))


def test_rrelu_in_eval_is_the_mean_slope_bit_for_bit() -> None:
    module = actlang.compile("rrelu(x)", fuse=False).eval()
    x = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    assert torch.equal(module(x), torch.nn.functional.rrelu(x, 1 / 8, 1 / 3, False))


@pytest.mark.parametrize(("a", "b"), [
    ("prelu(x)", "leaky_relu[slope=0.25](x)"),
    ("mix(relu, x)", "0.5*relu(x) + 0.5*x"),
    ("mix(relu, x)", "mix(x, relu)"),
])
def test_learned_tensors_are_free_in_equivalence(a, b) -> None:
    """Equal at the initial values only: learned tensors were never probed elsewhere."""
    result = actlang.equivalent(a, b)
    assert result.verdict == "different"
    xs = np.array([result.counterexample])
    params = result.params
    assert actlang.evaluate(a, xs, {k: v for k, v in params.items() if k.startswith(a.split("(")[0])})[0] != (
        actlang.evaluate(b, xs, {k: v for k, v in params.items() if k.startswith(b.split("(")[0])})[0]
    )


@pytest.mark.parametrize(("a", "b"), [("prelu(x)", "prelu(x)"), ("2*prelu(x)", "prelu(2*x)"),
                                      ("mix(relu, x)", "mix(relu, x) + 0")])
def test_equal_functions_with_learned_tensors_stay_equal(a, b) -> None:
    assert actlang.equivalent(a, b).verdict != "different"
