"""Shared pieces of the digits examples: data, the AdAct paper's 4-conv ConvNet, training.

Data: scikit-learn's bundled 8x8 digits (1,797 images, no download), upsampled to 16x16 so that
four 2x2 poolings fit, normalised with mean and std 0.5 as in the paper, split 80/20 stratified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train images, train labels, test images, test labels): images [N, 1, 16, 16] in [-1, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    images = (F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False) - 0.5) / 0.5
    labels = torch.tensor(data.target)
    train, test = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=seed, stratify=data.target)
    return images[train], labels[train], images[test], labels[test]


class ConvNet(nn.Module):
    """AdAct's ConvNet (appendix A.1): 4 x [conv 3x3 -> batch norm -> activation -> max pool 2],
    widths 32, 64, 128, 256, then one linear layer. Activations start as ReLU layers, to be
    swapped by ``actlang.replace_activations``; ``widths`` scales it down for quick runs."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), classes: int = 10, size: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in widths:
            conv = nn.Conv2d(channels, width, 3, padding=1)
            nn.init.kaiming_uniform_(conv.weight)
            layers += [conv, nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            channels, size = width, size // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels * size * size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


@dataclass
class Result:
    best: float  # highest test accuracy over the epochs (what the paper reports)
    final: float  # test accuracy after the last epoch
    seconds: float


def train(
    model: nn.Module, data, epochs: int, seed: int, lr: float = 1e-3, batch: int = 64,
    activation_lr: float | None = None,
) -> Result:
    """Adam with decoupled weight decay, lr 1e-3, cross-entropy, batch 64 (appendix A.2).

    ``activation_lr``: a separate learning rate, without weight decay, for the parameters of the
    compiled activations (a handful of scalars per layer, e.g. ASH's z and α).
    """
    x_train, y_train, x_test, y_test = data
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(_groups(model, lr, activation_lr), lr=lr)
    best, accuracy, start = 0.0, 0.0, time.perf_counter()
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(y_train), generator=generator).split(batch):
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[index]), y_train[index]).backward()
            optimizer.step()
        accuracy = evaluate(model, x_test, y_test)
        best = max(best, accuracy)
    return Result(best, accuracy, time.perf_counter() - start)


def _groups(model: nn.Module, lr: float, activation_lr: float | None) -> list[dict]:
    if activation_lr is None:
        return [{"params": list(model.parameters())}]
    import actlang

    own = {id(p) for m in model.modules() if isinstance(m, actlang.ActivationModule) for p in m.parameters()}
    rest = [p for p in model.parameters() if id(p) not in own]
    acts = [p for p in model.parameters() if id(p) in own]
    return [{"params": rest}, {"params": acts, "lr": activation_lr, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(dim=1) == y).float().mean())


def machine() -> str:
    import os
    import platform

    return (f"{platform.machine()} CPU, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), "
            f"torch {torch.__version__}, Python {platform.python_version()}")
