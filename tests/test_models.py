"""Compiled activations in real models: replace_activations, save/load, configs."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

import actlang
from actlang.models import ACTIVATION_TYPES


class Net(nn.Module):
    """Activations as attributes, in nested Sequentials, a ModuleList and a ModuleDict."""

    def __init__(self) -> None:
        super().__init__()
        inner = nn.Sequential(nn.Conv2d(4, 4, 1), nn.GELU())
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), inner)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(4, 4, 1), nn.SiLU()), nn.Conv2d(4, 4, 1)])
        self.heads = nn.ModuleDict({"a": nn.Tanh(), "b": nn.Sequential(nn.Flatten(), nn.Linear(64, 3), nn.ReLU())})
        self.act = nn.ELU()
        self.norm = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["b"](self.act(self.heads["a"](self.norm(x))))


ALL = {"stem.1", "stem.2.1", "blocks.0.1", "heads.a", "heads.b.2", "act"}


def _compiled_paths(model: nn.Module) -> dict[str, str]:
    from actlang.compiler.module import ActivationModule

    found = {}
    for path, module in model.named_modules():
        if isinstance(module, ActivationModule) and not any(path.startswith(p + ".") for p in found):
            found[path] = module.expression
    return found


def test_replaces_exactly_the_activation_layers() -> None:
    model = actlang.replace_activations(Net(), "ash[k=10](x)")
    assert _compiled_paths(model) == dict.fromkeys(ALL, "ash[k=10](x)")
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 4  # nothing else touched
    sites = [m for path, m in model.named_modules() if path in ALL]
    assert len({id(m) for m in sites}) == len(ALL)  # one fresh module per site
    assert len({id(m.ash_0.z) for m in sites}) == len(ALL)


def test_types_and_per_layer_choices() -> None:
    model = actlang.replace_activations(Net(), "mish(x)", types=(nn.ReLU,))
    assert set(_compiled_paths(model)) == {"stem.1", "heads.b.2"}
    assert isinstance(model.stem[2][1], nn.GELU) and isinstance(model.act, nn.ELU)

    def per_layer(path: str) -> str | None:
        return None if path.startswith("heads") else ("adact" if path.startswith("stem") else "prelu(x)")

    model = actlang.replace_activations(Net(), per_layer)
    assert _compiled_paths(model) == {"stem.1": "adact(x)", "stem.2.1": "adact(x)", "blocks.0.1": "prelu(x)",
                                      "act": "prelu(x)"}
    assert isinstance(model.heads["a"], nn.Tanh) and isinstance(model.heads["b"][2], nn.ReLU)
    assert model(torch.randn(2, 1, 4, 4)).shape == (2, 3)


def test_shared_layer_gets_one_module_per_path_and_root_layer_is_returned() -> None:
    shared = nn.ReLU()
    model = nn.Sequential(nn.Linear(2, 2), shared, nn.Linear(2, 2), shared)
    actlang.replace_activations(model, "prelu(x)")
    assert model[1] is not model[3] and model[1].prelu_0.a is not model[3].prelu_0.a
    new = actlang.replace_activations(nn.GELU(), "silu(x)")
    assert new.expression == "silu(x)"


def test_per_channel_parameters_and_bad_input() -> None:
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 5, 3), nn.ReLU())
    actlang.replace_activations(model, "prelu(x)", channels=lambda path: {"1": 6, "3": 5}[path])
    assert model[1].prelu_0.a.shape == (6,) and model[3].prelu_0.a.shape == (5,)
    assert model(torch.randn(2, 1, 7, 7)).shape == (2, 5, 3, 3)
    with pytest.raises(actlang.ActlangError):
        actlang.replace_activations(nn.ReLU(), "sofplus(x)")
    with pytest.raises(actlang.ActlangError, match="types"):
        actlang.replace_activations(nn.ReLU(), "relu(x)", types=(nn.ReLU, "gelu"))
    assert actlang.replace_activations(nn.ReLU(), "elu(x)", types=nn.ReLU).expression == "elu(x)"


def _trained(spec, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = actlang.replace_activations(Net(), spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):  # move every parameter away from its initial value
        optimizer.zero_grad()
        model(torch.randn(8, 1, 4, 4)).pow(2).mean().backward()
        optimizer.step()
    return model.eval()


SPECS = ["ash[k=10](x) + 0.1*x", "adact", "mix(l_ash[k=30], f_ash[k=70], prelu) * beta where beta = 0.5"]


@pytest.mark.parametrize("spec", SPECS)
def test_state_dict_round_trip_reproduces_outputs_exactly(spec: str) -> None:
    model = _trained(spec)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)  # a different initialisation: everything must come from the file
    fresh = actlang.replace_activations(Net(), spec).eval()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(5, 1, 4, 4)
    assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("spec", SPECS)
def test_whole_model_save_load_reproduces_outputs_exactly(spec: str) -> None:
    model = _trained(spec, seed=1)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(5, 1, 4, 4)
    assert torch.equal(loaded(x), model(x))
    assert _compiled_paths(loaded) == _compiled_paths(model)


def test_activation_from_a_plain_config() -> None:
    config = {"model": {"activation": "ash[k=10](x)", "channels": 4}}
    act = actlang.compile(config["model"]["activation"], channels=config["model"]["channels"])
    assert act.expression == "ash[k=10](x)" and act.ash_0.z.shape == (4,)


def test_activation_from_a_hydra_target() -> None:
    omegaconf = pytest.importorskip("omegaconf")
    hydra_utils = pytest.importorskip("hydra.utils")
    config = omegaconf.OmegaConf.create(
        "activation:\n  _target_: actlang.compile\n  e: 'mix(relu, ash[k=10](x))'\n  channels: 8\n"
    )
    act = hydra_utils.instantiate(config.activation)
    assert act.expression == "mix(relu(x), ash[k=10](x))" and act.mix_0.w.shape == (8, 2)
    other = hydra_utils.instantiate(config.activation)
    assert other.mix_0.w is not act.mix_0.w


def test_default_types_are_activation_layers() -> None:
    assert nn.ReLU in ACTIVATION_TYPES and nn.GELU in ACTIVATION_TYPES
    assert not any(issubclass(t, nn.Linear | nn.Conv2d | nn.BatchNorm2d) for t in ACTIVATION_TYPES)


def test_demo_section_shows_collapse() -> None:
    from actlang.demos import research

    out = io.StringIO()
    research.run(out)
    text = out.getvalue()
    assert "dominant(): mish(x)" in text and "[1] is now mish(x)" in text and "rank 1" in text
