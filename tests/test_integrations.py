"""actlang activations inside timm, torchvision and HuggingFace models, and replace_activations.

The models are small configurations built from scratch on CPU (``pretrained=False``, no hub
access); each runs forward and backward and the actlang parameters must receive gradients.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actlang
from tests.thirdparty import import_timm, import_torchvision, import_transformers

SWISH = "x * sigmoid(beta * x)"


def _actlang_modules(model: nn.Module) -> list[actlang.ActivationModule]:
    return [m for m in model.modules() if isinstance(m, actlang.ActivationModule)]


def _train_step(model: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    out = model(*inputs)
    out = out.logits if hasattr(out, "logits") else getattr(out, "last_hidden_state", out)
    out.float().pow(2).mean().backward()
    return out


# ---- act_layer ---------------------------------------------------------------------------------


def test_act_layer_builds_fresh_modules_and_ignores_inplace() -> None:
    layer = actlang.act_layer(SWISH)
    a, b = layer(), layer(inplace=True)
    assert isinstance(a, actlang.ActivationModule) and isinstance(a, layer)
    assert a.beta is not b.beta
    x = torch.randn(4, 3)
    torch.testing.assert_close(b(x), x * torch.sigmoid(x))
    assert "inplace" in layer.__doc__


def test_act_layer_checks_the_expression_when_it_is_made() -> None:
    with pytest.raises(actlang.UnknownNameError, match="did you mean 'softplus'"):
        actlang.act_layer("sofplus(x)")
    with pytest.raises(actlang.ConstantExpressionError):
        actlang.act_layer("relu(z)")
    with pytest.raises(actlang.ActlangError, match="takes only inplace="):
        actlang.act_layer(SWISH)(64)
    with pytest.raises(actlang.ActlangError, match="takes only inplace="):
        actlang.act_layer(SWISH)(num_features=64)


def test_act_layer_channels_and_dialect() -> None:
    layer = actlang.act_layer("prelu(x)", channels=5)
    assert layer().prelu_0.a.shape == (5,)
    hard = actlang.act_layer("hard_sigmoid", dialect="timm")()
    x = torch.linspace(-4, 4, 9)
    torch.testing.assert_close(hard(x), F.hardsigmoid(x))


# ---- timm --------------------------------------------------------------------------------------


def test_timm_resnet18_with_an_actlang_act_layer_trains() -> None:
    timm = import_timm()
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=4, act_layer=actlang.act_layer(SWISH))
    sites = _actlang_modules(model)
    assert len(sites) >= 17 and len({id(m.beta) for m in sites}) == len(sites)
    _train_step(model, torch.randn(2, 3, 32, 32))
    assert all(m.beta.grad is not None and torch.isfinite(m.beta.grad) for m in sites)


def test_timm_create_act_layer_finds_a_registered_actlang_name() -> None:
    import_timm()
    from timm.layers import create_act_layer, get_act_layer

    cls = actlang.register_activation("timm", "swish_beta", SWISH)
    assert get_act_layer("Swish_Beta") is cls  # timm lower-cases names
    module = create_act_layer("swish_beta", inplace=True)
    assert isinstance(module, actlang.ActivationModule) and module.expression == "x * sigmoid(beta * x)"
    assert create_act_layer(actlang.act_layer("mish")).expression == "mish(x)"  # a class passes straight through


# ---- torchvision -------------------------------------------------------------------------------


def test_torchvision_block_with_an_actlang_activation_layer() -> None:
    torchvision = import_torchvision()
    block = torchvision.ops.Conv2dNormActivation(3, 8, activation_layer=actlang.act_layer(SWISH))  # inplace=True
    assert len(_actlang_modules(block)) == 1
    _train_step(block, torch.randn(2, 3, 8, 8))
    assert _actlang_modules(block)[0].beta.grad is not None


# ---- HuggingFace -------------------------------------------------------------------------------


def _tiny_bert(hidden_act: str):
    transformers = import_transformers()
    config = transformers.BertConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
        max_position_embeddings=16, hidden_act=hidden_act,
    )
    torch.manual_seed(0)
    return transformers.BertModel(config)


def test_hf_bert_with_an_actlang_hidden_act_trains() -> None:
    import_transformers()
    actlang.register_activation("hf", SWISH)  # the key is the expression itself
    model = _tiny_bert(SWISH)
    sites = _actlang_modules(model)
    assert len(sites) == 2  # one per layer's intermediate block, each with its own beta
    _train_step(model, torch.randint(0, 40, (2, 7)))
    assert all(m.beta.grad is not None and torch.isfinite(m.beta.grad) for m in sites)


def test_hf_act2fn_one_liner() -> None:
    import_transformers()
    from transformers import activations

    activations.ACT2FN["quick_gelu_learned"] = actlang.act_layer("x * sigmoid(k * x) where k = 1.702")
    model = _tiny_bert("quick_gelu_learned")
    assert [m.expression for m in _actlang_modules(model)] == ["x * sigmoid(k * x) where k = 1.702"] * 2
    _train_step(model, torch.randint(0, 40, (2, 5)))


def test_register_activation_rejects_unknown_libraries() -> None:
    with pytest.raises(actlang.ActlangError, match="unknown library 'keras'"):
        actlang.register_activation("keras", "relu(x)")


# ---- replace_activations ----------------------------------------------------------------------


def test_channels_as_an_int_and_as_a_function_of_the_layer() -> None:
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.PReLU(6), nn.Conv2d(6, 6, 3), nn.ReLU())
    actlang.replace_activations(model, "prelu(x)", channels=6)
    assert model[1].prelu_0.a.shape == (6,) and model[3].prelu_0.a.shape == (6,)
    seen = []

    def count(path: str, layer: nn.Module) -> int | None:
        seen.append((path, type(layer).__name__))
        return layer.num_parameters if isinstance(layer, nn.PReLU) else None

    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.PReLU(6), nn.Conv2d(6, 6, 3), nn.ReLU())
    actlang.replace_activations(model, lambda path, layer: "prelu(x)", channels=count)
    assert seen == [("1", "PReLU"), ("3", "ReLU")]
    assert model[1].prelu_0.a.shape == (6,) and model[3].prelu_0.a.shape == ()
    with pytest.raises(actlang.ActlangError, match="channels must be"):
        actlang.replace_activations(nn.ReLU(), "prelu(x)", channels=0)


def test_function_valued_activation_is_replaced() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, activation=F.gelu, batch_first=True)
    reference = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, activation=F.gelu, batch_first=True)
    reference.load_state_dict(layer.state_dict())
    actlang.replace_activations(layer, "gelu(x)")
    assert isinstance(layer.activation, actlang.ActivationModule) and layer.activation.origin == "activation"
    x = torch.randn(2, 3, 8)
    layer.eval(), reference.eval()
    with torch.no_grad():  # the inference fast path must not bypass the new activation
        torch.testing.assert_close(layer(x), reference(x))
    actlang.replace_activations(layer, "silu(x)", types=actlang.ActivationModule)  # now a module: replaced again
    with torch.no_grad():
        assert not torch.allclose(layer(x), reference(x))


def test_unknown_function_valued_activation_warns() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 3)
            self.activation = lambda t: t.clamp(min=0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.activation(self.linear(x))

    with pytest.warns(UserWarning, match=r"cannot replace the activation function at activation"):
        actlang.replace_activations(Block(), "silu(x)")


def test_settings_and_learned_slopes_carry_over() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.LeakyReLU(0.2), nn.ELU(alpha=0.5), nn.Hardtanh(-2.0, 3.0))
    actlang.replace_activations(model, lambda path: {"1": "leaky_relu", "2": "elu", "3": "hardtanh"}[path])
    assert [m.expression for m in model[1:]] == ["leaky_relu[slope=0.2](x)", "elu[alpha=0.5](x)",
                                                 "hardtanh[max=3, min=-2](x)"]
    explicit = actlang.replace_activations(nn.LeakyReLU(0.2), "leaky_relu[slope=0.05](x)")
    assert explicit.expression == "leaky_relu[slope=0.05](x)"  # what the expression says wins
    assert actlang.replace_activations(nn.LeakyReLU(0.2), "leaky_relu", carry=False).expression == "leaky_relu(x)"
    assert actlang.replace_activations(nn.LeakyReLU(0.3), "prelu(x)").prelu_0.a.item() == pytest.approx(0.3)


def test_trained_prelu_weight_carries_over() -> None:
    one = nn.PReLU(init=0.4)
    assert actlang.replace_activations(one, "prelu(x)").prelu_0.a.item() == pytest.approx(0.4)
    per_channel = nn.PReLU(4)
    with torch.no_grad():
        per_channel.weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    new = actlang.replace_activations(per_channel, "prelu(x) + 0 * x", channels=4)
    torch.testing.assert_close(new.prelu_0.a.detach(), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(new(x), per_channel(x))
    model = nn.Sequential(nn.Conv1d(1, 4, 1), per_channel)
    with pytest.raises(actlang.ActlangError, match=r"replacing 1 .*pass channels=4"):
        actlang.replace_activations(model, "prelu(x)")


def test_channel_mismatch_names_the_layer() -> None:
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 5, 3), nn.ReLU())
    actlang.replace_activations(model, "prelu(x)", channels=6)
    with pytest.raises(actlang.ActlangError, match="the activation at '3' has 6 channels"):
        model(torch.randn(2, 1, 7, 7))


def test_warning_free_for_plain_models() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.TransformerEncoderLayer(4, 2, 8))
        actlang.replace_activations(model, "silu(x)")
