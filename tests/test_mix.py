"""Mixtures and AdAct (docs/research.md): weights, outputs, dominant branch, collapse."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import actlang
from actlang.research.collapse import collapsed
from actlang.research.mix import ADACT, Mix

BRANCHES = ["relu(x)", "elu(x)", "leaky_relu(x)", "prelu(x)", "rrelu(x)", "silu(x)", "mish(x)"]


def _set(parameter: torch.Tensor, value) -> None:
    with torch.no_grad():
        parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype))


@given(st.lists(st.integers(-60, 60).map(lambda i: i / 2), min_size=1, max_size=9, unique=True), st.integers(1, 4))
def test_weights_sum_to_one(logits: list[float], channels: int) -> None:
    layer = Mix({}, arity=len(logits))
    _set(layer.w, logits)
    assert layer.weights().sum().item() == pytest.approx(1.0, abs=1e-6)
    assert int(torch.argmax(layer.weights())) == layer.dominant_index() == int(np.argmax(logits))
    per_channel = Mix({}, channels, arity=len(logits))
    assert per_channel.w.shape == (channels, len(logits))
    torch.testing.assert_close(per_channel.weights().sum(dim=-1), torch.ones(channels))


def test_initial_mixture_is_uniform_and_matches_the_formula() -> None:
    x = torch.linspace(-4, 4, 41, dtype=torch.float64).reshape(1, -1)
    module = actlang.compile("mix(relu, tanh, x^2)").double()
    torch.testing.assert_close(module(x), (torch.relu(x) + torch.tanh(x) + x**2) / 3)
    _set(module.mix_0.w, [0.5, -1.0, 2.0])
    p = torch.softmax(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0)
    want = p[0] * torch.relu(x) + p[1] * torch.tanh(x) + p[2] * x**2
    torch.testing.assert_close(module(x), want)
    ref = actlang.evaluate("mix(relu, tanh, x^2)", x.numpy(), {"mix_0.w": np.array([0.5, -1.0, 2.0])})
    np.testing.assert_allclose(module(x).detach().numpy(), ref, rtol=1e-12)


def test_per_channel_weights_mix_each_channel_separately() -> None:
    module = actlang.compile("mix(relu, -x)", channels=2).double()
    _set(module.mix_0.w, [[30.0, -30.0], [-30.0, 30.0]])  # channel 0: relu, channel 1: -x
    x = torch.randn(3, 2, 4, dtype=torch.float64)
    torch.testing.assert_close(module(x)[:, 0], torch.relu(x[:, 0]))
    torch.testing.assert_close(module(x)[:, 1], -x[:, 1])


def test_gradients_reach_the_logits() -> None:
    module = actlang.compile("mix(relu, silu)")
    module(torch.randn(4, 5)).pow(2).sum().backward()
    assert module.mix_0.w.grad is not None and module.mix_0.w.grad.abs().sum() > 0


def test_adact_is_the_paper_mixture() -> None:
    body = actlang.parse(ADACT)
    assert [str(a) for a in body.args] == BRANCHES
    module = actlang.compile("adact")
    assert module.adact_0.body.mix_0.w.shape == (7,)
    # N_AdAct = 8 parameters per unit: 7 logits and PReLU's slope (paper, §2)
    assert sum(p.numel() for p in module.parameters()) == 8
    assert module.adact_0.body.prelu_0.a.item() == pytest.approx(0.25)
    assert actlang.compile("adact", channels=16).adact_0.body.mix_0.w.shape == (16, 7)


def test_adact_rrelu_is_random_in_training_and_fixed_in_eval() -> None:
    module = actlang.compile("adact").double()
    x = torch.linspace(-3, 3, 61, dtype=torch.float64).reshape(1, -1)
    torch.manual_seed(0)
    assert not torch.equal(module(x), module(x))  # training: a fresh RReLU slope per element
    module.eval()
    want = actlang.evaluate("adact", x.numpy())
    np.testing.assert_allclose(module(x).detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(module(x).detach().numpy(), actlang.evaluate(ADACT, x.numpy()), rtol=1e-12)


@given(st.lists(st.integers(-20, 20).map(lambda i: i / 4), min_size=7, max_size=7, unique=True))
def test_dominant_picks_the_argmax(logits: list[float]) -> None:
    module = actlang.compile("mix(relu, elu, leaky_relu, prelu, rrelu, silu, mish) + 0.5*x")
    _set(module.mix_0.w, logits)
    assert str(actlang.dominant(module)) == f"{BRANCHES[int(np.argmax(logits))]} + 0.5 * x"
    assert module.dominant() == actlang.dominant(module)  # the method the spec names, same answer
    adact = actlang.compile("adact(2*x)")
    _set(adact.adact_0.body.mix_0.w, logits)
    assert actlang.dominant(adact) == actlang.parse(BRANCHES[int(np.argmax(logits))].replace("(x)", "(2*x)"))
    assert adact.dominant() == actlang.dominant(adact)


def test_dominant_method_without_a_mixture_is_the_expression() -> None:
    module = actlang.compile("x * sigmoid(beta * x) where beta = 2")
    with torch.no_grad():
        module.beta.fill_(3.0)
    assert module.dominant() == actlang.parse("x * sigmoid(beta * x) where beta = 3")


def test_per_channel_dominant_uses_the_channel_average() -> None:
    module = actlang.compile("mix(relu, tanh)", channels=3)
    _set(module.mix_0.w, [[5.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # 2 channels prefer tanh, slightly
    assert str(actlang.dominant(module)) == "relu(x)"


@pytest.mark.parametrize("winner", range(7))
def test_collapse_keeps_the_outputs_of_a_one_hot_mixture(winner: int) -> None:
    text = "prelu(adact(x) + mix(x, ash[k=20](x), beta*tanh(x))) + prelu(x) where beta = 2"
    module = actlang.compile(text).double()
    logits = [-100.0] * 7
    logits[winner] = 100.0
    _set(module.adact_0.body.mix_0.w, logits)
    _set(module.adact_0.body.prelu_0.a, 0.6)
    _set(module.mix_0.w, [-100.0, -100.0, 100.0] if winner % 2 else [-100.0, 100.0, -100.0])
    _set(module.ash_0.z, 0.7)
    _set(module.beta, 3.0)
    _set(module.prelu_0.a, -0.2)
    _set(module.prelu_1.a, 0.9)
    module.eval()
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    new, choices = collapsed(module)
    assert "mix" not in new.expression and "adact" not in new.expression
    assert [c.chosen for c in choices] == [winner, 2 if winner % 2 else 1]
    assert not new.training
    torch.testing.assert_close(new(x), module(x), rtol=1e-12, atol=1e-12)


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(3, 4), actlang.compile("adact"), torch.nn.Linear(4, 4))
        self.heads = torch.nn.ModuleDict({"act": actlang.compile("mix(tanh, x)")})
        self.out = torch.nn.Sequential(torch.nn.Linear(4, 2), actlang.compile("silu(x)"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.heads["act"](self.body(x)))


def test_collapse_in_a_model_reports_each_choice() -> None:
    torch.manual_seed(0)
    model = _Net()
    _set(model.body[1].adact_0.body.mix_0.w, [0, 0, 0, 0, 0, 30, 0])  # softmax weight 1 - 6e-13
    _set(model.heads["act"].mix_0.w, [30.0, 0.0])
    x = torch.randn(8, 3)
    model.eval()
    before = model(x)
    report = actlang.collapse(model)
    assert report.model is model
    assert report.replaced == {"body.1": "silu(x)", "heads.act": "tanh(x)"}
    assert [(c.path, c.branches[c.chosen]) for c in report.choices] == [
        ("body.1/adact_0/mix_0", "silu(x)"), ("heads.act/mix_0", "tanh(x)")
    ]
    assert sum(report.choices[0].weights) == pytest.approx(1.0)
    assert model.body[1].expression == "silu(x)" and model.out[1].expression == "silu(x)"
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-6)
    assert "body.1/adact_0/mix_0: silu(x)" in str(report)
    root = actlang.collapse(actlang.compile("mix(relu, x)"))
    assert root.model.expression == "relu(x)"


def test_mix_sites_copy_pickle_and_script() -> None:
    module = actlang.compile("mix(relu, tanh, x)", memory_efficient=False)
    _set(module.mix_0.w, [1.0, 2.0, 3.0])
    x = torch.randn(2, 5)
    assert torch.equal(copy.deepcopy(module)(x), module(x))
    assert torch.equal(pickle.loads(pickle.dumps(module))(x), module(x))
    buffer = io.BytesIO()
    torch.save(module.mix_0, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer, weights_only=False)(x, x, x), module.mix_0(x, x, x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module.mix_0)
    torch.testing.assert_close(scripted(x, 2 * x, 3 * x), module.mix_0(x, 2 * x, 3 * x))


def test_mix_needs_its_arity() -> None:
    with pytest.raises(actlang.ActlangError, match="number of its branches"):
        Mix({}, None, 1)
    with pytest.raises(actlang.ArityError):
        actlang.parse("mix()")


def test_compiled_mixtures_script_for_export() -> None:
    module = actlang.compile("mix(relu, tanh) + ash[k=10](x) + adact(x)").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    x = torch.randn(3, 4, 5)
    torch.testing.assert_close(scripted(x), module(x))


def test_rrelu_is_random_in_training_and_its_mean_slope_in_eval() -> None:
    module = actlang.compile("rrelu(x)")
    x = -torch.ones(1, 1000)
    torch.manual_seed(1)
    slopes = -module(x)
    assert slopes.min() >= 1 / 8 and slopes.max() <= 1 / 3 and slopes.std() > 0.03
    module.eval()
    assert torch.equal(module(x), x * (1 / 8 + 1 / 3) / 2)
    assert actlang.evaluate("rrelu(x)", -1.0) == pytest.approx(-(1 / 8 + 1 / 3) / 2)


def test_onnx_export_of_adact_is_its_inference_function(tmp_path) -> None:
    """Files are exported in eval mode, where rrelu is leaky_relu with the mean slope (called as
    such now): ONNX, which has no rrelu, holds adact (it refused it before)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    module = actlang.compile("adact(x) + 1")
    path = actlang.export(module, tmp_path / "a.onnx", format="onnx")
    assert module.training  # given back as it was
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32) * 3
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    found = session.run(None, {session.get_inputs()[0].name: x})[0]
    want = module.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(found, want, rtol=1e-5, atol=1e-6)


# --- per-channel weights against branches of any shape (issue 12) --------------------------

# (x's shape, channel_dim) for ranks 1-5 and channels first, last and in between.
LAYOUTS = [
    ((3,), 0), ((3,), -1), ((2, 3), 1), ((2, 3), -1), ((2, 3, 4), 1), ((2, 4, 3), -1), ((2, 3, 4, 5), 1),
    ((2, 4, 5, 3), -1), ((2, 4, 3, 5), 2), ((2, 4, 3, 5), -2), ((2, 3, 2, 2, 2), 1), ((1, 2, 2, 2, 3), 4),
]


def _branches(shape: tuple[int, ...], channel_dim: int) -> list[torch.Tensor]:
    """x, a per-channel value shaped to broadcast (C, 1, ...), a 0-d constant, and a tensor of
    lower rank than x (its trailing dimensions): none but x is shaped like x."""
    generator = torch.Generator().manual_seed(len(shape) * 10 + channel_dim)
    x = torch.randn(shape, dtype=torch.float64, generator=generator)
    per_channel = [1] * (len(shape) - channel_dim % len(shape))
    per_channel[0] = shape[channel_dim]
    trailing = torch.randn(shape[1:], dtype=torch.float64, generator=generator) if len(shape) > 1 else x.sin()
    return [x, torch.randn(per_channel, dtype=torch.float64, generator=generator), torch.tensor(0.7).double(), trailing]


def _reference(weights: torch.Tensor, branches: list[torch.Tensor], channel_dim: int) -> torch.Tensor:
    """Σ_i softmax(w)[c, i] · branch_i, every branch first broadcast to the result's shape."""
    full = torch.broadcast_tensors(*branches)
    return sum((b.movedim(channel_dim, -1) * weights[:, i]).movedim(-1, channel_dim) for i, b in enumerate(full))


@pytest.mark.parametrize("shape, channel_dim", LAYOUTS)
def test_per_channel_weights_broadcast_against_branches_not_shaped_like_x(shape, channel_dim) -> None:
    branches = _branches(shape, channel_dim)
    layer = Mix({}, shape[channel_dim], channel_dim, arity=len(branches)).double()
    generator = torch.Generator().manual_seed(7)
    _set(layer.w, torch.randn(layer.w.shape, generator=generator, dtype=torch.float64) * 2)
    want = _reference(layer.weights().detach(), branches, channel_dim)
    torch.testing.assert_close(layer(*branches), want)
    for order in ([1, 0, 2, 3], [2, 3, 0, 1]):  # x need not come first
        weights = layer.weights().detach()[:, order]
        moved = Mix({}, shape[channel_dim], channel_dim, arity=len(branches)).double()
        _set(moved.w, layer.w.detach()[:, order])
        reordered = [branches[i] for i in order]
        torch.testing.assert_close(moved(*reordered), _reference(weights, reordered, channel_dim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.testing.assert_close(torch.jit.script(layer)(*branches), want)


@pytest.mark.parametrize("shape, channel_dim", [s for s in LAYOUTS if len(s[0]) > 1])
@pytest.mark.parametrize("memory_efficient", [True, False])
def test_compiled_per_channel_mix_of_learned_values_and_constants(shape, channel_dim, memory_efficient) -> None:
    channels = shape[channel_dim]
    module = actlang.compile(
        "mix(x, a, 2, relu(x))", channels=channels, channel_dim=channel_dim, memory_efficient=memory_efficient
    ).double()
    generator = torch.Generator().manual_seed(3)
    _set(module.a, torch.randn(channels, generator=generator, dtype=torch.float64))
    _set(module.mix_0.w, torch.randn(channels, 4, generator=generator, dtype=torch.float64))
    x = torch.randn(shape, dtype=torch.float64, generator=generator, requires_grad=True)
    per_channel = [1] * len(shape)
    per_channel[channel_dim] = channels
    branches = [x, module.a.detach().reshape(per_channel), torch.tensor(2.0).double(), torch.relu(x)]
    want = _reference(module.mix_0.weights().detach(), branches, channel_dim)
    y = module(x)
    torch.testing.assert_close(y, want)
    y.sum().backward()
    assert module.a.grad is not None and module.mix_0.w.grad is not None


def test_a_mix_too_low_in_rank_for_its_channel_dimension_is_an_actlang_error() -> None:
    layer = Mix({}, 3, 2, arity=2)
    with pytest.raises(actlang.ActlangError, match="rank at least 3, got rank 2"):
        layer(torch.randn(2, 3), torch.randn(2, 3))
    with pytest.raises(actlang.ActlangError, match="got rank 0"):
        Mix({}, 3, -1, arity=1)(torch.tensor(1.0))
