"""Compiled activations inside real models: swap a model's activation layers for actlang ones.

``replace_activations(model, "ash[k=10](x)")`` puts a fresh compiled module (its own parameters)
at every activation layer of the given types, wherever it sits: attributes, nested
``Sequential``s, ``ModuleList``s and ``ModuleDict``s. ``spec`` may also be a function from the
layer's path (``"features.2"``) to an expression, or to ``None`` to keep that layer.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from actlang.ast import Expr
from actlang.errors import ActlangError

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.LogSigmoid,
)  # fmt: skip
"""The layers :func:`replace_activations` swaps by default: PyTorch's elementwise activations."""

Spec = str | Expr | Callable[[str], "str | Expr | None"]


def replace_activations(
    model: nn.Module,
    spec: Spec,
    types: type[nn.Module] | tuple[type[nn.Module], ...] = ACTIVATION_TYPES,
    *,
    channels: Callable[[str], int | None] | None = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
) -> nn.Module:
    """Swap every submodule of ``model`` that is an instance of one of ``types`` for
    ``actlang.compile(spec)`` — a new module per layer — and return the model (the new module
    itself when ``model`` is such a layer). ``spec`` is an expression or a function from the
    layer's path to an expression (``None`` keeps the layer). ``channels``, a function of the
    path, gives per-channel parameters where it returns a count.
    """
    from actlang.research.mix import compile_activation

    types = (types,) if isinstance(types, type) else tuple(types)
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise ActlangError(f"types must be module classes (a class or a tuple of them), got {types!r}")
    targets = [path for path, module in model.named_modules(remove_duplicate=False) if isinstance(module, types)]
    for path in targets:
        chosen = spec(path) if callable(spec) else spec
        if chosen is None:
            continue
        new = compile_activation(
            chosen,
            channels=channels(path) if channels is not None else None,
            channel_dim=channel_dim,
            memory_efficient=memory_efficient,
        )
        if not path:
            return new
        set_submodule(model, path, new)
    return model


def set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    """Put ``module`` at the dotted ``path`` of ``model`` (attribute, Sequential index, dict key)."""
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


def activation_paths(model: nn.Module) -> list[str]:
    """Paths of the compiled actlang activations in ``model``, outermost only."""
    from actlang.compiler.module import ActivationModule

    found: list[str] = []
    for path, module in model.named_modules():
        if isinstance(module, ActivationModule) and not any(path.startswith(p + ".") for p in found if p):
            found.append(path)
    return found
