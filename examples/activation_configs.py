"""Activations from configs, per-layer choices, and saving/loading a model that holds them.

1. A plain dict config: the activation is a string, built with ``actlang.compile``.
2. OmegaConf + Hydra: ``_target_: actlang.compile`` instantiates the activation (one fresh module
   per instantiation); a model config nests it.
3. ``actlang.replace_activations`` with a per-layer choice, then ``state_dict`` and
   ``torch.save`` round trips that reproduce the outputs exactly.

    .venv/bin/python examples/activation_configs.py
"""

from __future__ import annotations

import io

import torch
from torch import nn

import actlang

YAML = """
model:
  _target_: activation_configs.Mlp
  width: 16
  activation:
    _target_: actlang.compile
    e: "ash[k=10](x) + 0.1*x"
"""


class Mlp(nn.Module):
    """A model that takes its activation as a constructed module (as Hydra passes nested nodes)."""

    def __init__(self, width: int, activation: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, width), activation, nn.Linear(width, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def plain_dict() -> None:
    config = {"model": {"activation": "x * sigmoid(beta * x) where beta = 1.5", "channels": 16}}
    act = actlang.compile(config["model"]["activation"], channels=config["model"]["channels"])
    print("dict config  ->", act.expression, "| beta per channel:", tuple(act.beta.shape))


def hydra() -> None:
    try:
        from hydra.utils import instantiate
        from omegaconf import OmegaConf
    except ImportError:
        print("hydra-core/omegaconf not installed; skipping the _target_ example")
        return
    config = OmegaConf.create(YAML)
    model = instantiate(config.model)
    print("hydra config ->", model.net[1].expression, "| parameters:", [n for n, _ in model.net[1].named_parameters()])


def build() -> nn.Module:
    """A small CNN whose two activation layers become AdAct and ASH (one fresh module each)."""
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.GELU(), nn.Flatten(), nn.Linear(200, 3))
    choose = {"1": "adact", "3": "ash[k=20](x)"}
    return actlang.replace_activations(model, lambda path: choose[path])


def save_and_load() -> None:
    torch.manual_seed(0)
    model = build()
    x = torch.randn(4, 1, 9, 9)
    expected = model.eval()(x)

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    rebuilt = build()  # fresh parameters, all replaced by the file's
    rebuilt.load_state_dict(torch.load(buffer, weights_only=True))
    print("state_dict round trip identical:", torch.equal(rebuilt.eval()(x), expected))

    buffer = io.BytesIO()
    torch.save(model, buffer)  # the whole model: compiled activations rebuild from their text
    buffer.seek(0)
    print("torch.save round trip identical:", torch.equal(torch.load(buffer, weights_only=False)(x), expected))


if __name__ == "__main__":
    plain_dict()
    hydra()
    save_and_load()
