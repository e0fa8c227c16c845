"""ASH, F-ASH and L-ASH (docs/research.md) against the paper's formula, written out independently here."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import actlang
from actlang.research.ash import Ash, FixedAsh, LeakyAsh

SHAPES = [(5, 7), (3, 4, 6, 6), (2, 3, 5), (4, 1)]


def paper(x: np.ndarray, z, alpha, slope: float = 0.0) -> np.ndarray:
    """Eq. A4 of the paper, x / (1 + exp(−2α(x − μ − z σ))), one sample at a time (leak added)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        sample = x[i]
        mu = sample.sum() / sample.size
        sigma = np.sqrt(((sample - mu) ** 2).sum() / sample.size)
        zz = np.asarray(z).reshape((-1,) + (1,) * (sample.ndim - 1)) if np.ndim(z) else z
        aa = np.asarray(alpha).reshape((-1,) + (1,) * (sample.ndim - 1)) if np.ndim(alpha) else alpha
        with np.errstate(over="ignore"):  # exp overflows to inf far below the threshold: gate 0
            gate = 1.0 / (1.0 + np.exp(-2.0 * aa * (sample - mu - zz * sigma)))
        out[i] = sample * (gate + slope * (1.0 - gate))
    return out


def _f64(cls, hp: dict, **options) -> torch.nn.Module:
    """A site module built in float64, so that z = Φ⁻¹(1 − k/100) is not rounded to float32."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return cls(hp, **options)
    finally:
        torch.set_default_dtype(previous)


def _set(module: torch.nn.Module, **values: float) -> torch.nn.Module:
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(torch.as_tensor(value))
    return module


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("k", "z", "alpha"), [(50, 0.0, 1.0), (10, 1.2, 0.7), (90, -0.8, 2.5)])
def test_ash_matches_paper_formula(shape, k, z, alpha) -> None:
    rng = np.random.default_rng(sum(shape) + k)
    x = rng.normal(0.3, 1.7, size=shape)
    want = paper(x, z, alpha)
    module = _set(Ash({"k": k}).double(), z=z, alpha=alpha)
    got = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    ref = actlang.evaluate(f"ash[k={k}](x)", x, {"ash_0.z": z, "ash_0.alpha": alpha})
    np.testing.assert_allclose(ref, want, rtol=1e-6, atol=1e-12)


@given(st.integers(0, 2**32 - 1), st.floats(1, 99), st.sampled_from(SHAPES), st.floats(0.0, 0.5))
def test_leaky_and_fixed_match_paper_formula(seed: int, k: float, shape, slope: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * rng.uniform(0.1, 10)
    z0 = actlang.lookup("ash").learned[0].initial({"k": k})
    np.testing.assert_allclose(
        _f64(LeakyAsh, {"k": k, "slope": slope})(torch.from_numpy(x)).detach().numpy(),
        paper(x, z0, 1.0, slope), rtol=1e-6, atol=1e-12,
    )
    np.testing.assert_allclose(
        _f64(FixedAsh, {"k": k})(torch.from_numpy(x)).detach().numpy(), paper(x, z0, 1.0), rtol=1e-6, atol=1e-12
    )
    np.testing.assert_allclose(actlang.evaluate(f"f_ash[k={k}](x)", x), paper(x, z0, 1.0), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("k", "z"), [(50, 0.0), (10, 1.2815515655446004), (90, -1.2815515655446004)])
def test_z_starts_at_the_normal_quantile_of_k(k: float, z: float) -> None:
    assert Ash({"k": k}).z.item() == pytest.approx(z, abs=1e-6)
    assert FixedAsh({"k": k}).z.item() == pytest.approx(z, abs=1e-6)
    assert Ash({"k": k}).alpha.item() == 1.0


def test_f_ash_keeps_z_fixed_and_saves_it() -> None:
    module = FixedAsh({"k": 10})
    assert [n for n, _ in module.named_parameters()] == ["alpha"]
    assert set(module.state_dict()) == {"z", "alpha"}
    assert [n for n, _ in Ash({"k": 10}).named_parameters()] == ["z", "alpha"]


def test_per_channel_parameters_broadcast_along_channel_dim() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    z, alpha = np.array([-1.0, 0.0, 1.5]), np.array([0.5, 1.0, 3.0])
    module = _set(Ash({"k": 50}, channels=3).double(), z=z, alpha=alpha)
    assert module.z.shape == (3,)
    np.testing.assert_allclose(module(torch.from_numpy(x)).detach().numpy(), paper(x, z, alpha), rtol=1e-6)
    last = _set(Ash({"k": 50}, channels=3, channel_dim=-1).double(), z=np.linspace(-1, 1, 3))
    xt = np.moveaxis(x, 1, -1)  # NHWC: channels last
    got = last(torch.from_numpy(xt)).detach().numpy()
    want = np.moveaxis(paper(np.moveaxis(xt, -1, 1), np.linspace(-1, 1, 3), 1.0), 1, -1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("cls", [Ash, FixedAsh, LeakyAsh])
def test_constant_maps_give_no_nan(cls) -> None:
    """σ = 0 (a constant feature map): value x/2 (the gate is σ(0)), finite gradients everywhere."""
    x = torch.tensor([[2.0] * 6, [0.0] * 6, [-3.0] * 6], dtype=torch.float64, requires_grad=True)
    module = cls({"k": 10, "slope": 0.0}).double()
    y = module(x)
    assert torch.equal(y.detach(), x.detach() * 0.5)
    y.sum().backward()
    grads = [x.grad] + [p.grad for p in module.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    for dtype in (torch.float32, torch.float64):
        xs = torch.full((2, 3, 4), 7.0, dtype=dtype, requires_grad=True)
        out = cls({"k": 90, "slope": 0.0}).to(dtype)(xs)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(xs.grad).all()


def test_gradcheck_in_input_and_parameters() -> None:
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((3, 2, 4))).requires_grad_()
    for cls in (Ash, LeakyAsh):
        module = cls({"k": 30, "slope": 0.05}).double()
        names = [n for n, _ in module.named_parameters()]

        def f(x, *params, module=module, names=names):
            return torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))

        params = [torch.tensor(0.4, dtype=torch.float64, requires_grad=True),
                  torch.tensor(1.3, dtype=torch.float64, requires_grad=True)]
        assert torch.autograd.gradcheck(f, (x, *params))
        assert torch.autograd.gradgradcheck(f, (x, *params))


def test_gradient_flows_through_mean_and_std() -> None:
    """d/dx includes the dependence of μ and σ on x: equal to the full formula's gradient, and
    measurably different from the gradient with μ, σ held fixed (detached)."""
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.standard_normal((2, 9))).requires_grad_()
    weights = torch.from_numpy(rng.standard_normal((2, 9)))
    got = torch.autograd.grad((_set(Ash({"k": 20}).double(), z=0.6)(x) * weights).sum(), x)[0]

    def formula(x, detach: bool):
        mu = x.mean(dim=1, keepdim=True)
        sigma = ((x - mu) ** 2).mean(dim=1, keepdim=True).sqrt()
        if detach:
            mu, sigma = mu.detach(), sigma.detach()
        return x * torch.sigmoid(2.0 * (x - mu - 0.6 * sigma))

    full = torch.autograd.grad((formula(x, False) * weights).sum(), x)[0]
    fixed = torch.autograd.grad((formula(x, True) * weights).sum(), x)[0]
    torch.testing.assert_close(got, full, rtol=1e-6, atol=1e-9)
    assert (got - fixed).abs().max() > 1e-3


def test_large_inputs_stay_finite() -> None:
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([[-1e4, -1e3, -1.0, 0.0, 1.0, 1e3, 1e4]], dtype=dtype, requires_grad=True)
        y = LeakyAsh({"k": 10, "slope": 0.01}).to(dtype)(x)
        y.sum().backward()
        assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
        np.testing.assert_allclose(y.detach().double().numpy(), paper(x.detach().double().numpy(), 1.2815515655446004,
                                   1.0, 0.01), rtol=1e-5, atol=1e-6)


def test_rank_one_input_is_a_clear_error() -> None:
    with pytest.raises(actlang.ActlangError, match="rank >= 2"):
        Ash({"k": 50})(torch.zeros(5))
    with pytest.raises(actlang.EvaluationError, match="rank >= 2"):
        actlang.evaluate("ash(x)", np.zeros(5))
    with pytest.raises(actlang.EvaluationError, match="rank >= 2"):
        actlang.evaluate("l_ash[k=20](x)", 1.0)


def test_site_module_scripts() -> None:
    x = torch.randn(3, 4, 5)
    module = LeakyAsh({"k": 25, "slope": 0.1}, channels=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    torch.testing.assert_close(scripted(x), module(x))
    with pytest.raises(Exception, match="rank >= 2"):
        scripted(torch.zeros(4))


def test_compiled_ash_composes_and_matches_evaluate() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 6, 6))
    for text in ["ash[k=10](x) + 0.1*x", "l_ash[k=30](tanh(x))", "f_ash[k=80](x) * sigmoid(x)", "ash(ash[k=20](x))"]:
        module = actlang.compile(text).double()
        got = module(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(got, actlang.evaluate(text, x), rtol=1e-6, atol=1e-12, err_msg=text)
    module = actlang.compile("ash[k=10](x)", channels=3)
    assert {n for n, _ in module.named_parameters()} == {"ash_0.z", "ash_0.alpha"}
    assert module.ash_0.z.shape == (3,)


def test_parse_and_format() -> None:
    assert str(actlang.parse("ash(x, k=10)")) == "ash[k=10](x)"
    assert str(actlang.parse("ash[k=50](x)")) == "ash(x)"
    assert str(actlang.parse("l_ash[slope=0.01, k=20](x)")) == "l_ash[k=20](x)"
    with pytest.raises(actlang.HyperparameterError):
        actlang.parse("ash[k=100](x)")
    assert not actlang.lookup("ash").pointwise and actlang.lookup("ash").module


def test_symbolic_layer_compares_ash_by_structure() -> None:
    assert actlang.equivalent("ash[k=10](x) + x", "x + ash[k=10](x)").verdict == "proved"
    assert actlang.equivalent("-l_ash(x)", "l_ash(x)", symmetry="negation").verdict == "proved"
    assert actlang.equivalent("2*ash(x)", "ash(2*x)").verdict == "different"
    assert actlang.equivalent("ash[k=10](x)", "ash[k=90](x)").verdict == "different"
