"""Tasks (docs/search.md): a network, its data and a training recipe, scored for one activation.

A :class:`Task` builds the network with an activation in every slot, gives one fixed batch for
Fisher features, and trains and evaluates a candidate. :class:`ClassificationTask` is the recipe
the built-in tasks share: Adam on mini-batches with a fixed seed, cross-entropy, accuracy on a
held-out split. A run whose loss stops being finite is a *result* (``diverged=True``, chance
accuracy), not an error: many candidates of a search space cannot be trained at all.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TensorPair = tuple[Any, Any]  # (inputs, integer labels) as torch tensors
Activation = Callable[[], Any]  # makes one fresh activation module (nn.Module)
RESULT_FIELDS = ("val_acc", "val_loss", "train_loss", "runtime_s", "diverged")


class Task(abc.ABC):
    """What a search optimises an activation for. ``name`` identifies it in a study's store."""

    name: str

    @abc.abstractmethod
    def build(self, activation: str) -> Any:
        """The network (an ``nn.Module``) with ``activation`` compiled into every activation slot."""

    @abc.abstractmethod
    def batch(self) -> TensorPair:
        """One fixed batch ``(inputs, labels)`` of training data, for Fisher features."""

    @abc.abstractmethod
    def train_and_evaluate(self, activation: str, seed: int = 0) -> dict[str, Any]:
        """Train a fresh network with ``activation``; return at least :data:`RESULT_FIELDS`."""


@dataclass
class Dataset:
    """Arrays of a classification problem: float32 inputs, int64 labels, a train/validation split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int


@dataclass
class ClassificationTask(Task):
    """Train ``network(activation_factory)`` on ``data()`` with Adam for ``steps`` mini-batches.

    ``data`` is called once per process (it may generate or load the arrays). Losses are mean
    cross-entropy; ``val_acc`` is the accuracy on the validation split after the last step.
    """

    name: str
    data: Callable[[], Dataset]
    network: Callable[[Activation], Any]
    steps: int = 1500
    batch_size: int = 100
    lr: float = 1e-2
    fisher_batch_size: int = 256
    # Plain autograd: the fused backward's symbolic build (up to 2.5 s per new expression) costs
    # more than it saves on networks this small, and a search compiles a new expression per trial.
    memory_efficient: bool = False
    # "auto": the GPU when this process sees one (a Ray trial with gpus_per_trial=1 sees exactly one), else the CPU
    device: str = "auto"
    _dataset: Dataset | None = field(default=None, init=False, repr=False)

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = self.data()
        return self._dataset

    def build(self, activation: str) -> Any:
        from actlang import compiler
        from actlang.parser import parse

        # Parsed once (a bad name fails here, not in slot 3), in AQuaSurF's names: a search space's spelling.
        expr = parse(activation, dialect="aquasurf")
        return self.network(lambda: compiler.compile(expr, memory_efficient=self.memory_efficient))

    def batch(self) -> TensorPair:
        import torch

        data = self.dataset
        n = min(self.fisher_batch_size, len(data.x_train))
        return torch.from_numpy(data.x_train[:n]), torch.from_numpy(data.y_train[:n])

    def train_and_evaluate(self, activation: str, seed: int = 0) -> dict[str, Any]:
        import torch

        start = time.perf_counter()
        torch.manual_seed(seed)
        device = self.training_device()
        model = self.build(activation).to(device)
        train_loss, steps_done = self._train(model, seed, device)
        val_loss, val_acc = self._evaluate(model, device)
        diverged = not (math.isfinite(train_loss) and math.isfinite(val_loss))
        if diverged:  # the network's predictions are meaningless: score it at chance, as Act-Bench does
            val_acc = 1.0 / self.dataset.num_classes
        return {
            "val_acc": float(val_acc),
            "val_loss": float(val_loss),
            "train_loss": float(train_loss),
            "runtime_s": time.perf_counter() - start,
            "diverged": diverged,
            "steps": steps_done,
        }

    def training_device(self) -> Any:
        """``self.device``, with ``"auto"`` resolved: CUDA when this process sees a GPU, else the CPU."""
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _train(self, model: Any, seed: int, device: Any) -> tuple[float, int]:
        """Adam on shuffled mini-batches; stops early at the first non-finite loss."""
        import torch
        import torch.nn.functional as F

        data = self.dataset
        x, y = torch.from_numpy(data.x_train).to(device), torch.from_numpy(data.y_train).to(device)
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        model.train()
        loss_value, order, cursor = math.nan, torch.randperm(len(x), generator=generator), 0
        for step in range(self.steps):
            if cursor + self.batch_size > len(x):
                order, cursor = torch.randperm(len(x), generator=generator), 0
            index = order[cursor : cursor + self.batch_size].to(device)
            cursor += self.batch_size
            loss = F.cross_entropy(model(x[index]), y[index])
            loss_value = loss.detach().item()
            if not math.isfinite(loss_value):
                return loss_value, step + 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return loss_value, self.steps

    def _evaluate(self, model: Any, device: Any) -> tuple[float, float]:
        import torch
        import torch.nn.functional as F

        data = self.dataset
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(data.x_val).to(device))
            labels = torch.from_numpy(data.y_val).to(device)
            loss = float(F.cross_entropy(logits, labels))
            accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        return loss, accuracy
