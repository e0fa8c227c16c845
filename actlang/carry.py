"""What a replaced PyTorch activation layer carries over to its actlang replacement.

Two kinds of things map: a layer's *settings* become hyperparameters of the same primitive in the
new expression, where the expression leaves them at their defaults (``nn.LeakyReLU(0.2)`` →
``leaky_relu[slope=0.2]``, ``nn.ELU(alpha=0.5)`` → ``elu[alpha=0.5]``); and *learned or set
slopes* become ``prelu``'s learned ``a`` (a trained ``nn.PReLU``'s weight, one value or one per
channel; ``nn.LeakyReLU``'s slope as the starting value).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from actlang.ast import Call, Expr
from actlang.errors import ActlangError

# layer type -> (primitive, {hyperparameter: layer attribute})
SETTINGS: dict[type[nn.Module], tuple[str, dict[str, str]]] = {
    nn.LeakyReLU: ("leaky_relu", {"slope": "negative_slope"}),
    nn.ELU: ("elu", {"alpha": "alpha"}),
    nn.CELU: ("celu", {"alpha": "alpha"}),
    nn.Softplus: ("softplus", {"beta": "beta"}),
    nn.Hardtanh: ("hardtanh", {"min": "min_val", "max": "max_val"}),
    nn.RReLU: ("rrelu", {"lower": "lower", "upper": "upper"}),
    nn.GELU: ("gelu", {"approximate": "approximate"}),
    nn.Softshrink: ("softshrink", {"lambd": "lambd"}),
    nn.Hardshrink: ("hardshrink", {"lambd": "lambd"}),
}


def carry_settings(spec: str | Expr, layer: Any) -> Expr:
    """``spec`` with the hyperparameters ``layer`` sets written into its calls of the matching
    primitive, wherever the expression leaves them at the primitive's default."""
    from actlang.parser import parse

    expr = parse(spec) if isinstance(spec, str) else spec
    mapping = next((m for kind, m in SETTINGS.items() if isinstance(layer, kind)), None)
    if mapping is None:
        return expr
    primitive_name, attributes = mapping
    values = {key: getattr(layer, attribute) for key, attribute in attributes.items()}
    return _with_settings(expr, primitive_name, values)


def _with_settings(expr: Expr, name: str, values: dict[str, Any]) -> Expr:
    if not isinstance(expr, Call):
        return expr
    args = tuple(_with_settings(a, name, values) for a in expr.args)
    hyper = expr.hyper
    if expr.name == name:
        hyper = _merged(name, hyper, values)
    return Call(expr.name, args, hyper, expr.span)


def _merged(name: str, hyper: tuple[tuple[str, Any], ...], values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    from actlang.registry import lookup

    primitive = lookup(name)
    assert primitive is not None
    merged = dict(hyper)
    for key, value in values.items():
        spec = primitive.hyper_spec(key)
        if spec is None or merged.get(key) != spec.default:
            continue  # the expression chose a value itself: it wins
        try:
            merged[key] = spec.coerce(float(value) if isinstance(value, int | float) else value)
        except ValueError:
            continue  # a setting actlang's primitive does not take (kept at the default)
    if primitive.check is not None and primitive.check(merged):
        return hyper
    return tuple(sorted(merged.items()))


def carry_weights(module: nn.Module, layer: Any) -> None:
    """Copy ``layer``'s slope (PReLU's weight, LeakyReLU's negative_slope) into every ``prelu``
    site of the compiled ``module``; raise an ``ActlangError`` when the shapes cannot match."""
    if isinstance(layer, nn.PReLU):
        slope = layer.weight.detach()
    elif isinstance(layer, nn.LeakyReLU):
        slope = torch.tensor(float(layer.negative_slope))
    else:
        return
    for site in getattr(module.program, "sites", ()):
        if site.primitive.name != "prelu":
            continue
        target = getattr(module, site.name).a
        with torch.no_grad():
            if slope.numel() == 1:
                target.fill_(float(slope.flatten()[0]))
            elif tuple(target.shape) == tuple(slope.shape):
                target.copy_(slope)
            else:
                raise ActlangError(
                    f"the replaced nn.PReLU has {slope.numel()} weights (one per channel) but the new prelu's "
                    f"slope has shape {tuple(target.shape)}; pass channels={slope.numel()} for this layer"
                )
