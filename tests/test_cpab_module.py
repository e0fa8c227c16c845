"""The CPAB primitives as actlang sees them: registry, numpy reference vs torch for every
variant, per-channel θ, initialisation, regularisation, composition, TorchScript export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import actlang
from actlang.cpab import reference, tessellation

torch = pytest.importorskip("torch")
from actlang.cpab.module import CPABActivation  # noqa: E402
from tests.calls import submodule_calls  # noqa: E402

VARIANTS = ["cpab[a=-2, b=3, cells=6]", "ditac", "ge_ditac", "l_ditac[a=-1, slope=0.1]", "inf_ditac"]
X = np.concatenate([np.linspace(-6, 6, 2401), [-1e4, -1e3, -3, 0, 3, 1e3, 1e4]])


def theta_for(name: str, cells: int, zero_boundary: bool = True, seed: int = 0, scale: float = 1.5) -> np.ndarray:
    cov = tessellation.prior_covariance(cells, zero_boundary)
    return np.random.default_rng(seed).multivariate_normal(np.zeros(len(cov)), cov) * scale


def compiled(text: str, theta: np.ndarray | None = None, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = actlang.compile(text, **options).double()
    if theta is not None:
        (warp,) = [m for m in module.modules() if isinstance(m, CPABActivation)]
        with torch.no_grad():
            warp.theta.copy_(torch.from_numpy(theta))
    return module


def site(text: str) -> str:
    return f"{actlang.parse(text).name}_0" if "(" in text else f"{text}_0"


def call_text(variant: str, **extra) -> str:
    name, _, rest = variant.partition("[")
    keys = [k for k in rest.rstrip("]").split(", ") if k] + [f"{k}={v}" for k, v in extra.items()]
    return f"{name}[{', '.join(keys)}](x)" if keys else f"{name}(x)"


def test_registry_entries():
    for name in ("cpab", "ditac", "ge_ditac", "l_ditac", "inf_ditac"):
        primitive = actlang.lookup(name)
        assert primitive.opaque and primitive.pointwise and primitive.module.startswith("actlang.cpab.module:")
        assert [learned.name for learned in primitive.learned] == ["theta"]
    assert actlang.format(actlang.parse("ditac[a=-3, b=3, cells=10, grid=2048](x)")) == "ditac(x)"
    assert str(actlang.parse("cpab[cells=4, b=1, a=-1](x)")) == "cpab[a=-1, b=1, cells=4](x)"


@pytest.mark.parametrize(
    ("text", "message"),
    [("cpab[a=0, b=1](x)", "needs hyperparameter 'cells'"), ("ditac[a=2, b=1](x)", "a must be below b"),
     ("ge_ditac[b=-1](x)", "'b'"), ("ditac[cells=1](x)", "'cells'"), ("ditac[init=random](x)", "'init'")],
)
def test_bad_hyperparameters_are_actlang_errors(text, message):
    with pytest.raises(actlang.HyperparameterError, match=message):
        actlang.parse(text)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("zero_boundary", [True, False])
def test_torch_matches_the_independent_numpy_reference(variant, zero_boundary):
    text = call_text(variant, zero_boundary=str(zero_boundary).lower())
    hp = dict(actlang.parse(text).hyper)
    theta = theta_for(text, hp["cells"], zero_boundary)
    expected = actlang.evaluate(text, X, {f"{site(text)}.theta": theta})
    x = torch.from_numpy(X)
    with torch.no_grad():
        exact = compiled(call_text(variant, zero_boundary=str(zero_boundary).lower(), exact="true"), theta)(x)
        fast = compiled(text, theta)(x)
        fast32 = compiled(text, theta).float()(x.float())
    np.testing.assert_allclose(exact.numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fast.numpy(), expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fast32.double().numpy(), expected, rtol=1e-3, atol=1e-3)


def test_variants_outside_the_interval():
    x = torch.tensor([-1e4, -50.0, -4.0, 4.0, 50.0, 1e4], dtype=torch.float64)
    theta = theta_for("ditac", 10)
    with torch.no_grad():
        ditac = compiled("ditac(x)", theta)(x)
        ge = compiled("ge_ditac(x)", theta)(x)
        leaky = compiled("l_ditac[slope=0.2](x)", theta)(x)
        inf = compiled("inf_ditac(x)", theta)
    np.testing.assert_allclose(ditac, torch.nn.functional.gelu(x), rtol=1e-12)
    np.testing.assert_allclose(ge, torch.where(x < 0, torch.nn.functional.gelu(x), x), rtol=1e-12)
    np.testing.assert_allclose(leaky, torch.where(x < 0, 0.2 * x, x), rtol=1e-12)
    # inf_ditac: affine outside [a, b] with the end slopes e^{a_0}, e^{a_{nc-1}} (zero boundary).
    slopes = inf.inf_ditac_0._fields()[0][0]
    with torch.no_grad():
        y = inf(x)
    np.testing.assert_allclose(y[:3], -3 + np.exp(slopes[0].item()) * (x[:3] + 3), rtol=1e-3)
    np.testing.assert_allclose(y[3:], 3 + np.exp(slopes[-1].item()) * (x[3:] - 3), rtol=1e-3)


@pytest.mark.parametrize("channel_dim", [1, 2, -1])
def test_per_channel_theta(channel_dim):
    channels = 3
    module = compiled("ditac[cells=6](x)", channels=channels, channel_dim=channel_dim)
    thetas = np.stack([theta_for("", 6, seed=s) for s in range(channels)])
    with torch.no_grad():
        module.ditac_0.theta.copy_(torch.from_numpy(thetas))
    assert tuple(module.ditac_0.theta.shape) == (channels, 5)
    shape = [4, 5, 5]
    shape[channel_dim] = channels
    x = torch.from_numpy(np.random.default_rng(0).uniform(-4, 4, shape))
    with torch.no_grad():
        y = module(x)
    assert y.shape == x.shape
    for c in range(channels):
        single = compiled("ditac[cells=6](x)", thetas[c])
        part = x.select(channel_dim, c)
        with torch.no_grad():
            np.testing.assert_allclose(y.select(channel_dim, c), single(part), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            y.select(channel_dim, c), reference.ditac(part.numpy(), thetas[c], cells=6), atol=1e-3
        )
    with pytest.raises(ValueError, match="channels"):
        module(torch.zeros(4, 2, 5))


def test_initialisation_identity_or_prior():
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(compiled("cpab[a=-3, b=3, cells=8](x)")(x), x)
    torch.manual_seed(0)
    prior = compiled("cpab[a=-3, b=3, cells=8, init=prior](x)", channels=4)
    theta = prior.cpab_0.theta
    assert theta.shape == (4, 7) and torch.all(theta != 0)
    assert not torch.allclose(theta[0], theta[1])


def test_regularization_sums_the_priors_of_a_model():
    first = compiled("ditac[cells=6](x) + 0.1 * inf_ditac[cells=4](x)")
    theta_a, theta_b = theta_for("", 6), theta_for("", 4, seed=1)
    with torch.no_grad():
        first.ditac_0.theta.copy_(torch.from_numpy(theta_a))
        first.inf_ditac_0.theta.copy_(torch.from_numpy(theta_b))
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), first, compiled("relu(x)"))
    quad = lambda t, cells: t @ np.linalg.solve(tessellation.prior_covariance(cells), t)
    expected = 0.3 * (quad(theta_a, 6) + quad(theta_b, 4))
    assert actlang.regularization(model, 0.3).item() == pytest.approx(expected, rel=1e-10)
    assert actlang.regularization(torch.nn.Linear(2, 2)).item() == 0.0
    assert isinstance(first.ditac_0, CPABActivation)


def test_composition_compiles_and_matches_evaluate():
    text = "ditac[cells=8](x) + 0.1*tanh(x)"
    theta = theta_for("", 8)
    module = compiled(text, theta)
    x = np.linspace(-5, 5, 501)
    expected = actlang.evaluate(text, x, {"ditac_0.theta": theta})
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), expected, atol=1e-3)
    assert submodule_calls(module, torch.from_numpy(x)) == ["ditac_0"]  # the site runs as its submodule


def test_trained_ditac_exports_to_torchscript(tmp_path):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        act = actlang.compile("ditac(x)", channels=4)
    model = torch.nn.Sequential(torch.nn.Linear(1, 4), act, torch.nn.Linear(4, 1))
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    target = torch.sin(6 * x)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(10):
        optimizer.zero_grad()
        loss = (model(x) - target).pow(2).mean() + 1e-4 * actlang.regularization(model)
        loss.backward()
        optimizer.step()
    assert act.ditac_0.theta.abs().max() > 1e-3  # θ moved: there is something to export
    path = tmp_path / "ditac.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        actlang.export(act, path)
        loaded = torch.jit.load(str(path))
    hidden = torch.randn(32, 4) * 3
    with torch.no_grad():
        np.testing.assert_allclose(loaded(hidden), act(hidden), rtol=0, atol=1e-6)


def test_float32_large_inputs_are_finite_with_finite_gradients():
    for variant in VARIANTS:
        module = compiled(call_text(variant)).float()
        with torch.no_grad():
            module.get_submodule(site(call_text(variant))).theta.normal_()
        x = torch.tensor([-1e4, -1e3, -3.0, 0.0, 1.0, 3.0, 1e3, 1e4], requires_grad=True)
        y = module(x)
        y.sum().backward()
        assert torch.all(torch.isfinite(y)) and torch.all(torch.isfinite(x.grad)), variant


@pytest.mark.parametrize("variant", [*VARIANTS, "l_ditac[a=0.5, b=3]", "cpab[a=-2, b=3, cells=6, zero_boundary=false]"])
def test_scripted_module_matches_eager(variant):
    text = call_text(variant)
    hp = dict(actlang.parse(text).hyper)
    module = compiled(text, theta_for(text, hp["cells"], hp["zero_boundary"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    x = torch.from_numpy(X)
    with torch.no_grad():
        np.testing.assert_allclose(scripted(x), module(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(module(x).detach().numpy(), actlang.evaluate(text, X, {
        f"{site(text)}.theta": module.get_submodule(site(text)).theta.detach().numpy()}), atol=1e-3)


def test_sympy_sees_opaque_functions_that_still_compare():
    first = actlang.to_sympy("ditac[cells=8](x) + 0.1*tanh(x)")
    assert first == actlang.to_sympy("0.1*tanh(x) + ditac[cells=8](x)")
    assert actlang.to_sympy("ditac(x)") != actlang.to_sympy("ditac[cells=8](x)")
    assert actlang.to_sympy("ditac(x)") != actlang.to_sympy("ge_ditac(x)")
    assert actlang.equivalent("ditac(x) + x", "x + ditac(x)").verdict == "proved"


@pytest.mark.parametrize("text", ["ditac(x)", "ditac[cells=8](x)"])
def test_a_frozen_layer_trains_after_an_evaluation_in_inference_mode(text):
    """Pieces cached under torch.inference_mode are inference tensors: a later training call with
    θ frozen (the input wanting a gradient) makes them again instead of failing in autograd."""
    module, fresh = compiled(text), compiled(text)
    for m in (module, fresh):
        m.ditac_0.theta.requires_grad_(False)
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    with torch.inference_mode():
        evaluated = module(x)
    grads = []
    for m in (module, fresh):
        leaf = x.clone().requires_grad_()
        (m(leaf) * torch.cos(x)).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert torch.all(grads[0] != 0)
    with torch.inference_mode():  # and back: the normal pieces serve inference mode as they are
        torch.testing.assert_close(module(x), evaluated, rtol=0, atol=0)


def test_inference_reuses_the_table_until_theta_changes():
    module = compiled("ditac(x)")
    warp = module.ditac_0
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    with torch.no_grad():
        first = module(x)
        cached = warp.__dict__["_pieces_cache"]
        assert torch.equal(module(x), first) and warp.__dict__["_pieces_cache"] is cached
        warp.theta.add_(0.3)  # in place, as an optimizer step
        second = module(x)
    assert warp.__dict__["_pieces_cache"] is not cached and not torch.equal(second, first)
    module.load_state_dict({"ditac_0.theta": torch.zeros(9, dtype=torch.float64)})
    with torch.no_grad():
        np.testing.assert_allclose(module(x), torch.nn.functional.gelu(x), atol=1e-12)
    grad_x = x.clone().requires_grad_()
    module(grad_x).sum().backward()  # training path: θ gets a gradient, no cache involved
    assert warp.theta.grad is not None and torch.all(torch.isfinite(warp.theta.grad))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("channel_dim", [1, -1])
@pytest.mark.parametrize("exact", ["true", "false"])
def test_every_variant_per_channel_matches_the_reference(variant, channel_dim, exact):
    text = call_text(variant, exact=exact)
    hp = dict(actlang.parse(text).hyper)
    module = compiled(text, channels=3, channel_dim=channel_dim)
    thetas = np.stack([theta_for("", hp["cells"], seed=s) for s in range(3)])
    with torch.no_grad():
        module.get_submodule(site(text)).theta.copy_(torch.from_numpy(thetas))
    shape = [2, 4, 5]
    shape[channel_dim] = 3
    x = torch.from_numpy(np.random.default_rng(1).uniform(-6, 6, shape))
    with torch.no_grad():
        y = module(x)
    reference_fn = getattr(reference, actlang.parse(text).name)
    tolerance = 1e-10 if exact == "true" else 1e-3
    for c in range(3):
        expected = reference_fn(x.select(channel_dim, c).numpy(), thetas[c], **hp)
        np.testing.assert_allclose(y.select(channel_dim, c), expected, atol=tolerance, rtol=tolerance)


LOW_PRECISION = ["cpab[a=-2, b=3, cells=8](x)", "ditac[cells=8](x)", "ge_ditac[cells=8](x)",
                 "l_ditac[a=-1, slope=0.1, cells=8](x)", "inf_ditac[cells=8](x)"]


@pytest.mark.parametrize("text", LOW_PRECISION)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_lower_precision_modules_keep_the_exact_constants(text, dtype):
    """``.to(dtype)`` casts θ but keeps the basis and the prior's precision float64 (on the new
    device); the module then matches a float64 module of the same rounded θ to the dtype's
    precision, values and input gradients, wherever both find the same piece (with a basis
    rounded to bfloat16 the table's slopes moved by a tenth)."""
    from actlang.cpab import lookup

    module = compiled(text, theta_for(text, 8, scale=1.0), fuse=False).to(dtype)
    (warp,) = [m for m in module.modules() if isinstance(m, CPABActivation)]
    assert warp.theta.dtype == dtype and warp.basis.dtype == warp.precision.dtype == torch.float64
    wide = compiled(text, warp.theta.detach().double().numpy(), fuse=False)
    x = torch.linspace(-8, 8, 4001).to(dtype).requires_grad_()
    (grad,) = torch.autograd.grad((y := module(x)).sum(), x)
    x64 = x.detach().double().requires_grad_()
    (grad64,) = torch.autograd.grad((y64 := wide(x64)).sum(), x64)
    index = [lookup.piece_index(v.detach(), warp.lo, warp.hi, warp.grid, False, 0, 0) for v in (x, x64)]
    same = index[0] == index[1]  # across a piece boundary the slope jumps: rounding picks a side
    assert same.float().mean() > 0.99
    eps = torch.finfo(dtype).eps
    assert (y.double() - y64).abs().max() <= 16 * eps * max(1.0, y64.abs().max().item())
    assert (grad.double() - grad64)[same].abs().max() <= 32 * eps * max(1.0, grad64.abs().max().item())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_find_their_pieces_in_float32(dtype):
    """(x − a)·s near 2,000 has a spacing of 8 in bfloat16 and 1 in float16: the pieces of such
    inputs are found as for the same values in float32."""
    from actlang.cpab import lookup

    x = torch.linspace(-4, 4, 20001).to(dtype)
    for closed in (False, True):
        got = lookup.piece_index(x, -3.0, 3.0, 2048, closed, 0, 0)
        assert torch.equal(got, lookup.piece_index(x.float(), -3.0, 3.0, 2048, closed, 0, 0))
