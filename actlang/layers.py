"""Drop-in layer classes for libraries that take an activation *class*: timm, torchvision, HF.

timm (``timm.create_model(..., act_layer=...)``), torchvision (``activation_layer=``) and
HuggingFace (``ACT2FN``) build a fresh activation per site by calling a class, some of them with
``inplace=True``. :func:`act_layer` returns such a class for an actlang expression: each
instance is a compiled module with its own parameters; ``inplace`` is accepted and ignored (as
timm's memory-efficient activations do: a compiled activation never writes into its input).
:func:`register_activation` makes a library's string lookup find it (one dict entry).
"""

from __future__ import annotations

from typing import Any

from actlang.ast import Expr
from actlang.errors import ActlangError


def act_layer(
    expr: str | Expr,
    *,
    channels: int | None = None,
    channel_dim: int = 1,
    memory_efficient: bool = True,
    dialect: str | None = None,
    allow_constant: bool = False,
    name: str = "ActLayer",
) -> type:
    """A module class for ``expr``: ``cls()`` / ``cls(inplace=True)`` compiles a fresh instance.

    The expression is checked now, so a typo fails here and not inside a model constructor.
    ``channels`` (with ``channel_dim``) gives every instance per-channel parameters; the other
    options are :func:`actlang.compile`'s. The instances are ``ActivationModule``s.
    """
    from actlang.compiler.api import compile as compile_

    options = {"channels": channels, "channel_dim": channel_dim, "memory_efficient": memory_efficient}
    template = compile_(expr, dialect=dialect, allow_constant=allow_constant, **options)
    base = type(template)
    text = template.expression

    def __init__(self: Any, *args: Any, inplace: bool | None = None, **kwargs: Any) -> None:
        if args or kwargs:
            given = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            raise ActlangError(
                f"{name} for {text!r} takes only inplace= (ignored), got {given}; set channels= in actlang.act_layer"
            )
        base.__init__(self, **options)

    doc = f"actlang activation ``{text}``; ``inplace`` is accepted and ignored."
    return type(name, (base,), {"__init__": __init__, "__doc__": doc, "__module__": __name__, "__qualname__": name})


def register_activation(library: str, key: str, expr: str | Expr | None = None, **options: Any) -> type:
    """Make ``library``'s activation lookup find ``key`` (an actlang expression by default):
    ``"transformers"``/``"hf"`` adds it to ``transformers.activations.ACT2FN`` (so that
    ``hidden_act=key`` works), ``"timm"`` to the table behind ``timm.layers.create_act_layer``
    (timm lower-cases names). Returns the layer class (:func:`act_layer` with ``options``)."""
    cls = act_layer(key if expr is None else expr, **options)
    if library in ("transformers", "hf"):
        from transformers.activations import ACT2FN

        ACT2FN[key] = cls
    elif library == "timm":
        from timm.layers import create_act

        create_act._ACT_LAYER_DEFAULT[key.lower()] = cls  # the table get_act_layer reads
    else:
        raise ActlangError(f"unknown library {library!r}; expected 'transformers' (or 'hf') or 'timm'")
    return cls
