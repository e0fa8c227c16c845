"""Pure generated functions for TorchInductor: f, f with its partials, and the backward sweep.

:mod:`actlang.compiler.inductor` compiles these with ``torch.compile`` (one kernel each). They are
the statements the fused path already generates (:mod:`actlang.compiler.sources`, the chain rule
of :mod:`actlang.compiler.chain`), without buffer reuse (``out=`` writes would only hinder
inductor, which plans its own buffers) and without ``ctx``: functions of tensors to tensors.

x reaches them flattened to 1-D, or as (outer, C, inner) with the channels at dimension 1 for
per-channel parameters, so one compiled graph (dynamic sizes) serves every rank:

- ``value(x, *a)`` = f(x);
- ``forward(x, *a)`` = (f, ∂f/∂x[, ∂f/∂p]) for the ``derivatives`` strategy (saved for backward);
- ``backward(g, x, *a)`` = (g·∂f/∂x, Σ g·∂f/∂p, ...): f recomputed from x and a reverse sweep
  seeded with g, the parameters' gradients reduced over every dimension but the channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actlang.compiler import chain, sources
from actlang.compiler.codegen import Emitter, Layout, function_source
from actlang.compiler.templates import literal


@dataclass(frozen=True)
class Code:
    """The generated source of one pure function and its straight-line statements (for pricing)."""

    name: str
    text: str
    lines: tuple[str, ...]
    inputs: int  # x-sized tensors read
    outputs: int  # x-sized tensors written


def _layout(program: Any) -> Layout:
    # Per channel, x arrives as (outer, C, inner): the parameters broadcast along dimension 1.
    return Layout(param=lambda name: f"a_{name}", channel_dim=1 if program.per_channel else None,
                  scalar_params=not program.per_channel)  # fmt: skip


def _args(program: Any, *first: str) -> str:
    return ", ".join([*first, *(f"a_{n}" for n in program.params)])


def value_code(program: Any) -> Code:
    """``value(x, *a)``: f alone (inference, and the forward of the recompute strategy)."""
    emitter = Emitter(_layout(program))
    y = emitter.tensor(program.lowered)
    if y == "x":
        y = emitter.emit("x.clone()")
    text = function_source("value", _args(program, "x"), emitter.lines, y)
    return Code("value", text, tuple(emitter.lines), 1, 1)


def forward_code(program: Any, derivative: Any) -> Code | None:
    """``forward(x, *a)`` = (f, ∂f/∂x[, ∂f/∂p]): f and the partials backward needs, one kernel.

    None when it would save more than the allowance (two or more learned scalars) or a partial is
    a number (nothing to save: the recompute strategy is as cheap)."""
    names = list(program.params)
    if len(names) > 1:
        return None
    emitter = Emitter(_layout(program))
    y = emitter.tensor(program.lowered)
    if y == "x":
        y = emitter.emit("x.clone()")
    found = sources.partials(emitter, program, ["x", *names], "chain", None, derivative)
    if not all(is_tensor for _, is_tensor in found.values()):
        return None
    result = ", ".join([y, *(code for code, _ in found.values())])
    text = function_source("forward", _args(program, "x"), emitter.lines, result)
    return Code("forward", text, tuple(emitter.lines), 1, 1 + len(found))


def backward_code(program: Any, derivative: Any) -> Code:
    """``backward(g, x, *a)``: every gradient from g and x (f recomputed, reverse sweep seeded with g)."""
    emitter = Emitter(_layout(program))
    sweep = chain.adjoints(emitter, program.lowered, "g", derivative, "xp")
    dx = chain.combine(emitter, sweep.x)
    outputs = [dx if isinstance(dx, str) else emitter.emit(f"g * {literal(dx)}")]
    for name in program.params:
        outputs.append(_reduced(emitter, program, sweep.params.get(name, [])))
    result = ", ".join(outputs) if len(outputs) > 1 else f"({outputs[0]},)"
    text = function_source("backward", _args(program, "g", "x"), emitter.lines, result)
    return Code("backward", text, tuple(emitter.lines), 2, 1)


def saved_backward_code(program: Any) -> Code:
    """``backward(g, s_x, s_p, a_p)`` of the derivatives strategy with one learned scalar:
    g·∂f/∂x and Σ g·∂f/∂p in one kernel."""
    (name,) = program.params
    dims = "(0, 2)" if program.per_channel else ""
    lines = ["g_x = g * s_x", f"g_p = (g * s_p).sum({dims}).reshape(a_{name}.shape)"]
    text = function_source("saved_backward", f"g, s_x, s_p, a_{name}", lines, "g_x, g_p")
    return Code("saved_backward", text, tuple(lines), 3, 1)


def _reduced(emitter: Emitter, program: Any, parts: list[tuple[chain.Value, chain.Value]]) -> str:
    """Σ a·b over the tensor (per channel: over every dimension but 1), as the parameter's gradient."""
    dims = "(0, 2)" if program.per_channel else ""
    terms = []
    for a, b in parts:
        if a == 0.0 or b == 0.0:
            continue
        if isinstance(a, str) or isinstance(b, str):
            terms.append(f"({_code(a)} * {_code(b)})")
        else:  # both numbers: the product at every point of x
            terms.append(f"torch.full_like(x, {literal(float(a) * float(b))})")
    total = " + ".join(terms) or "torch.zeros_like(x)"
    shape = ".reshape(-1)" if program.per_channel else ""
    return emitter.emit(f"({total}).sum({dims}){shape}")


def _code(value: chain.Value) -> str:
    return value if isinstance(value, str) else literal(value)
