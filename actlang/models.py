"""Compiled activations inside real models: swap a model's activation layers for actlang ones.

``replace_activations(model, "ash[k=10](x)")`` puts a fresh compiled module (its own parameters)
at every activation layer of the given types, wherever it sits: attributes, nested
``Sequential``s, ``ModuleList``s and ``ModuleDict``s, and activation *functions* held as
attributes (``nn.TransformerEncoderLayer(activation=F.gelu)``). ``spec`` may also be a function
of the layer's path (``"features.2"``) — or of the path and the layer — giving an expression, or
``None`` to keep that layer. What the replaced layer had learned or was configured with carries
over where it maps (:mod:`actlang.carry`).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actlang import compiler
from actlang.ast import Expr
from actlang.errors import ActlangError

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.LogSigmoid,
)
"""The layers :func:`replace_activations` swaps by default: PyTorch's elementwise activations."""

# Activation functions a module may hold as an attribute, and the layer type each stands for.
FUNCTIONS: dict[Callable[..., Any], type[nn.Module]] = {
    F.relu: nn.ReLU, torch.relu: nn.ReLU, F.gelu: nn.GELU, F.silu: nn.SiLU, F.mish: nn.Mish, F.elu: nn.ELU,
    F.selu: nn.SELU, torch.selu: nn.SELU, F.leaky_relu: nn.LeakyReLU, F.relu6: nn.ReLU6, F.hardswish: nn.Hardswish,
    F.hardsigmoid: nn.Hardsigmoid, torch.sigmoid: nn.Sigmoid, F.sigmoid: nn.Sigmoid, torch.tanh: nn.Tanh,
    F.tanh: nn.Tanh, F.softplus: nn.Softplus, F.softsign: nn.Softsign, F.logsigmoid: nn.LogSigmoid,
}
_ACTIVATION_ATTRIBUTES = ("activation", "act", "act_fn", "activation_fn", "intermediate_act_fn", "nonlinearity")

Chooser = Callable[..., Any]  # (path) or (path, layer) -> value
Spec = str | Expr | Chooser
Channels = int | Chooser | None


def replace_activations(
    model: nn.Module,
    spec: Spec,
    types: type[nn.Module] | tuple[type[nn.Module], ...] = ACTIVATION_TYPES,
    *,
    channels: Channels = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
    carry: bool = True,
) -> nn.Module:
    """Swap every submodule of ``model`` that is an instance of one of ``types`` (and every
    activation function of those kinds held as a module attribute) for ``actlang.compile(spec)`` —
    a new module per site — and return the model (the new module itself when ``model`` is such a
    layer).

    ``spec`` is an expression, or a function of the site's path (or of the path and the layer
    replaced) giving one (``None`` keeps that site). ``channels`` is a count for per-channel
    parameters, or such a function giving one (or ``None``). With ``carry``, the replaced layer's
    settings and learned values carry over where they map: ``nn.LeakyReLU(0.2)`` replaced by
    ``leaky_relu(x)`` keeps slope 0.2, a trained ``nn.PReLU``'s weight becomes ``prelu``'s ``a``.
    """
    from actlang.carry import carry_settings, carry_weights

    types = (types,) if isinstance(types, type) else tuple(types) if isinstance(types, tuple | list) else (types,)
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise ActlangError(f"types must be module classes (a class or a tuple of them), got {types!r}")
    _check_channels(channels)
    for path, layer in _sites(model, types):
        chosen = _choose(spec, path, layer)
        if chosen is None:
            continue
        count = _choose(channels, path, layer) if callable(channels) else channels
        try:
            expression = carry_settings(chosen, layer) if carry else chosen
            new = compiler.compile(expression, channels=count, channel_dim=channel_dim,
                                     memory_efficient=memory_efficient, allow_constant=False)
            if carry:
                carry_weights(new, layer)
        except ActlangError as error:
            raise type(error)(f"replacing {path or 'the model'} ({_describe(layer)}): {error.message}", error.text,
                              error.span, error.hint) from None
        new.origin = path  # named in the channel-mismatch error at run time
        if not path:
            return new
        _put(model, path, new)
    return model


def _check_channels(channels: Channels) -> None:
    if channels is None or callable(channels):
        return
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ActlangError(f"channels must be a positive integer or a function of the layer's path, got {channels!r}")


def _choose(choice: Any, path: str, layer: Any) -> Any:
    """``choice(path)`` or ``choice(path, layer)`` for a function, else ``choice`` itself."""
    if not callable(choice):
        return choice
    try:
        takes_layer = len(inspect.signature(choice).parameters) >= 2
    except (TypeError, ValueError):  # builtins without a signature
        takes_layer = False
    return choice(path, layer) if takes_layer else choice(path)


def _sites(model: nn.Module, types: tuple[type[nn.Module], ...]) -> list[tuple[str, Any]]:
    """(path, layer) of every activation to replace; a function attribute's path ends in its name."""
    sites: list[tuple[str, Any]] = []
    for path, module in model.named_modules(remove_duplicate=False):
        if isinstance(module, types):
            sites.append((path, module))
            continue
        for name, value in vars(module).items():
            if name.startswith("_") or isinstance(value, nn.Module) or not callable(value):
                continue
            kind = _function_kind(value)
            where = f"{path}.{name}" if path else name
            if kind is not None and issubclass(kind, types):
                sites.append((where, value))
            elif kind is None and name in _ACTIVATION_ATTRIBUTES and _is_function(value):
                warnings.warn(
                    f"cannot replace the activation function at {where} ({_describe(value)}): it is no torch "
                    "activation actlang knows; pass the model an nn.Module activation instead",
                    stacklevel=3,
                )
    return sites


def _function_kind(value: Any) -> type[nn.Module] | None:
    try:
        return FUNCTIONS.get(value)
    except TypeError:  # unhashable callables
        return None


def _is_function(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.ismethod(value)


def _describe(layer: Any) -> str:
    if isinstance(layer, nn.Module):
        return repr(layer) if len(repr(layer)) < 60 else type(layer).__name__
    return getattr(layer, "__qualname__", None) or type(layer).__name__


def _put(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if not isinstance(getattr(parent, name, None), nn.Module) and hasattr(parent, "activation_relu_or_gelu"):
        # nn.TransformerEncoderLayer's inference fast path calls relu/gelu itself, bypassing
        # self.activation: a replaced activation must turn it off.
        parent.activation_relu_or_gelu = 0
    setattr(parent, name, module)


def set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    """Put ``module`` at the dotted ``path`` of ``model`` (attribute, Sequential index, dict key)."""
    _put(model, path, module)

